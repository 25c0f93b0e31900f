import { createHash } from "node:crypto";
import { Hono } from "hono";
import { stringify as stringifyYaml } from "yaml";
import type { Gateway } from "../lib/gateway.ts";
import { mergeSpecs } from "../lib/openapi/merge.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";
import { GATEWAY_PATHS, GATEWAY_SCHEMAS } from "./openapi-gateway-paths.ts";

interface CachedDocument {
  revision: number;
  json: string;
  yaml: string;
  etag: string;
}

/** `/openapi.json` and `/openapi.yaml`: one document for every provider, rebuilt only when something changed. */
export function openApiRoutes(gateway: Gateway, version: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let cached: CachedDocument | undefined;
  const current = (): CachedDocument => {
    if (cached && cached.revision === gateway.revision) return cached;
    const revision = gateway.revision;
    const document = mergeSpecs(
      [...gateway.providers.values()].map((entry) => {
        const m = entry.discovered.manifest;
        return {
          code: m.code,
          name: m.name,
          description: m.description,
          version: m.version,
          namespace: m.namespace,
          status: entry.supervisor.status,
          spec: entry.spec,
          warnings: entry.specWarnings,
        };
      }),
      {
        title: "Gateway",
        version,
        serverUrl: gateway.url || "/",
        gatewayPaths: GATEWAY_PATHS,
        gatewaySchemas: GATEWAY_SCHEMAS,
      },
    );
    const json = JSON.stringify(document, null, 2);
    const etag = `"${createHash("sha1").update(json).digest("base64url")}"`;
    cached = { revision, json, yaml: stringifyYaml(document), etag };
    return cached;
  };
  const serve = (format: "json" | "yaml") => (c: { req: { header(name: string): string | undefined } }) => {
    const doc = current();
    if (c.req.header("if-none-match") === doc.etag)
      return new Response(null, { status: 304, headers: { etag: doc.etag } });
    return new Response(format === "json" ? doc.json : doc.yaml, {
      headers: {
        "content-type": format === "json" ? "application/json" : "application/yaml",
        etag: doc.etag,
        "cache-control": "no-cache",
      },
    });
  };
  app.get("/openapi.json", serve("json"));
  app.get("/openapi.yaml", serve("yaml"));
  app.get("/_gateway/providers/:code/openapi.json", (c) => {
    const entry = gateway.providers.get(c.req.param("code"));
    if (!entry) throw new HttpProblem(404, `No provider "${c.req.param("code")}"`);
    if (!entry.spec) {
      throw new HttpProblem(
        404,
        `Provider "${entry.supervisor.code}" has no spec: ${entry.specWarnings.join("; ") || "none loaded yet"}`,
      );
    }
    return c.json(entry.spec);
  });
  return app;
}
