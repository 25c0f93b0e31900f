/**
 * Reading a provider's spec: parsing, bundling the files it refers to (inside the provider
 * directory only), validating, upgrading; and what happens to broken specs.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleDocument } from "../lib/openapi/bundle.ts";
import { loadSpecFile, loadUpstreamSpec } from "../lib/openapi/spec.ts";
import { validateSpec } from "../lib/openapi/validate.ts";
import { at, loadFixture, SPECS, valuesOf } from "./openapi-helpers.ts";

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A provider directory holding `files` (path → content), inside a fresh temp dir. */
function providerDir(files: Record<string, string>): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), "gateway-spec-"));
  temps.push(root);
  const dir = join(root, "provider");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return { root, dir };
}

const minimal = (paths: string) =>
  `openapi: 3.0.3\ninfo: { title: t, version: "1" }\npaths:\n${paths}\ncomponents: { schemas: {} }\n`;

describe("bundling files a spec refers to", () => {
  test("Swagger 2.0 in separate files (the Petstore) bundles into definitions and parameters", async () => {
    const spec = await loadFixture("petstore-separate-v2", "spec/swagger.yaml");
    expect(spec.errors).toEqual([]);
    expect(spec.warnings).toEqual([]);
    expect(spec.files.map((file) => file.slice(SPECS.length))).toEqual([
      "/petstore-separate-v2/spec/swagger.yaml",
      "/petstore-separate-v2/spec/parameters.yaml",
      "/petstore-separate-v2/spec/Pet.yaml",
      "/petstore-separate-v2/spec/NewPet.yaml",
      "/petstore-separate-v2/common/Error.yaml",
    ]);
    const doc = spec.document!;
    expect(Object.keys(at(doc, "components", "schemas"))).toEqual(["Pet", "NewPet", "Error"]);
    expect(Object.keys(at(doc, "components", "parameters"))).toEqual(["tagsParam", "limitsParam"]);
    expect(at(doc, "components", "schemas", "Pet", "allOf", "0")).toEqual({
      $ref: "#/components/schemas/NewPet",
    });
    // No reference to another file is left.
    for (const ref of valuesOf(doc, "$ref")) expect(ref).toStartWith("#/");
  });

  test("component slots take their file's content; a name already used gets a suffix; recursion stays a ref", async () => {
    const spec = await loadFixture("external-v3", "openapi.yaml");
    expect(spec.errors).toEqual([]);
    const schemas = at(spec.document, "components", "schemas");
    // components.schemas.Item was `$ref: ./schemas/item.yaml`: the file's content is now in that slot.
    expect(schemas.Item.required).toEqual(["id", "name"]);
    expect(schemas.Item.properties.related.items).toEqual({ $ref: "#/components/schemas/Item" });
    // The document's own Problem is kept; common.yaml's Problem comes in as Problem_2.
    expect(schemas.Problem.type).toBe("string");
    expect(schemas.Problem_2.required).toEqual(["title"]);
    expect(
      at(
        spec.document,
        "components",
        "responses",
        "Problem",
        "content",
        "application/problem+json",
        "schema",
      ),
    ).toEqual({ $ref: "#/components/schemas/Problem_2" });
    // A file referring to itself (`$ref: '#'`) is hoisted once and points at itself.
    expect(schemas.tree.properties.children.items).toEqual({ $ref: "#/components/schemas/tree" });
    expect(schemas.tree.properties.problem).toEqual({ $ref: "#/components/schemas/Problem_2" });
    // Data stays data: an example is not a place for references.
    expect(schemas.money.properties.currency.examples).toEqual(["EUR"]);
  });

  test("a response, parameter or schema referred to from several places is bundled once", async () => {
    const spec = await loadFixture("external-v3", "openapi.yaml");
    const text = JSON.stringify(spec.document);
    expect(text.split('"Something went wrong"').length - 1).toBe(1);
    expect(
      valuesOf(spec.document, "$ref").filter((ref) => ref === "#/components/responses/Problem"),
    ).toHaveLength(2);
  });

  test("a reference leaving the provider directory is refused with a warning, and its file never read", async () => {
    const { root, dir } = providerDir({
      "openapi.yaml": minimal(
        [
          "  /a:",
          "    get:",
          "      responses:",
          "        '200':",
          "          description: ok",
          "          content: { application/json: { schema: { $ref: '../secret.yaml' } } }",
        ].join("\n"),
      ),
    });
    writeFileSync(join(root, "secret.yaml"), "description: TOP-SECRET\n");
    const spec = await loadSpecFile("openapi.yaml", dir);
    expect(spec.warnings).toEqual([
      'Refused $ref "../secret.yaml" in ./openapi.yaml: it points outside the provider directory',
    ]);
    expect(spec.errors).toEqual([]);
    expect(JSON.stringify(spec.document)).not.toContain("TOP-SECRET");
    expect(spec.files).toEqual([join(dir, "openapi.yaml")]);
  });

  test("a symlink that leads out of the provider directory is refused too", async () => {
    const { root, dir } = providerDir({
      "openapi.yaml": minimal(
        [
          "  /a:",
          "    get:",
          "      responses:",
          "        '200': { description: ok, content: { application/json: { schema: { $ref: './link.yaml' } } } }",
        ].join("\n"),
      ),
    });
    writeFileSync(join(root, "secret.yaml"), "description: TOP-SECRET\n");
    symlinkSync(join(root, "secret.yaml"), join(dir, "link.yaml"));
    const spec = await loadSpecFile("openapi.yaml", dir);
    expect(spec.warnings).toEqual([
      'Refused $ref "./link.yaml" in ./openapi.yaml: ./link.yaml is a link out of the provider directory',
    ]);
    expect(JSON.stringify(spec.document)).not.toContain("TOP-SECRET");
  });

  test("a reference to a URL is refused and never fetched", async () => {
    let hits = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch() {
        hits++;
        return Response.json({ type: "string", description: "FETCHED" });
      },
    });
    try {
      const url = `http://127.0.0.1:${server.port}/schema.json`;
      const { dir } = providerDir({
        "openapi.json": JSON.stringify({
          openapi: "3.1.0",
          info: { title: "t", version: "1" },
          paths: {
            "/a": {
              get: {
                responses: {
                  "200": { description: "ok", content: { "application/json": { schema: { $ref: url } } } },
                },
              },
            },
          },
        }),
      });
      const spec = await loadSpecFile("./openapi.json", dir);
      expect(spec.warnings).toEqual([
        `Refused $ref "${url}" in ./openapi.json: the gateway never fetches URLs`,
      ]);
      expect(JSON.stringify(spec.document)).not.toContain("FETCHED");
      expect(hits).toBe(0);
    } finally {
      await server.stop(true);
    }
  });

  test("a spec fetched from a provider keeps its local references and refuses every other", () => {
    const result = bundleDocument({
      openapi: "3.1.0",
      info: { title: "t", version: "1" },
      paths: {},
      components: {
        schemas: {
          A: { $ref: "./b.yaml" },
          B: { $ref: "#/components/schemas/A" },
          C: { type: "object", example: { $ref: "./not-a-reference.yaml" } },
        },
      },
    });
    expect(result.warnings).toEqual([
      'Refused $ref "./b.yaml": a spec fetched from its provider may only hold local (#/...) references',
    ]);
    expect(at(result.document, "components", "schemas", "B")).toEqual({ $ref: "#/components/schemas/A" });
    // Example data is never taken for a reference.
    expect(at(result.document, "components", "schemas", "C", "example")).toEqual({
      $ref: "./not-a-reference.yaml",
    });
  });
});

