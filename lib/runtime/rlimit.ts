/** getrlimit(2) and setrlimit(2), as an adapter's FFI binding offers them. */
export interface RlimitCalls {
  getrlimit(resource: number, limits: BigUint64Array): number;
  setrlimit(resource: number, limits: BigUint64Array): number;
}

/**
 * struct rlimit is two rlim_t (64-bit on Linux x64/arm64 and macOS). Bun itself raises the soft
 * limit at start-up (seen: 1024 → the hard limit), so this mostly reads; under other hosts it raises.
 */
export function raiseNoFile(lib: RlimitCalls, resource: number): { soft: number; hard: number } | undefined {
  const limits = new BigUint64Array(2);
  if (lib.getrlimit(resource, limits) !== 0) return undefined;
  if (limits[0]! < limits[1]!) {
    const raised = new BigUint64Array([limits[1]!, limits[1]!]);
    if (lib.setrlimit(resource, raised) === 0) limits[0] = limits[1]!;
  }
  // RLIM_INFINITY is all ones: far more than any descriptor count.
  const cap = (value: bigint) => (value > 1n << 31n ? 2 ** 31 : Number(value));
  return { soft: cap(limits[0]!), hard: cap(limits[1]!) };
}
