/**
 * The Scalar OpenAPI parser (validator and upgrader), loaded on first use: it pulls in a JSON
 * Schema validator whose module set costs start-up time the gateway should not pay before its
 * listener opens, nor at all when no provider has a spec.
 */
type ScalarParser = typeof import("@scalar/openapi-parser");

let loading: Promise<ScalarParser> | undefined;

export function scalarParser(): Promise<ScalarParser> {
  loading ??= import("@scalar/openapi-parser");
  return loading;
}