describe("broken specs", () => {
  test("invalid YAML is an error saying where", async () => {
    const spec = await loadFixture("broken/invalid-yaml", "openapi.yaml");
    expect(spec.document).toBeUndefined();
    expect(spec.errors).toHaveLength(1);
    expect(spec.errors[0]).toStartWith("Cannot parse ./openapi.yaml: ");
    expect(spec.errors[0]).toMatch(/line \d+, column \d+/);
    expect(spec.files).toHaveLength(1); // still watched: fixing it loads it
  });

  test("a dangling $ref is a validation error", async () => {
    const spec = await loadFixture("broken/dangling-ref", "openapi.yaml");
    expect(spec.document).toBeUndefined();
    expect(spec.input).toBeDefined();
    expect(spec.errors).toEqual(["Can't resolve reference: #/components/schemas/Missing"]);
  });

  test("a $ref to a file that does not exist is an error, and the missing file is watched", async () => {
    const spec = await loadFixture("broken/missing-file", "openapi.yaml");
    expect(spec.document).toBeUndefined();
    expect(spec.errors).toEqual([
      '$ref "./schemas/nope.yaml" in ./openapi.yaml cannot be resolved: ./schemas/nope.yaml: no such file',
    ]);
    expect(spec.files.map((file) => file.slice(SPECS.length))).toEqual([
      "/broken/missing-file/openapi.yaml",
      "/broken/missing-file/schemas/nope.yaml",
    ]);
  });

  test("a $ref to a part another file does not have is an error", async () => {
    const { dir } = providerDir({
      "openapi.yaml": minimal(
        [
          "  /a:",
          "    get:",
          "      responses:",
          "        '200': { description: ok, content: { application/json: { schema: { $ref: 'common.yaml#/Nope' } } } }",
        ].join("\n"),
      ),
      "common.yaml": "Yes: { type: string }\n",
    });
    const spec = await loadSpecFile("openapi.yaml", dir);
    expect(spec.errors).toEqual([
      '$ref "common.yaml#/Nope" in ./openapi.yaml points at nothing: ./common.yaml has no /Nope',
    ]);
  });

  test("a ref escaping the directory in a fixture is refused while the rest of the spec loads", async () => {
    const spec = await loadFixture("broken/escape-ref", "openapi.yaml");
    expect(spec.document).toBeDefined();
    expect(spec.warnings).toHaveLength(2);
  });

  test("a file that is no OpenAPI document, or violates the schema, is an error listing why", async () => {
    const notOpenApi = await loadFixture("broken/not-openapi", "openapi.yaml");
    expect(notOpenApi.errors).toEqual([
      './openapi.yaml is not an OpenAPI document (no "openapi" or "swagger" field)',
    ]);
    const invalid = await loadFixture("broken/invalid-schema", "openapi.json");
    expect(invalid.inputVersion).toBe("3.0");
    expect(invalid.errors).toEqual([
      'info lacks the required field "title"',
      'GET /a: it has no "responses"; every operation needs at least one',
    ]);
  });

  test("a spec file that is missing, or outside the provider directory, is an error", async () => {
    const { dir } = providerDir({ "manifest.yaml": "code: x\n" });
    const missing = await loadSpecFile("./openapi.yaml", dir);
    expect(missing.errors).toEqual([expect.stringContaining("openapi.yaml")]);
    expect(missing.files).toEqual([join(dir, "openapi.yaml")]);
    const outside = await loadSpecFile("../openapi.yaml", dir);
    expect(outside.errors).toEqual(["The spec path leaves the provider directory: ../openapi.yaml"]);
  });

  test("an upstream that serves no spec (404) is a note, one that serves a broken one an error", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === "/none/openapi.json") return new Response("no", { status: 404 });
        return new Response("{ not json", { headers: { "content-type": "application/json" } });
      },
    });
    try {
      const none = await loadUpstreamSpec(`http://127.0.0.1:${server.port}/none`);
      expect(none.errors).toEqual([]);
      expect(none.warnings).toEqual([]);
      expect(none.notes).toEqual([
        "No spec: its GET /openapi.json answered 404 (spec: false in its manifest skips asking)",
      ]);
      const broken = await loadUpstreamSpec(`http://127.0.0.1:${server.port}/broken`);
      expect(broken.errors).toHaveLength(1);
      expect(broken.errors[0]).toStartWith(
        `Cannot parse http://127.0.0.1:${server.port}/broken/openapi.json`,
      );
    } finally {
      await server.stop(true);
    }
  });
});

