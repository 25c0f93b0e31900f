/**
 * `node:crypto`, loaded on first use. A gateway that mints no token, opens no tunnel and caches
 * no document never needs it, and importing it costs about 0.45 ms of every start-up (measured in
 * a compiled binary). `process.getBuiltinModule` loads it synchronously on Bun and Deno alike.
 */
type NodeCrypto = typeof import("node:crypto");

let loaded: NodeCrypto | undefined;

export function nodeCrypto(): NodeCrypto {
  loaded ??= process.getBuiltinModule("node:crypto") as NodeCrypto;
  return loaded;
}
