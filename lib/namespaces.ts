/** Paths the gateway serves itself; no namespace may sit on or under them, nor above them. */
export const RESERVED_PATHS = [
  "/_gateway",
  "/assets",
  "/healthz",
  "/readyz",
  "/openapi.json",
  "/openapi.yaml",
  "/docs",
  "/metrics",
] as const;

/** True when `a` equals `b` or one is a segment-exact prefix of the other. */
export function pathsOverlap(a: string, b: string): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return long === short || long.startsWith(`${short}/`);
}

/** Why `namespace` may not be used given those already taken, or `undefined` if it may. */
export function namespaceConflict(
  namespace: string,
  taken: Iterable<{ code: string; namespace: string }>,
): string | undefined {
  if (namespace === "/") return `namespace "/" would shadow every route; choose a path such as /api/v1/name`;
  for (const reserved of RESERVED_PATHS) {
    if (pathsOverlap(namespace, reserved)) {
      return `namespace "${namespace}" overlaps the gateway's reserved path ${reserved}; choose another namespace`;
    }
  }
  for (const other of taken) {
    if (pathsOverlap(namespace, other.namespace)) {
      return `namespace "${namespace}" overlaps "${other.namespace}" of provider "${other.code}"; give one of them another namespace`;
    }
  }
  return undefined;
}
