/** What the OpenAPI benchmarks merge: loaded specs as ready providers, and the gateway's own part. */
import type { MergeBase, ProviderInput } from "../../lib/openapi/merge.ts";
import type { LoadedSpec } from "../../lib/openapi/spec.ts";
import { GATEWAY_COMPONENTS, GATEWAY_PATHS, GATEWAY_TAG_OBJECT } from "../../routes/openapi-gateway-paths.ts";

/** Each spec as a ready provider mounted at `/api/v1/<code>`. */
export function readyProviders(loaded: Array<{ code: string; spec: LoadedSpec }>): ProviderInput[] {
  return loaded.map(({ code, spec }) => ({
    code,
    name: code,
    namespace: `/api/v1/${code}`,
    status: "ready",
    spec,
  }));
}

/** The gateway's own routes, as the served document has them. */
export const BENCH_BASE: MergeBase = {
  title: "Gateway",
  version: "bench",
  servers: [{ url: "/" }],
  tag: GATEWAY_TAG_OBJECT,
  paths: GATEWAY_PATHS,
  components: GATEWAY_COMPONENTS,
};