describe("large specs", () => {
  test("a 5 MB spec loads, validates, upgrades and bundles its files", async () => {
    const { dir } = providerDir({});
    cpSync(join(SPECS, "external-v3"), dir, { recursive: true });
    const paths: Record<string, unknown> = {};
    const schemas: Record<string, unknown> = {};
    // Each schema and path item takes about 750 bytes: 7000 of them make a bit over 5 MB.
    for (let i = 0; i < 7000; i++) {
      schemas[`Thing${i}`] = {
        type: "object",
        required: ["id"],
        properties: {
          id: { type: "string", description: "x".repeat(400) },
          note: { type: "string", nullable: true },
          item: { $ref: "./schemas/item.yaml" },
          next: { $ref: `#/components/schemas/Thing${i + 1}` },
        },
      };
      paths[`/things${i}/{id}`] = {
        get: {
          operationId: `getThing${i}`,
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            "200": {
              description: "ok",
              content: { "application/json": { schema: { $ref: `#/components/schemas/Thing${i}` } } },
            },
          },
        },
      };
    }
    const count = Object.keys(schemas).length;
    (schemas[`Thing${count - 1}`] as { properties: Record<string, unknown> }).properties.next = {
      type: "string",
    };
    const text = JSON.stringify({
      openapi: "3.0.3",
      info: { title: "big", version: "1" },
      paths,
      components: { schemas },
    });
    expect(text.length).toBeGreaterThan(5_000_000);
    writeFileSync(join(dir, "big.json"), text);
    const spec = await loadSpecFile("big.json", dir);
    expect(spec.errors).toEqual([]);
    expect(Object.keys(at(spec.document, "paths"))).toHaveLength(count);
    expect(at(spec.document, "components", "schemas", "Thing0", "properties", "item")).toEqual({
      $ref: "#/components/schemas/item",
    });
    expect(at(spec.document, "components", "schemas", "Thing0", "properties", "note", "type")).toEqual([
      "string",
      "null",
    ]);
    expect((await validateSpec(spec.document!)).errors).toEqual([]);
  }, 60_000);
});

