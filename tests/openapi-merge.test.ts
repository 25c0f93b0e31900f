/**
 * The merged document, built from real-world fixture specs (the OpenAPI Initiative's Petstore
 * family, links, callbacks, webhooks) and ones written to collide: every merged document here must
 * pass the same validator its inputs passed.
 */
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import type { OpenApiDocument } from "../lib/openapi/load.ts";
import { rewriteProvider } from "../lib/openapi/rewrite.ts";
import type { LoadedSpec } from "../lib/openapi/spec.ts";
import { TailQuery } from "../routes/schemas.ts";
import {
  at,
  expectValid,
  loadFixture,
  merge,
  operation,
  operations,
  provider,
  valuesOf,
} from "./openapi-helpers.ts";

const REAL_WORLD = [
  ["petstore-v3", "openapi.yaml"],
  ["petstore-expanded-v3", "openapi.yaml"],
  ["petstore-v2", "swagger.yaml"],
  ["petstore-expanded-v2", "swagger.json"],
  ["petstore-separate-v2", "spec/swagger.yaml"],
  ["links-v3", "openapi.yaml"],
  ["callbacks-v3", "openapi.yaml"],
  ["webhooks-v31", "openapi.yaml"],
  ["external-v3", "openapi.yaml"],
  ["nullable-v30", "openapi.yaml"],
  ["collide-a", "openapi.yaml"],
  ["collide-b", "openapi.json"],
] as const;

async function loadAll(): Promise<Map<string, LoadedSpec>> {
  const specs = new Map<string, LoadedSpec>();
  for (const [dir, file] of REAL_WORLD) specs.set(dir, await loadFixture(dir, file));
  return specs;
}

describe("real-world specs", () => {
  test("every fixture spec validates as its own version and loads as OpenAPI 3.1", async () => {
    for (const [dir, spec] of await loadAll()) {
      expect({ dir, errors: spec.errors }).toEqual({ dir, errors: [] });
      expect(spec.document?.openapi).toStartWith("3.1");
    }
  });

  test("the Petstore family and friends merge into one valid OpenAPI 3.1 document", async () => {
    const specs = await loadAll();
    const doc = merge([...specs].map(([code, spec]) => provider(code, spec)));
    expect(doc.openapi).toBe("3.1.0");
    await expectValid(doc);
    // Each provider's paths sit under its namespace and its server's base path.
    expect(Object.keys(doc.paths!)).toEqual(
      expect.arrayContaining([
        "/api/v1/petstore-v3/v1/pets",
        "/api/v1/petstore-v3/v1/pets/{petId}",
        "/api/v1/petstore-v2/v1/pets/{petId}",
        "/api/v1/petstore-expanded-v2/api/pets/{id}",
        "/api/v1/petstore-expanded-v3/v2/pets",
        "/api/v1/links-v3/2.0/users/{username}",
        "/api/v1/callbacks-v3/streams",
        "/api/v1/collide-a/items",
        "/api/v1/collide-b/items",
      ]),
    );
    // Nothing of a provider stays at its own, unprefixed path.
    expect(doc.paths!["/pets"]).toBeUndefined();
    expect(doc.paths!["/items"]).toBeUndefined();
    // Requests go to the gateway only.
    expect(doc.servers).toEqual([{ url: "/", description: "This gateway" }]);
    expect(valuesOf(doc.paths, "url")).toEqual([]);
  });

  test("Swagger 2.0 is upgraded: definitions become components, body parameters a requestBody, basePath a prefix", async () => {
    const spec = await loadFixture("petstore-expanded-v2", "swagger.json");
    expect(spec.inputVersion).toBe("2.0");
    const doc = merge([provider("store", spec)]);
    await expectValid(doc);
    const addPet = operation(doc, "store_addPet");
    expect(at(addPet, "requestBody", "content", "application/json", "schema")).toEqual({
      $ref: "#/components/schemas/store_NewPet",
    });
    expect(JSON.stringify(addPet)).not.toContain('"in":"body"');
    expect(at(doc, "components", "schemas", "store_ErrorModel", "required")).toEqual(["code", "message"]);
    expect(JSON.stringify(doc)).not.toContain("#/definitions/");
    expect(
      at(doc, "components", "securitySchemes", "store_petstore_auth", "flows", "implicit", "scopes"),
    ).toEqual({
      "write:pets": "modify pets in your account",
      "read:pets": "read your pets",
    });
  });

  test("OpenAPI 3.0 nullable becomes a 3.1 type list; boolean exclusiveMinimum a number; example a list", async () => {
    const doc = merge([provider("people", await loadFixture("nullable-v30", "openapi.yaml"))]);
    await expectValid(doc);
    const person = at(doc, "components", "schemas", "people_Person");
    expect(person.properties.nickname.type).toEqual(["string", "null"]);
    expect(person.properties.nickname.nullable).toBeUndefined();
    expect(person.properties.age.exclusiveMinimum).toBe(0);
    expect(person.properties.age.minimum).toBeUndefined();
    expect(person.properties.age.examples).toEqual([42]);
    expect(JSON.stringify(doc)).not.toContain('"nullable"');
    expect(valuesOf(person, "$ref")).toEqual(["#/components/schemas/people_Person"]);
  });

  test("OpenAPI 3.1 webhooks are kept, renamed per provider, their refs following", async () => {
    const doc = merge([provider("hooks", await loadFixture("webhooks-v31", "openapi.yaml"))]);
    await expectValid(doc);
    const hook = at(doc, "webhooks", "hooks_newPet", "post");
    expect(at(hook, "requestBody", "content", "application/json", "schema")).toEqual({
      $ref: "#/components/schemas/hooks_Pet",
    });
    expect(hook.operationId).toBe("hooks_post_webhook_newPet");
  });
});

