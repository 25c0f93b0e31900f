import { stringify as stringifyYaml } from "yaml";
import { nodeCrypto } from "../runtime/packages.ts";
import type { OpenApiDocument } from "./load.ts";

/** A built document, ready to send: bytes encoded once, an ETag per representation. */
export interface BuiltDocument {
  /** Which revision of the inputs it was built from. */
  revision: number;
  json: Uint8Array<ArrayBuffer>;
  jsonEtag: string;
  /** YAML is built on first use (most clients only ever ask for JSON). */
  yaml(): { body: Uint8Array<ArrayBuffer>; etag: string };
  /** How long the build took, in milliseconds. */
  buildMs: number;
}

/**
 * Builds the merged document only when the inputs changed (a new `revision`), and keeps its
 * serialized bytes so that serving it is a copy, not a merge.
 */
export class DocumentCache {
  readonly #build: () => OpenApiDocument;
  #current: BuiltDocument | undefined;

  constructor(build: () => OpenApiDocument) {
    this.#build = build;
  }

  get(revision: number): BuiltDocument {
    if (this.#current?.revision === revision) return this.#current;
    const started = performance.now();
    const document = this.#build();
    // Compact: the document is for programs (and /docs); at tens of megabytes, indentation doubles it.
    const json = new TextEncoder().encode(JSON.stringify(document));
    const hash = nodeCrypto().createHash("sha256").update(json).digest("base64url").slice(0, 32);
    let yaml: { body: Uint8Array<ArrayBuffer>; etag: string } | undefined;
    this.#current = {
      revision,
      json,
      jsonEtag: `"${hash}"`,
      yaml: () => {
        // Read back from the JSON rather than kept as objects: YAML is asked for rarely, and the
        // objects of a large document weigh several times its bytes. No anchors, no folding.
        if (!yaml) {
          const copy = JSON.parse(new TextDecoder().decode(json));
          const text = stringifyYaml(copy, { aliasDuplicateObjects: false, lineWidth: 0 });
          yaml = { body: new TextEncoder().encode(text), etag: `"${hash}-yaml"` };
        }
        return yaml;
      },
      buildMs: performance.now() - started,
    };
    return this.#current;
  }
}

/**
 * Whether an `If-None-Match` header matches `etag` (RFC 9110 §13.1.2: a list of entity tags or
 * `*`, compared weakly).
 */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === "*") return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((tag) => opaque(tag) === opaque(etag));
}
