/**
 * Modules loaded on first use, synchronously: a start that never needs one never evaluates it.
 * Node built-ins come through `process.getBuiltinModule` (Bun and Deno alike). For npm packages,
 * Bun's `require` works in an ES module (its bundler puts the package in the
 * executable and runs it on the first call); Deno has no `require` in ES modules, so there the
 * package comes through `createRequire` from `node:module`. Each package needs its own literal
 * `require("…")` for the bundler to find it.
 */

type YamlPackage = typeof import("yaml");
type IpaddrPackage = typeof import("ipaddr.js");
/** Bun's `require` in an ES module; absent on Deno. */
declare const require: (<T>(id: string) => T) | undefined;

function denoRequire<T>(id: string): T {
  const { createRequire } = process.getBuiltinModule("node:module") as typeof import("node:module");
  return createRequire(import.meta.url)(id) as T;
}

let yaml: YamlPackage | undefined;
let ipaddr: IpaddrPackage | undefined;
let crypto: typeof import("node:crypto") | undefined;

/**
 * `node:crypto`: a gateway that mints no token, opens no tunnel and caches no document never
 * needs it (importing it costs about 0.45 ms of every start, measured in a compiled binary).
 */
export function nodeCrypto(): typeof import("node:crypto") {
  crypto ??= process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
  return crypto;
}

/**
 * `node:dns`'s promises: a gateway with no external provider and no `--resolver` never needs
 * them (importing `node:dns` costs 0.24–0.48 ms of every start, measured).
 */
export function dnsPromises(): typeof import("node:dns").promises {
  return (process.getBuiltinModule("node:dns") as typeof import("node:dns")).promises;
}

/**
 * The `yaml` package: manifests and the registry parse natively (lib/runtime/yaml.ts), so it is
 * needed only to explain an error, to write the registry, or for a config file or
 * `runtimes.yaml`. Evaluating it costs about 1 ms (measured in the compiled gateway).
 */
export function yamlPackage(): YamlPackage {
  yaml ??= typeof require === "function" ? require<YamlPackage>("yaml") : denoRequire<YamlPackage>("yaml");
  return yaml;
}

/**
 * `ipaddr.js`, for the address rules of external agents (lib/external/addresses.ts): a gateway
 * with no external provider and no `--external-allow` never needs it (0.25–0.55 ms of import).
 */
export function ipaddrPackage(): IpaddrPackage {
  ipaddr ??=
    typeof require === "function"
      ? require<IpaddrPackage>("ipaddr.js")
      : denoRequire<IpaddrPackage>("ipaddr.js");
  return ipaddr;
}
