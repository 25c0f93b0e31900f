import type { OpenApiDocument } from "./load.ts";

export interface ProviderSpec {
  code: string;
  name: string;
  description?: string;
  version?: string;
  namespace: string;
  status: string;
  spec?: OpenApiDocument;
  warnings: string[];
}

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

/**
 * Merges provider specs into one OpenAPI 3.1 document: each provider's paths under its
 * namespace, its components renamed `<code>_<Name>` (with every `$ref` and security requirement
 * pointing at the renamed one) so two providers' `Item` schemas never clobber each other.
 */
export function mergeSpecs(
  providers: ProviderSpec[],
  base: {
    title: string;
    version: string;
    serverUrl: string;
    gatewayPaths: Record<string, unknown>;
    gatewaySchemas: Record<string, unknown>;
  },
): OpenApiDocument {
  const paths: Record<string, unknown> = { ...base.gatewayPaths };
  const components: Record<string, Record<string, unknown>> = {
    schemas: Object.fromEntries(
      Object.entries(base.gatewaySchemas).map(([name, schema]) => [`gateway_${name}`, schema]),
    ),
  };
  const tags: Array<Record<string, unknown>> = [{ name: "gateway", description: "The gateway's own routes" }];
  const xGateway: Record<string, unknown> = {};
  for (const provider of [...providers].sort((a, b) => (a.code < b.code ? -1 : 1))) {
    tags.push({ name: provider.name, description: provider.description ?? `Provider ${provider.code}` });
    xGateway[provider.code] = {
      code: provider.code,
      status: provider.status,
      version: provider.version ?? null,
      namespace: provider.namespace,
      warnings: provider.warnings,
    };
    if (!provider.spec) continue;
    const renamed = renameRefs(provider.spec, provider.code) as OpenApiDocument;
    for (const [type, entries] of Object.entries(renamed.components ?? {})) {
      if (!entries || typeof entries !== "object") continue;
      components[type] ??= {};
      const target = components[type];
      for (const [name, value] of Object.entries(entries)) target[`${provider.code}_${name}`] = value;
    }
    for (const [path, item] of Object.entries(renamed.paths ?? {})) {
      const operations: Record<string, unknown> = {};
      for (const [key, value] of Object.entries((item ?? {}) as Record<string, unknown>)) {
        if (HTTP_METHODS.has(key) && value && typeof value === "object") {
          const operation = { ...(value as Record<string, unknown>) };
          operation.tags = [provider.name];
          if (typeof operation.operationId === "string") {
            operation.operationId = `${provider.code}_${operation.operationId}`;
          }
          operation["x-gateway-status"] = provider.status;
          operations[key] = operation;
        } else operations[key] = value;
      }
      paths[provider.namespace + (path === "/" ? "" : path)] = operations;
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: base.title, version: base.version },
    servers: [{ url: base.serverUrl }],
    tags,
    paths,
    components,
    "x-gateway": xGateway,
  };
}

/** Deep copy of `value` with local component refs and security scheme names prefixed by `code_`. */
function renameRefs(value: unknown, code: string, key?: string): unknown {
  if (Array.isArray(value)) {
    if (key === "security") {
      return value.map((requirement) =>
        requirement && typeof requirement === "object"
          ? Object.fromEntries(
              Object.entries(requirement).map(([name, scopes]) => [`${code}_${name}`, scopes]),
            )
          : requirement,
      );
    }
    return value.map((item) => renameRefs(item, code));
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if ((k === "$ref" || key === "mapping") && typeof v === "string") out[k] = prefixRef(v, code);
      else out[k] = renameRefs(v, code, k);
    }
    return out;
  }
  return value;
}

function prefixRef(ref: string, code: string): string {
  const match = /^#\/components\/([^/]+)\/(.+)$/.exec(ref);
  return match ? `#/components/${match[1]}/${code}_${match[2]}` : ref;
}
