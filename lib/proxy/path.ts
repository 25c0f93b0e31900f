/**
 * Request-target normalization for routing (RFC 3986 §6.2.2): percent-encoded unreserved
 * characters decoded, dot segments removed (`..`, `%2e%2e`, `.%2e` alike). The router decides on
 * this form and the provider receives exactly this form, so the two can never disagree on which
 * namespace a request is in.
 */

/** `path` is the normalized path; `rawPath` the path as the client wrote it (the same string when nothing changed). */
export type NormalizedTarget =
  | { ok: true; path: string; rawPath: string; query: string }
  | { ok: false; reason: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** Anything that needs a closer look: escapes, a possible dot segment, characters refused raw. */
const NEEDS_WORK = /[%\\#\x00-\x20\x7f]|\/\.\.?(?:\/|$)/;

/** Normalizes an origin-form request-target (`/path?query`). The query is kept byte for byte. */
export function normalizeTarget(target: string): NormalizedTarget {
  if (target.charCodeAt(0) !== 0x2f)
    return { ok: false, reason: "The request-target must be a path starting with /" };
  const q = target.indexOf("?");
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? "" : target.slice(q);
  if (query.includes("#")) return { ok: false, reason: "A fragment (#) is never sent to a server" };
  // The common case: nothing to decode, no dot segments, nothing refused. One scan, no rewriting.
  if (!NEEDS_WORK.test(rawPath)) return { ok: true, path: rawPath, rawPath, query };
  let decoded = "";
  let plain = true;
  for (let i = 0; i < rawPath.length; i++) {
    const code = rawPath.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f || code === 0x23 || code === 0x5c) {
      return {
        ok: false,
        reason: `The path holds a character that is not allowed raw: 0x${code.toString(16).padStart(2, "0")}`,
      };
    }
    if (code === 0x25) {
      const hex = rawPath.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex))
        return { ok: false, reason: "The path holds a malformed percent-encoding" };
      const char = String.fromCharCode(Number.parseInt(hex, 16));
      plain = false;
      decoded += UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
      i += 2;
    } else decoded += rawPath[i];
  }
  const hasDotSegment = /\/\.\.?(\/|$)/.test(decoded);
  // The common case (no escapes, no dot segments) needs no rewriting.
  if (plain && !hasDotSegment) return { ok: true, path: rawPath, rawPath, query };
  return { ok: true, path: hasDotSegment ? removeDotSegments(decoded) : decoded, rawPath, query };
}

/** RFC 3986 §5.2.4, keeping empty segments (`//`) as they are. */
export function removeDotSegments(path: string): string {
  const segments = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === ".") {
      if (last) out.push("");
    } else if (segment === "..") {
      out.pop();
      if (last) out.push("");
    } else out.push(segment);
  }
  return `/${out.join("/")}`;
}

/** True when the path hides a `/`, `\` or NUL in percent-encoding (never valid where a namespace is matched). */
export function hasEncodedSeparator(path: string): boolean {
  return /%(2f|5c|00)/i.test(path);
}