describe("collisions", () => {
  test("two providers' Item schemas of different shapes both survive, each ref pointing at its own", async () => {
    const a = await loadFixture("collide-a", "openapi.yaml");
    const b = await loadFixture("collide-b", "openapi.json");
    const doc = merge([provider("a", a), provider("b", b)]);
    await expectValid(doc);
    const schemas = at(doc, "components", "schemas");
    expect(schemas.a_Item.required).toEqual(["id", "name"]);
    expect(schemas.b_Item.required).toEqual(["sku", "price"]);
    expect(schemas.Item).toBeUndefined();
    expect(
      at(operation(doc, "a_listItems"), "responses", "200", "content", "application/json", "schema"),
    ).toEqual({
      type: "array",
      items: { $ref: "#/components/schemas/a_Item" },
    });
    // Nested: b's Order holds b's Item, in its own components and in a callback's request body.
    expect(at(schemas, "b_Order", "properties", "items", "items")).toEqual({
      $ref: "#/components/schemas/b_Item",
    });
    const callback = at(
      operation(doc, "b_getOrder"),
      "callbacks",
      "shipped",
      "{$request.body#/callback}",
      "post",
    );
    expect(at(callback, "requestBody", "content", "application/json", "schema")).toEqual({
      $ref: "#/components/schemas/b_Order",
    });
    expect(callback.operationId).toBe("b_orderShipped");
    // A component response and parameter of a are renamed and referred to by their new names.
    expect(at(operation(doc, "a_listItems"), "responses", "default")).toEqual({
      $ref: "#/components/responses/a_Error",
    });
    expect(at(doc, "paths", "/api/v1/a/pets/{id}", "parameters", "0")).toEqual({
      $ref: "#/components/parameters/a_Id",
    });
    // Every $ref of each provider points into its own components (or the gateway's).
    for (const ref of valuesOf(doc, "$ref")) expect(ref).toMatch(/^#\/components\/[a-zA-Z]+\/(a|b|gateway)_/);
  });

  test("operationIds are prefixed by the provider code, unique across the document, and made up when missing", async () => {
    const a = await loadFixture("collide-a", "openapi.yaml");
    const b = await loadFixture("collide-b", "openapi.json");
    // A provider called "gateway" whose operationId collides with one of the gateway's own.
    const gatewayLike: LoadedSpec = {
      source: "test",
      document: {
        openapi: "3.1.0",
        info: { title: "g", version: "1" },
        paths: { "/h": { get: { operationId: "healthz", responses: { "200": { description: "ok" } } } } },
        components: { schemas: { Problem: { type: "string" } } },
      },
      errors: [],
      warnings: [],
      files: [],
      leftOut: [],
      notes: [],
    };
    const doc = merge([provider("a", a), provider("b", b), provider("gateway", gatewayLike)]);
    await expectValid(doc);
    const ids = operations(doc).map((entry) => entry.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(["a_listItems", "b_listItems", "a_getPet", "b_getOrder"]));
    expect(ids).toContain("a_get_animals");
    expect(ids).toContain("gateway_healthz");
    expect(ids).toContain("gateway_healthz_2");
    // The gateway's own Problem schema is not clobbered by the provider "gateway"'s Problem.
    expect(at(doc, "components", "schemas", "gateway_Problem", "type")).toBe("object");
    expect(at(doc, "components", "schemas", "gateway_Problem_2")).toEqual({ type: "string" });
  });

  test("security schemes of the same name stay apart; requirements follow, the global one moves onto operations", async () => {
    const a = await loadFixture("collide-a", "openapi.yaml");
    const b = await loadFixture("collide-b", "openapi.json");
    const doc = merge([provider("a", a), provider("b", b)]);
    await expectValid(doc);
    const schemes = at(doc, "components", "securitySchemes");
    expect(schemes.a_api_key).toEqual({ type: "apiKey", in: "header", name: "X-Api-Key" });
    expect(schemes.b_api_key).toEqual({ type: "apiKey", in: "query", name: "key" });
    expect(schemes.gateway_adminToken.type).toBe("http");
    expect(doc.security).toBeUndefined();
    expect(operation(doc, "a_listItems").security).toEqual([{ a_api_key: [] }]);
    expect(operation(doc, "a_getPet").security).toEqual([]); // explicitly open stays open
    expect(operation(doc, "b_listItems").security).toEqual([{ b_api_key: [] }, { b_oauth: ["read"] }]);
    expect(operation(doc, "b_getOrder").security).toBeUndefined();
    expect(operation(doc, "gateway_listProviders").security).toBeUndefined();
    expect(operation(doc, "gateway_stopProvider").security).toEqual([{ gateway_adminToken: [] }, {}]);
  });

  test("discriminator mappings follow the rename, implicit ones made explicit", async () => {
    const doc = merge([provider("a", await loadFixture("collide-a", "openapi.yaml"))]);
    await expectValid(doc);
    const schemas = at(doc, "components", "schemas");
    // oneOf without a mapping: a payload's petType "Cat" must still find a_Cat.
    expect(schemas.a_Pet.discriminator).toEqual({
      propertyName: "petType",
      mapping: { Cat: "#/components/schemas/a_Cat", Dog: "#/components/schemas/a_Dog" },
    });
    // allOf inheritance: an explicit bare-name mapping is renamed, the implicit child names added.
    expect(schemas.a_Animal.discriminator).toEqual({
      propertyName: "kind",
      mapping: {
        tiger: "a_Tiger",
        Lion: "#/components/schemas/a_Lion",
        Tiger: "#/components/schemas/a_Tiger",
      },
    });
  });

  test("links follow: operationId to the renamed operation, operationRef to the namespaced path", async () => {
    const links = await loadFixture("links-v3", "openapi.yaml");
    const b = await loadFixture("collide-b", "openapi.json");
    const doc = merge([provider("repo", links), provider("b", b)]);
    await expectValid(doc);
    const componentLinks = at(doc, "components", "links");
    expect(componentLinks.repo_UserRepositories.operationId).toBe("repo_getRepositoriesByOwner");
    expect(decodeURI(componentLinks.repo_PullRequestMerge.operationRef)).toBe(
      "#/paths/~1api~1v1~1repo~12.0~1repositories~1{username}~1{slug}~1pullrequests~1{pid}~1merge/post",
    );
    expect(
      at(operation(doc, "repo_getUserByName"), "responses", "200", "links", "userRepositories", "$ref"),
    ).toBe("#/components/links/repo_UserRepositories");
    expect(at(operation(doc, "b_listItems"), "responses", "200", "links", "first", "operationId")).toBe(
      "b_getOrder",
    );
  });

  test("callbacks keep their runtime-expression paths, with refs renamed inside", async () => {
    const doc = merge([provider("cb", await loadFixture("callbacks-v3", "openapi.yaml"))]);
    await expectValid(doc);
    const subscribe = operation(doc, "cb_subscribe");
    const onData = at(subscribe, "callbacks", "onData", "{$request.query.callbackUrl}/data", "post");
    expect(onData.operationId).toBe("cb_onData");
    expect(at(onData, "requestBody", "content", "application/json", "schema", "$ref")).toBe(
      "#/components/schemas/cb_Event",
    );
    expect(at(subscribe, "callbacks", "onCancel", "$ref")).toBe("#/components/callbacks/cb_Cancelled");
    const cancelled = at(
      doc,
      "components",
      "callbacks",
      "cb_Cancelled",
      "{$request.query.callbackUrl}/cancelled",
    );
    expect(at(cancelled, "post", "requestBody", "content", "application/json", "schema", "$ref")).toBe(
      "#/components/schemas/cb_Event",
    );
    // A callback's operation is not a top-level one: no provider tag, no status.
    expect(onData.tags).toBeUndefined();
  });

  test("recursive schemas, local and across files, keep pointing at themselves", async () => {
    const b = await loadFixture("collide-b", "openapi.json");
    const external = await loadFixture("external-v3", "openapi.yaml");
    const doc = merge([provider("b", b), provider("cat", external)]);
    await expectValid(doc);
    const node = at(doc, "components", "schemas", "b_Node");
    expect(node.properties.children.items).toEqual({ $ref: "#/components/schemas/b_Node" });
    expect(node.properties.parent).toEqual({ $ref: "#/components/schemas/b_Node" });
    const tree = at(doc, "components", "schemas", "cat_tree");
    expect(tree.properties.children.items).toEqual({ $ref: "#/components/schemas/cat_tree" });
    expect(at(doc, "components", "schemas", "cat_Item", "properties", "related", "items")).toEqual({
      $ref: "#/components/schemas/cat_Item",
    });
  });
});

describe("providers in the document", () => {
  test("one tag per provider, with its display name and description; its operations carry only that tag", async () => {
    const a = await loadFixture("collide-a", "openapi.yaml");
    const doc = merge([
      provider("a", a, { name: "Shop A", description: "Buy things" }),
      provider("pets", await loadFixture("petstore-v3", "openapi.yaml"), { name: "Pets" }),
    ]);
    const tags = doc.tags as Array<{ name: string; description: string }>;
    expect(tags.map((tag) => tag.name)).toEqual(["gateway", "Shop A", "Pets"]);
    expect(tags[1]!.description).toBe("Buy things");
    expect(tags[2]!.description).toBe("Swagger Petstore"); // no description: the spec's title
    for (const { path, op } of operations(doc)) {
      const expected = path.startsWith("/api/v1/a/")
        ? "Shop A"
        : path.startsWith("/api/v1/pets/")
          ? "Pets"
          : "gateway";
      expect({ path, tags: op.tags }).toEqual({ path, tags: [expected] });
    }
  });

  test("two providers with the same display name get distinct tags", async () => {
    const pets = await loadFixture("petstore-v3", "openapi.yaml");
    const doc = merge([provider("one", pets, { name: "Pets" }), provider("two", pets, { name: "Pets" })]);
    expect((doc.tags as Array<{ name: string }>).map((tag) => tag.name)).toEqual([
      "gateway",
      "Pets",
      "Pets (two)",
    ]);
    await expectValid(doc);
  });

  test("x-gateway tells each provider's code, status, version and what is wrong with its spec", async () => {
    const escaping = await loadFixture("broken/escape-ref", "openapi.yaml");
    const dangling = await loadFixture("broken/dangling-ref", "openapi.yaml");
    const doc = merge([
      provider("ok", await loadFixture("petstore-v3", "openapi.yaml"), { version: "1.2.3" }),
      provider("escape", escaping, { status: "stopped" }),
      provider("dangling", dangling),
      provider("none", undefined, { status: "starting", notes: ["No spec yet"] }),
    ]);
    await expectValid(doc);
    const x = doc["x-gateway"] as Record<string, Record<string, unknown>>;
    expect(x.ok).toMatchObject({ code: "ok", status: "ready", version: "1.2.3", errors: [], warnings: [] });
    expect(x.ok!.spec).toEqual({
      source: "openapi.yaml",
      openapi: "3.0",
      title: "Swagger Petstore",
      version: "1.0.0",
    });
    expect(x.escape).toMatchObject({ status: "stopped", errors: [] });
    expect(x.escape!.warnings).toEqual([
      expect.stringContaining("points outside the provider directory"),
      expect.stringContaining("never fetches URLs"),
    ]);
    expect(x.dangling!.errors).toEqual([expect.stringContaining("#/components/schemas/Missing")]);
    expect(x.none).toMatchObject({ status: "starting", spec: null, warnings: ["No spec yet"] });
    // The broken provider is listed (tag, x-gateway) but has no paths; the others merge.
    expect(Object.keys(doc.paths!).some((path) => path.startsWith("/api/v1/dangling"))).toBe(false);
    const tag = (doc.tags as Array<Record<string, unknown>>).find((t) => t.name === "Provider dangling")!;
    expect(String(tag.description)).toContain("#/components/schemas/Missing");
    expect(tag["x-gateway"]).toEqual(x.dangling);
  });

  test("a provider that is not ready keeps its paths, each operation marked with its status", async () => {
    const doc = merge([
      provider("pets", await loadFixture("petstore-v3", "openapi.yaml"), { status: "stopped" }),
    ]);
    await expectValid(doc);
    const listPets = operation(doc, "pets_listPets");
    expect(listPets["x-gateway-status"]).toBe("stopped");
    const tag = (doc.tags as Array<Record<string, unknown>>)[1]!;
    expect(String(tag.description)).toContain("Status: stopped");
  });

  test("a refused reference leaves a placeholder, never the outside file's content", async () => {
    const spec = await loadFixture("broken/escape-ref", "openapi.yaml");
    const doc = merge([provider("escape", spec)]);
    const text = JSON.stringify(doc);
    expect(text).not.toContain("OUTSIDE-SECRET-CONTENT");
    expect(text).not.toContain('"$ref":"../../outside/secret.yaml"');
    expect(text).not.toContain('"$ref":"https://');
    expect(
      at(operation(doc, "escape_getSecret"), "responses", "200", "content", "application/json", "schema"),
    ).toEqual({
      description: "Reference not included by the gateway: ../../outside/secret.yaml",
      "x-gateway-refused-ref": "../../outside/secret.yaml",
    });
  });

  test("servers on a path or an operation are dropped with a warning: requests must go through the gateway", () => {
    const spec: LoadedSpec = {
      source: "test",
      document: {
        openapi: "3.1.0",
        info: { title: "t", version: "1" },
        servers: [{ url: "https://api.example.com/{version}", variables: { version: { default: "v2" } } }],
        paths: {
          "/a": {
            servers: [{ url: "https://elsewhere.example.com" }],
            get: { servers: [{ url: "https://x.example.com" }], responses: { "200": { description: "ok" } } },
          },
        },
      },
      errors: [],
      warnings: [],
      files: [],
      leftOut: [],
      notes: [],
    };
    const doc = merge([provider("s", spec)]);
    expect(Object.keys(doc.paths!)).toContain("/api/v1/s/v2/a");
    expect(JSON.stringify(doc)).not.toContain("example.com");
    const x = doc["x-gateway"] as Record<string, { warnings: string[] }>;
    expect(x.s!.warnings).toEqual([
      "The servers of /paths/~1a are dropped: requests to it go through the gateway",
      "The servers of /paths/~1a/get are dropped: requests to it go through the gateway",
    ]);
  });
});

describe("determinism", () => {
  test("the same inputs give byte-identical output, whatever the order providers come in", async () => {
    const first = await loadAll();
    const second = await loadAll();
    const one = JSON.stringify(merge([...first].map(([code, spec]) => provider(code, spec))));
    const two = JSON.stringify(merge([...second].reverse().map(([code, spec]) => provider(code, spec))));
    expect(two).toBe(one);
    // Merging does not change its inputs: a second merge of the same objects is identical too.
    expect(JSON.stringify(merge([...first].map(([code, spec]) => provider(code, spec))))).toBe(one);
  });

  test("rewriting a provider leaves its document untouched", async () => {
    const spec = await loadFixture("collide-a", "openapi.yaml");
    const before = JSON.stringify(spec.document);
    rewriteProvider(
      spec.document as OpenApiDocument,
      { code: "a", namespace: "/a", status: "ready", tag: "A" },
      {
        operationIds: new Set(),
        components: {},
      },
    );
    expect(JSON.stringify(spec.document)).toBe(before);
  });
});

describe("the gateway's own routes", () => {
  test("are described from the zod schemas that validate them", () => {
    const doc = merge([]);
    const logs = operation(doc, "gateway_providerLogs");
    const tail = (logs.parameters as Array<Record<string, unknown>>).find((p) => p.name === "tail")!;
    const { $schema: _, ...fromZod } = z.toJSONSchema(TailQuery.shape.tail, { io: "input" }) as Record<
      string,
      unknown
    >;
    const { description, ...schemaFromZod } = fromZod;
    expect(tail).toEqual({ name: "tail", in: "query", required: false, description, schema: schemaFromZod });
    expect(tail.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 10000, default: 100 });
    for (const path of [
      "/healthz",
      "/readyz",
      "/_gateway/providers",
      "/openapi.json",
      "/openapi.yaml",
      "/docs",
    ]) {
      expect(doc.paths![path]).toBeDefined();
    }
    expect(at(doc, "components", "schemas", "gateway_Provider", "properties", "status", "enum")).toContain(
      "awaiting_agent",
    );
  });

  test("the document with no provider is valid", async () => {
    await expectValid(merge([]));
  });
});
