/**
 * The merged document as a running gateway serves it: caching with ETags, YAML, each provider's
 * own spec, the lifecycle (ready, stopped, spec file changed), broken specs among good ones, and
 * the gateway's own routes described from the schemas that check them.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import type { OpenApiDocument } from "../lib/openapi/load.ts";
import { createApp } from "../routes/app.ts";
import {
  ActionAcceptedSchema,
  ElementsSchema,
  HealthSchema,
  LogsSchema,
  NotReadySchema,
  ProblemSchema,
  ProviderListSchema,
  ProviderSchema,
  ReadySchema,
  RuntimesSchema,
} from "../routes/schemas.ts";
import {
  addEchoProvider,
  cleanup,
  makeSpace,
  request,
  startInProcess,
  startUnderTest,
  waitFor,
  waitForStatus,
} from "./helpers.ts";
import { addSpecProvider, at, expectValid, operation } from "./openapi-helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

type XGateway = Record<
  string,
  { status: string; errors: string[]; warnings: string[]; spec: { source: string } | null }
>;

async function getDocument(url: string): Promise<OpenApiDocument> {
  const response = await request<OpenApiDocument>(`${url}/openapi.json`);
  expect(response.status).toBe(200);
  return response.body;
}

describe("serving the document", () => {
  test("/openapi.json has an ETag, answers 304 to a matching If-None-Match, and a new ETag once a provider stops", async () => {
    const space = makeSpace();
    addSpecProvider(space, "pets", "petstore-v3", "openapi.yaml");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "pets", "ready");

    const first = await request<OpenApiDocument>(`${gw.url}/openapi.json`);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("application/json");
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await request(`${gw.url}/openapi.json`, { headers: { "if-none-match": header } });
      expect({ header, status: again.status, body: again.text }).toEqual({ header, status: 304, body: "" });
      expect(again.headers.get("etag")).toBe(etag);
    }
    const stale = await request(`${gw.url}/openapi.json`, { headers: { "if-none-match": '"stale"' } });
    expect(stale.status).toBe(200);
    expect(stale.text).toBe(first.text);

    expect((await request(`${gw.url}/_gateway/providers/pets/stop`, { method: "POST" })).status).toBe(202);
    await waitForStatus(gw.url, "pets", "stopped");
    const after = await request<OpenApiDocument>(`${gw.url}/openapi.json`, {
      headers: { "if-none-match": etag },
    });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).not.toBe(etag);
    // A stopped provider keeps its paths, marked with its status.
    expect(operation(after.body, "pets_listPets")["x-gateway-status"]).toBe("stopped");
    expect((after.body["x-gateway"] as XGateway).pets!.status).toBe("stopped");
  });

  test("/openapi.yaml is the same document in YAML, with its own ETag", async () => {
    const space = makeSpace();
    addSpecProvider(space, "store", "petstore-expanded-v2", "swagger.json");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "store", "ready");
    const json = await request(`${gw.url}/openapi.json`);
    const yaml = await request<string>(`${gw.url}/openapi.yaml`);
    expect(yaml.status).toBe(200);
    expect(yaml.headers.get("content-type")).toStartWith("application/yaml");
    expect(parseYaml(yaml.text)).toEqual(json.body);
    const yamlEtag = yaml.headers.get("etag")!;
    expect(yamlEtag).not.toBe(json.headers.get("etag"));
    const cached = await request(`${gw.url}/openapi.yaml`, { headers: { "if-none-match": yamlEtag } });
    expect(cached.status).toBe(304);
  });

  test("the same providers give a byte-identical document on every request and every rebuild", async () => {
    const space = makeSpace();
    addSpecProvider(space, "a", "collide-a", "openapi.yaml");
    addSpecProvider(space, "b", "collide-b", "openapi.json");
    const gw = await startInProcess(space);
    await waitForStatus(gw.url, "a", "ready");
    await waitForStatus(gw.url, "b", "ready");
    const one = (await request(`${gw.url}/openapi.json`)).text;
    gw.gateway.revision++; // forces a rebuild from the same inputs
    const two = (await request(`${gw.url}/openapi.json`)).text;
    expect(two).toBe(one);
    await expectValid(JSON.parse(one));
  });
});

describe("providers' specs", () => {
  test("a spec file, an upstream /openapi.json and a Swagger 2.0 file all land in one valid document", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo"); // no spec: its own /openapi.json once ready
    addSpecProvider(space, "store", "petstore-expanded-v2", "swagger.json", {
      name: "Store",
      description: "Pets for sale",
    });
    addSpecProvider(space, "shelf", "external-v3", "openapi.yaml");
    const gw = await startUnderTest(space);
    for (const code of ["echo", "store", "shelf"]) await waitForStatus(gw.url, code, "ready");
    const doc = await waitFor("the echo provider's fetched spec", async () => {
      const body = await getDocument(gw.url);
      return body.paths!["/api/v1/echo/items"] ? body : undefined;
    });
    await expectValid(doc);
    expect(operation(doc, "echo_listItems")).toBeDefined();
    expect(operation(doc, "store_addPet").requestBody).toBeDefined();
    expect(operation(doc, "shelf_listCategories")).toBeDefined();
    const x = doc["x-gateway"] as XGateway;
    expect(x.echo!.spec!.source).toBe(`GET ${await getProviderUpstream(gw.url, "echo")}/openapi.json`);
    expect(x.store!.spec!.source).toBe("./swagger.json");
    const tags = doc.tags as Array<{ name: string; description: string }>;
    expect(tags.find((tag) => tag.name === "Store")!.description).toBe("Pets for sale");
  });

  test("an upstream spec is fetched while another provider is still starting (deferred at most a second)", async () => {
    const space = makeSpace();
    addEchoProvider(space, "quick");
    // Never ready: a start-up wave that never ends must not hold the other specs back for good.
    addEchoProvider(space, "stuck", { env: { READY_FLAG: "/nonexistent/flag" } });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "quick", "ready");
    const doc = await waitFor("the quick provider's fetched spec", async () => {
      const body = await getDocument(gw.url);
      return body.paths!["/api/v1/quick/items"] ? body : undefined;
    });
    expect(operation(doc, "quick_listItems")).toBeDefined();
    const stuck = await request<{ status: string }>(`${gw.url}/_gateway/providers/stuck`);
    expect(stuck.body.status).toBe("starting");
  });

  test("a broken or invalid spec never breaks the document: it is listed with its errors, the rest merge", async () => {
    const space = makeSpace();
    addSpecProvider(space, "good", "petstore-v3", "openapi.yaml");
    addSpecProvider(space, "yaml", "broken/invalid-yaml", "openapi.yaml");
    addSpecProvider(space, "dangling", "broken/dangling-ref", "openapi.yaml");
    addSpecProvider(space, "missing", "broken/missing-file", "openapi.yaml");
    const gw = await startUnderTest(space);
    for (const code of ["good", "yaml", "dangling", "missing"]) await waitForStatus(gw.url, code, "ready");
    const doc = await getDocument(gw.url);
    await expectValid(doc);
    expect(operation(doc, "good_listPets")).toBeDefined();
    const x = doc["x-gateway"] as XGateway;
    expect(x.yaml!.errors).toEqual([expect.stringContaining("Cannot parse ./openapi.yaml")]);
    expect(x.dangling!.errors).toEqual(["Can't resolve reference: #/components/schemas/Missing"]);
    expect(x.missing!.errors).toEqual([expect.stringContaining("./schemas/nope.yaml: no such file")]);
    for (const code of ["yaml", "dangling", "missing"]) {
      expect(Object.keys(doc.paths!).filter((path) => path.startsWith(`/api/v1/${code}/`))).toEqual([]);
    }
    // The logs say so too, naming the provider.
    expect(gw.logs.some((line) => line.includes('The spec of provider \\"dangling\\"'))).toBe(true);
  });

  test("/_gateway/providers/:code/openapi.json is one provider's spec as the gateway sees it", async () => {
    const space = makeSpace();
    addSpecProvider(space, "store", "petstore-expanded-v2", "swagger.json");
    addSpecProvider(space, "dangling", "broken/dangling-ref", "openapi.yaml");
    addSpecProvider(space, "late", "petstore-v3", "openapi.yaml", {
      env: { READY_FLAG: "/nonexistent/flag" },
    });
    addEchoProvider(space, "nospec", { env: { READY_FLAG: "/nonexistent/flag" } });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "store", "ready");

    const store = await request<OpenApiDocument>(`${gw.url}/_gateway/providers/store/openapi.json`);
    expect(store.status).toBe(200);
    expect(store.body.openapi).toStartWith("3.1");
    expect(Object.keys(at(store.body, "components", "schemas"))).toEqual(["Pet", "NewPet", "ErrorModel"]);
    expect(Object.keys(store.body.paths!)).toEqual(["/pets", "/pets/{id}"]);
    expect(store.body["x-gateway"]).toEqual({
      source: "./swagger.json",
      openapi: "2.0",
      valid: true,
      errors: [],
      left_out: [],
      notes: [],
      warnings: [],
    });

    const dangling = await request<OpenApiDocument>(`${gw.url}/_gateway/providers/dangling/openapi.json`);
    expect(dangling.status).toBe(200);
    expect(dangling.body.openapi).toBe("3.0.3"); // as read: it was never upgraded
    expect(dangling.body["x-gateway"]).toMatchObject({
      valid: false,
      errors: ["Can't resolve reference: #/components/schemas/Missing"],
    });

    // A spec file is read at load, whether the provider is ready or not.
    const late = await request<OpenApiDocument>(`${gw.url}/_gateway/providers/late/openapi.json`);
    expect(late.status).toBe(200);
    const nospec = await request(`${gw.url}/_gateway/providers/nospec/openapi.json`);
    expect(nospec.status).toBe(404);
    expect(ProblemSchema.parse(nospec.body).detail).toContain("has no spec");
    const unknown = await request(`${gw.url}/_gateway/providers/nope/openapi.json`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toStartWith("application/problem+json");
  });

  test("editing the spec file, or a file it refers to, rebuilds the document", async () => {
    const space = makeSpace();
    const dir = addSpecProvider(space, "shelf", "external-v3", "openapi.yaml");
    const gw = await startUnderTest(space, { watch: true });
    await waitForStatus(gw.url, "shelf", "ready");
    const before = await request(`${gw.url}/openapi.json`);
    expect(operation(before.body as OpenApiDocument, "shelf_listItems")).toBeDefined();

    // The main file: a new path appears.
    const main = join(dir, "openapi.yaml");
    const original = readFileSync(main, "utf8");
    writeFileSync(
      main,
      original.replace(
        "paths:\n",
        "paths:\n  /added:\n    get:\n      operationId: added\n      responses: { '200': { description: ok } }\n",
      ),
    );
    const added = await waitFor("the added path", async () => {
      const doc = await getDocument(gw.url);
      return doc.paths!["/api/v1/shelf/added"] ? doc : undefined;
    });
    expect(operation(added, "shelf_added")).toBeDefined();

    // A file it refers to: the bundled schema changes.
    writeFileSync(
      join(dir, "schemas", "money.yaml"),
      "type: object\nproperties:\n  cents: { type: integer }\n",
    );
    await waitFor("the changed money schema", async () => {
      const doc = await getDocument(gw.url);
      const money = (doc.components!.schemas as Record<string, { properties?: Record<string, unknown> }>)
        .shelf_money;
      return money?.properties?.cents !== undefined;
    });

    // Broken: the provider is listed with the error and loses its paths; fixed: back.
    writeFileSync(main, "openapi: 3.0.3\npaths: [\n");
    const broken = await waitFor("the parse error", async () => {
      const doc = await getDocument(gw.url);
      return (doc["x-gateway"] as XGateway).shelf!.errors.length > 0 ? doc : undefined;
    });
    expect(Object.keys(broken.paths!).some((path) => path.startsWith("/api/v1/shelf/"))).toBe(false);
    await expectValid(broken);
    writeFileSync(main, original);
    await waitFor("the spec to load again", async () => {
      const doc = await getDocument(gw.url);
      return (
        doc.paths!["/api/v1/shelf/items"] !== undefined && doc.paths!["/api/v1/shelf/added"] === undefined
      );
    });
  });

  test("with watching off (--no-watch), a spec file change is not picked up", async () => {
    const space = makeSpace();
    const dir = addSpecProvider(space, "pets", "petstore-v3", "openapi.yaml");
    const gw = await startInProcess(space, { watch: false });
    await waitForStatus(gw.url, "pets", "ready");
    const before = (await request(`${gw.url}/openapi.json`)).text;
    writeFileSync(join(dir, "openapi.yaml"), "openapi: 3.0.3\npaths: [\n");
    // A rebuild for another reason reads the entries as they are: still the old spec.
    gw.gateway.revision++;
    expect((await request(`${gw.url}/openapi.json`)).text).toBe(before);
  });
});

describe("the gateway's own routes", () => {
  test("every route the gateway serves is in the document", async () => {
    const space = makeSpace();
    const gw = await startInProcess(space);
    // No provider: ready, in the shape the document gives.
    const ready = await request(`${gw.url}/readyz`);
    expect(ReadySchema.parse(ready.body)).toEqual({ status: "ready" });
    const doc = await getDocument(gw.url);
    const routes = createApp(gw.gateway, { version: "test" })
      .routes.filter(
        (route) => route.method !== "ALL" && !/^\/(docs|_gateway\/ui)\/assets\//.test(route.path),
      )
      .map((route) => ({
        method: route.method.toLowerCase(),
        path: route.path.replace(/:([a-z]+)/g, "{$1}").replace(/\/\*$/, "/{file}"),
      }));
    expect(routes.length).toBeGreaterThan(10);
    for (const { method, path } of routes) {
      expect({
        method,
        path,
        documented: Boolean((doc.paths![path] as Record<string, unknown>)?.[method]),
      }).toEqual({
        method,
        path,
        documented: true,
      });
    }
  });

  test("real answers of the admin API parse with the schemas the document is made from", async () => {
    const space = makeSpace();
    addEchoProvider(space, "up", { element: { tag: "core-up", source: "./echo.ts" } });
    addEchoProvider(space, "waiting", { env: { READY_FLAG: "/nonexistent/flag" } });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "up", "ready");
    const parse = async <T extends z.ZodType>(
      schema: T,
      path: string,
      status: number,
      init?: RequestInit,
    ) => {
      const response = await request(`${gw.url}${path}`, init);
      expect({ path, status: response.status }).toEqual({ path, status });
      const parsed = schema.safeParse(response.body);
      expect({ path, issues: parsed.error?.issues ?? [] }).toEqual({ path, issues: [] });
    };
    await parse(HealthSchema, "/healthz", 200);
    await parse(NotReadySchema, "/readyz", 503);
    await parse(ProviderListSchema, "/_gateway/providers", 200);
    await parse(ProviderSchema, "/_gateway/providers/up", 200);
    await parse(ProblemSchema, "/_gateway/providers/nope", 404);
    await parse(LogsSchema, "/_gateway/providers/up/logs?tail=5", 200);
    await parse(ProblemSchema, "/_gateway/providers/up/logs?tail=0", 400); // TailQuery refuses it
    await parse(RuntimesSchema, "/_gateway/runtimes", 200);
    await parse(ElementsSchema, "/_gateway/elements", 200);
    await parse(ActionAcceptedSchema, "/_gateway/providers/waiting/stop", 202, { method: "POST" });
    await waitForStatus(gw.url, "waiting", "stopped");
    const doc = await getDocument(gw.url);
    await expectValid(doc);
  });
});

async function getProviderUpstream(url: string, code: string): Promise<string> {
  const view = (await request<{ upstream: string }>(`${url}/_gateway/providers/${code}`)).body;
  return view.upstream;
}
