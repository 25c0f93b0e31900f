/** JSON Pointers (RFC 6901) as `$ref` fragments use them: `#/components/schemas/Pet`. */

/** The segments of a pointer (`/a/b~1c` → `["a", "b/c"]`); the fragment may be percent-encoded (RFC 3986). */
export function parsePointer(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return pointer === "/" ? [""] : [];
  if (!pointer.startsWith("/"))
    throw new Error(`Cannot read JSON pointer "${pointer}" as it does not start with /`);
  let decoded = pointer;
  try {
    decoded = decodeURIComponent(pointer);
  } catch {
    // A literal % in a name: take the pointer as it is.
  }
  return decoded
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** Escapes one segment (`~` → `~0`, `/` → `~1`). */
export function escapeSegment(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** `["components", "schemas", "Pet"]` → `/components/schemas/Pet`. */
export function formatPointer(segments: readonly string[]): string {
  return segments.map((segment) => `/${escapeSegment(segment)}`).join("");
}

/** The value at `segments` inside `root`, or `undefined` when there is none. */
export function getAt(root: unknown, segments: readonly string[]): unknown {
  let node = root;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      if (!/^(0|[1-9]\d*)$/.test(segment)) return undefined;
      node = node[Number(segment)];
    } else if (node && typeof node === "object" && Object.hasOwn(node, segment)) {
      node = (node as Record<string, unknown>)[segment];
    } else return undefined;
  }
  return node;
}

/** Whether `value` is a plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A `$ref` to `segments` of this document: `#` and the pointer, with what a URI fragment may not
 * hold (`{`, `}`, spaces...) percent-encoded, so the reference is a valid URI reference.
 */
export function refTo(segments: readonly string[]): string {
  return `#${encodeURI(formatPointer(segments))}`;
}
