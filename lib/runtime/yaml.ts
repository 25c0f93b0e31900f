/**
 * Bun's built-in YAML parser, where the runtime has one: it reads a manifest in microseconds,
 * where the `yaml` package's first parse costs tens of milliseconds of start-up. It reports errors
 * without a line, so callers fall back to the `yaml` package to explain a failure.
 */
export const nativeYamlParse: ((text: string) => unknown) | undefined = (
  globalThis as { Bun?: { YAML?: { parse(text: string): unknown } } }
).Bun?.YAML?.parse;
