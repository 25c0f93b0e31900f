/**
 * Bun's built-in YAML parser, where the runtime has one: it reads a manifest in microseconds,
 * where the `yaml` package's first parse costs tens of milliseconds of start-up. It reports errors
 * without a line, so callers fall back to the `yaml` package to explain a failure.
 */
export const nativeYamlParse: ((text: string) => unknown) | undefined = (
  globalThis as { Bun?: { YAML?: { parse(text: string): unknown } } }
).Bun?.YAML?.parse;

type YamlPackage = typeof import("yaml");
/** Bun's `require` in an ES module (its bundler puts the package in the executable); absent on Deno. */
declare const require: ((id: "yaml") => YamlPackage) | undefined;
let yaml: YamlPackage | undefined;

/**
 * The `yaml` package, loaded on first use: a start where every file parses natively and nothing
 * is written needs none of it, and evaluating it costs about 1 ms of every start (measured in the
 * compiled gateway). Synchronous, because its callers (manifests, the registry, the config file)
 * are: Bun's `require`, else (Deno) `createRequire` from `node:module`.
 */
export function yamlPackage(): YamlPackage {
  if (!yaml) {
    if (typeof require === "function") yaml = require("yaml");
    else {
      const { createRequire } = process.getBuiltinModule("node:module") as typeof import("node:module");
      yaml = createRequire(import.meta.url)("yaml") as YamlPackage;
    }
  }
  return yaml;
}