describe("large YAML specs", () => {
  test("a YAML spec over 64 KB reads the same with the native parser as with the yaml package, aliases included", async () => {
    const { parseSpecText } = await import("../lib/openapi/load.ts");
    const { parse, stringify } = await import("yaml");
    const shared = { type: "object", properties: { id: { type: "string" }, note: { type: "string" } } };
    const paths: Record<string, unknown> = {};
    for (let i = 0; i < 400; i++) {
      paths[`/items${i}`] = {
        get: {
          operationId: `get${i}`,
          responses: { "200": { description: "ok", content: { "application/json": { schema: shared } } } },
        },
      };
    }
    // `yaml` writes the shared schema once, as an anchor, and aliases it everywhere else.
    const text = stringify({ openapi: "3.0.3", info: { title: "Big", version: "1" }, paths });
    expect(text.length).toBeGreaterThan(64 * 1024);
    expect(text).toContain("*a1");
    expect(parseSpecText(text, "big.yaml")).toEqual(parse(text, { maxAliasCount: 100_000 }));
  });

  test("an alias bomb over 64 KB is refused, not expanded", async () => {
    const { parseSpecText } = await import("../lib/openapi/load.ts");
    const levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let text = `# ${"padding ".repeat(9000)}\nopenapi: 3.0.3\na: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n`;
    for (let i = 1; i < levels.length; i++) {
      const alias = `*${levels[i - 1]}`;
      text += `${levels[i]}: &${levels[i]} [${Array(9).fill(alias).join(", ")}]\n`;
    }
    expect(text.length).toBeGreaterThan(64 * 1024);
    expect(() => parseSpecText(text, "bomb.yaml")).toThrow(/Cannot parse bomb.yaml: Excessive alias count/);
  });
});
