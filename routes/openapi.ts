import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { DocumentCache, etagMatches } from "../lib/openapi/cache.ts";
import { type MergeBase, mergeSpecs, type ProviderInput } from "../lib/openapi/merge.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";
import { GATEWAY_COMPONENTS, GATEWAY_PATHS, GATEWAY_TAG_OBJECT } from "./openapi-gateway-paths.ts";

/**
 * `/openapi.json` and `/openapi.yaml`: one document for every provider, rebuilt only when the
 * gateway's revision changed, served from bytes with an ETag; and each provider's own spec.
 */
export function openApiRoutes(gateway: Gateway, version: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const cache = new DocumentCache(() => mergeSpecs(providerInputs(gateway), mergeBase(gateway, version)));

  const send = (
    ifNoneMatch: string | undefined,
    body: Uint8Array<ArrayBuffer>,
    etag: string,
    contentType: string,
  ) => {
    const headers = { etag, "cache-control": "no-cache" };
    if (etagMatches(ifNoneMatch, etag)) return new Response(null, { status: 304, headers });
    return new Response(body, { headers: { ...headers, "content-type": contentType } });
  };
  // A spec file still waiting to load (at start-up they load after the listener opens) is waited
  // for: the document is never served without a provider whose spec is on disk.
  app.get("/openapi.json", async (c) => {
    await gateway.specFilesLoaded();
    const built = cache.get(gateway.revision);
    return send(c.req.header("if-none-match"), built.json, built.jsonEtag, "application/json");
  });
  app.get("/openapi.yaml", async (c) => {
    await gateway.specFilesLoaded();
    const { body, etag } = cache.get(gateway.revision).yaml();
    return send(c.req.header("if-none-match"), body, etag, "application/yaml; charset=utf-8");
  });

  app.get("/_gateway/providers/:code/openapi.json", async (c) => {
    await gateway.specFilesLoaded();
    const code = c.req.param("code");
    const entry = gateway.providers.get(code);
    if (!entry) throw new HttpProblem(404, `No provider "${code}"; GET /_gateway/providers lists them`);
    const loaded = entry.openapi;
    const document = loaded?.document ?? loaded?.input;
    if (!loaded || !document) {
      const why = loaded
        ? [...loaded.errors, ...loaded.warnings, ...loaded.notes].join("; ")
        : "none loaded yet";
      throw new HttpProblem(404, `Provider "${code}" has no spec: ${why}`);
    }
    return c.json({
      ...document,
      "x-gateway": {
        source: loaded.source,
        openapi: loaded.inputVersion ?? null,
        valid: loaded.document !== undefined,
        errors: loaded.errors,
        warnings: loaded.warnings,
        left_out: loaded.leftOut,
        notes: loaded.notes,
      },
    });
  });
  return app;
}

function providerInputs(gateway: Gateway): ProviderInput[] {
  return [...gateway.providers.values()].map((entry) => {
    const m = entry.discovered.manifest;
    const status = entry.supervisor.status;
    const notes: string[] = [];
    if (m.spec === false) notes.push("No spec: the manifest says spec: false");
    else if (!entry.openapi && !m.spec) {
      notes.push(
        entry.launchable || m.runtime === "external"
          ? "No spec yet: GET <upstream>/openapi.json is tried once the provider is ready"
          : "No spec: the manifest names none and the gateway does not run this provider",
      );
    }
    return {
      code: m.code,
      name: m.name,
      description: m.description,
      version: m.version,
      namespace: m.namespace,
      status,
      spec: entry.mounted ? entry.openapi : undefined,
      notes: entry.mounted ? notes : ["Not routed: its namespace conflicts with another provider's"],
    };
  });
}

function mergeBase(gateway: Gateway, version: string): MergeBase {
  const servers: MergeBase["servers"] = [
    { url: "/", description: "This gateway (relative to where this document is served)" },
  ];
  if (gateway.url) servers.push({ url: gateway.url, description: "This gateway, where it listens" });
  return {
    title: "Gateway",
    version,
    description:
      "Every provider's API under its namespace, and the gateway's own routes. `x-gateway` lists each provider's status and what is wrong with its spec, if anything.",
    servers,
    tag: GATEWAY_TAG_OBJECT,
    paths: GATEWAY_PATHS,
    components: GATEWAY_COMPONENTS,
  };
}
