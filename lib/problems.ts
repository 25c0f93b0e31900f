/**
 * Something the operator should hear about while the gateway reads its configuration: a
 * manifest, runtimes file, registry or spec that did not load, or loaded with a caveat. The
 * facts are fields, so readers (logs, `check`, `smoke`, `GET /_gateway/problems`) never parse
 * the message back.
 */
export interface Problem {
  /** `error`: something was skipped, refused, or kept at its last good version; `warn`: it loaded, with a caveat. */
  level: "warn" | "error";
  /** The provider concerned, when known. */
  code?: string;
  /** The file concerned, when there is one. */
  file?: string;
  /** The field concerned (dotted path), when there is one. */
  field?: string;
  /** A full sentence: what is wrong, where, and what to do. */
  message: string;
}
