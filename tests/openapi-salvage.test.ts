/**
 * Real specs are often slightly wrong: a spec that fails validation keeps every operation that is
 * valid on its own, and each one left out is said once, in a sentence naming the operation, the
 * field and the rule (in the spec's summary, the provider's own spec route, the log and `gateway
 * smoke`). A broken shared part still leaves the whole spec out, with the same kind of sentence.
 * A provider that serves no spec at all is normal, said once at info level; `spec: false` skips
 * asking. Fixtures: tests/fixtures/openapi/{salvage-swagger2,salvage-v3,salvage-shared,no-operation-ids}.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { buildTools } from "../lib/mcp/catalogue.ts";
import type { OpenApiDocument } from "../lib/openapi/load.ts";
import {
  addProvider,
  cleanup,
  makeSpace,
  request,
  runCli,
  startUnderTest,
  waitFor,
  waitForStatus,
} from "./helpers.ts";
import { addSpecProvider, expectValid, loadFixture, merge, provider } from "./openapi-helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

const FILE_RULE = 'Swagger 2.0 allows type "file" only for formData parameters';
const PUT_FILE = `PUT /files/{path}: parameter "file" is in "body" with schema type "file"; ${FILE_RULE}`;
const POST_UPLOAD = `POST /uploads: parameter "content" is in "body" with schema type "file"; ${FILE_RULE}`;

type Summary = {
  errors: string[];
  warnings: string[];
  left_out: Array<{ method: string; path: string; reason: string }>;
};
const summaryOf = (doc: OpenApiDocument, code: string) =>
  (doc["x-gateway"] as Record<string, Summary>)[code]!;
const operationsOf = (doc: OpenApiDocument | undefined) =>
  Object.entries(doc?.paths ?? {}).flatMap(([path, item]) =>
    Object.keys(item as object)
      .filter((key) => ["get", "put", "post", "delete", "patch"].includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );

describe("operations checked one by one", () => {
  test("a Swagger 2.0 spec with body parameters of type file keeps its other operations and says why each broken one is left out", async () => {
    const spec = await loadFixture("salvage-swagger2", "swagger.yaml");
    expect(spec.errors).toEqual([]);
    expect(spec.leftOut).toEqual([
      { method: "PUT", path: "/files/{path}", reason: PUT_FILE },
      { method: "POST", path: "/uploads", reason: POST_UPLOAD },
    ]);
    expect(operationsOf(spec.document)).toEqual(["GET /files/{path}", "GET /search"]);
    // Its OAuth2 definition lists no scopes (as Dropbox's does): completed, and said.
    expect(spec.warnings).toEqual([
      'securityDefinitions.oauth lists no "scopes", which Swagger 2.0 requires (an empty map when there are none): taken as none',
    ]);

    const doc = merge([provider("files", spec)]);
    await expectValid(doc);
    expect(operationsOf(doc).filter((op) => op.includes("/api/v1/files/"))).toEqual([
      "GET /api/v1/files/files/{path}",
      "GET /api/v1/files/search",
    ]);
    expect(summaryOf(doc, "files").left_out.map((l) => l.reason)).toEqual([PUT_FILE, POST_UPLOAD]);
    const tag = (doc.tags as Array<{ description: string; "x-gateway"?: { code: string } }>).find(
      (t) => t["x-gateway"]?.code === "files",
    );
    expect(tag?.description).toContain(`Left out of its spec, as invalid: ${PUT_FILE}; ${POST_UPLOAD}`);
  });

  test("an OpenAPI 3.0 spec keeps its valid operations when others lack responses or put a parameter nowhere", async () => {
    const spec = await loadFixture("salvage-v3", "openapi.yaml");
    expect(spec.errors).toEqual([]);
    expect(spec.leftOut.map((l) => l.reason)).toEqual([
      'POST /notes: it has no "responses"; every operation needs at least one',
      'GET /notes/{id}: parameter "verbose" is in "querystring"; OpenAPI parameters are in path, query, header or cookie',
    ]);
    expect(operationsOf(spec.document)).toEqual(["GET /notes", "DELETE /notes/{id}"]);
    // The shared schema the kept operations use is still there.
    expect(Object.keys((spec.document!.components as { schemas: object }).schemas)).toEqual(["Note"]);
    await expectValid(merge([provider("notes", spec)]));
  });

  test("findings the validator reports only in a later stage (a path parameter never declared) leave out their operation too", async () => {
    const { validateSpec } = await import("../lib/openapi/validate.ts");
    const { salvageOperations } = await import("../lib/openapi/operations.ts");
    const doc: OpenApiDocument = {
      openapi: "3.0.3",
      info: { title: "Stages", version: "1" },
      paths: {
        "/ok": { get: { responses: { "200": { description: "ok" } } } },
        "/a": {
          get: {
            parameters: [{ name: "q", in: "querystring" }],
            responses: { "200": { description: "ok" } },
          },
        },
        "/b/{id}": { get: { responses: { "200": { description: "ok" } } } },
      },
    };
    const first = await validateSpec(doc);
    expect(first.valid).toBe(false);
    const salvaged = await salvageOperations(doc, first.raw);
    expect(Object.keys(salvaged.document?.paths ?? {})).toEqual(["/ok"]);
    expect(salvaged.leftOut.map((l) => `${l.method} ${l.path}`)).toEqual(["GET /a", "GET /b/{id}"]);
    expect(salvaged.leftOut[1]!.reason).toContain('path parameter "id"');
    expect((await validateSpec(salvaged.document!)).valid).toBe(true);

    // A stub (`put:` with nothing after it) is left out on its own too.
    const stub: OpenApiDocument = {
      openapi: "3.0.3",
      info: { title: "Stub", version: "1" },
      paths: { "/ok": { get: { responses: { "200": { description: "ok" } } }, put: null } },
    };
    const stubbed = await salvageOperations(stub, (await validateSpec(stub)).raw);
    expect(stubbed.leftOut.map((l) => l.reason)).toEqual(["PUT /ok: it is null, not an operation object"]);
    expect(Object.keys((stubbed.document!.paths as Record<string, object>)["/ok"]!)).toEqual(["get"]);
  });

  test("a broken shared component leaves the whole spec out with one sentence naming it", async () => {
    const spec = await loadFixture("salvage-shared", "openapi.yaml");
    expect(spec.document).toBeUndefined();
    expect(spec.leftOut).toEqual([]);
    expect(spec.errors).toEqual([
      'components.securitySchemes.key has type "apiToken"; OpenAPI security schemes are apiKey, http, oauth2 or openIdConnect (and mutualTLS from 3.1)',
    ]);
    const good = await loadFixture("salvage-v3", "openapi.yaml");
    const doc = merge([provider("broken", spec), provider("notes", good)]);
    await expectValid(doc);
    expect(operationsOf(doc).some((op) => op.includes("/api/v1/broken/"))).toBe(false);
    expect(summaryOf(doc, "broken").errors).toEqual(spec.errors);
  });

  test("a spec without operationIds gets names made from method and path, in the merged document and as MCP tools", async () => {
    const spec = await loadFixture("no-operation-ids", "openapi.yaml");
    expect(spec.errors).toEqual([]);
    const doc = merge([provider("anon", spec)]);
    await expectValid(doc);
    const ids = Object.entries(doc.paths ?? {})
      .filter(([path]) => path.startsWith("/api/v1/anon/"))
      .flatMap(([, item]) => Object.values(item as Record<string, { operationId?: string }>))
      .map((op) => op.operationId);
    expect(ids).toEqual(["anon_get_items", "anon_post_items", "anon_get_items_id"]);
    const { tools, skipped } = buildTools(doc as Record<string, unknown>);
    expect(skipped).toEqual([]);
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      "anon_get_items",
      "anon_get_items_id",
      "anon_post_items",
    ]);
    // Names are stable: the same document gives the same tools.
    expect(buildTools(doc as Record<string, unknown>).tools.map((tool) => tool.name)).toEqual(
      tools.map((tool) => tool.name),
    );
  });
});

describe("a running gateway", () => {
  test("left-out operations are in x-gateway and the provider's spec route, logged once each, and the merged document validates", async () => {
    const space = makeSpace();
    addSpecProvider(space, "files", "salvage-swagger2", "swagger.yaml");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "files", "ready");

    const merged = await request<OpenApiDocument>(`${gw.url}/openapi.json`);
    expect(merged.status).toBe(200);
    await expectValid(merged.body);
    expect(summaryOf(merged.body, "files").left_out.map((l) => l.reason)).toEqual([PUT_FILE, POST_UPLOAD]);

    const own = await request<OpenApiDocument & { "x-gateway": Summary & { valid: boolean } }>(
      `${gw.url}/_gateway/providers/files/openapi.json`,
    );
    expect(own.status).toBe(200);
    expect(own.body["x-gateway"].valid).toBe(true);
    expect(own.body["x-gateway"].left_out).toEqual([
      { method: "PUT", path: "/files/{path}", reason: PUT_FILE },
      { method: "POST", path: "/uploads", reason: POST_UPLOAD },
    ]);
    expect(operationsOf(own.body)).toEqual(["GET /files/{path}", "GET /search"]);

    const said = gw.logs.map((line) => JSON.parse(line) as { level: string; msg: string });
    const leftOutLines = said.filter((line) => line.msg.includes("left out of /openapi.json"));
    expect(leftOutLines.map((line) => [line.level, line.msg])).toEqual([
      ["warn", `Provider "files": an operation of its spec is left out of /openapi.json: ${PUT_FILE}`],
      ["warn", `Provider "files": an operation of its spec is left out of /openapi.json: ${POST_UPLOAD}`],
    ]);
  });

  test("gateway smoke fails the spec check of a provider with left-out operations, naming each", async () => {
    const space = makeSpace();
    addSpecProvider(space, "files", "salvage-swagger2", "swagger.yaml");
    const { code, stdout } = await runCli(["smoke", "--providers-dir", space.providersDir]);
    expect(code).not.toBe(0);
    const line = stdout.split("\n").find((l) => l.includes("files") && l.includes("spec"));
    expect(line).toContain("FAIL");
    expect(line).toContain("without 2 invalid operation(s)");
    expect(stdout).toContain(PUT_FILE);
    expect(stdout).toContain(POST_UPLOAD);
  });

  test("python3 -m http.server serves no spec: said once at info level, never as a warning; spec: false never asks", async () => {
    const space = makeSpace();
    const httpServer = (code: string, extra: Record<string, unknown> = {}) =>
      addProvider(space, code, {
        code,
        runtime: "exec",
        binary: "python3",
        args: ["-m", "http.server", "${PORT}", "--bind", "127.0.0.1", "--directory", "."],
        health: { interval: "1s", startup_timeout: "20s" },
        stop_timeout: "3s",
        ...extra,
      });
    httpServer("plain");
    httpServer("quiet", { spec: false });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "plain", "ready");
    await waitForStatus(gw.url, "quiet", "ready");
    const noteLines = () =>
      gw.logs
        .map((line) => JSON.parse(line) as { level: string; msg: string; provider?: string })
        .filter((line) => line.msg.includes("No spec"));
    await waitFor("the note about plain's missing spec", () => noteLines().length > 0);

    // A restart fetches again and gets 404 again: nothing new to say.
    expect((await request(`${gw.url}/_gateway/providers/plain/restart`, { method: "POST" })).status).toBe(
      202,
    );
    await waitFor("plain to ask for /openapi.json after its restart", async () => {
      const logs = await request<{ lines: Array<{ line: string }> }>(
        `${gw.url}/_gateway/providers/plain/logs`,
      );
      return logs.body.lines.filter((l) => l.line.includes("GET /openapi.json")).length >= 2;
    });
    await waitForStatus(gw.url, "plain", "ready");
    await Bun.sleep(200);

    const notes = noteLines();
    expect(notes.map((line) => [line.level, line.provider])).toEqual([["info", "plain"]]);
    expect(notes[0]!.msg).toBe(
      'Provider "plain": No spec: its GET /openapi.json answered 404 (spec: false in its manifest skips asking)',
    );
    expect(gw.logs.some((line) => line.includes('"warn"') && line.includes("openapi"))).toBe(false);

    const quiet = await request<{ lines: Array<{ line: string }> }>(
      `${gw.url}/_gateway/providers/quiet/logs`,
    );
    expect(quiet.status).toBe(200);
    expect(quiet.body.lines.some((l) => l.line.includes("/openapi.json"))).toBe(false);
    const doc = await request<OpenApiDocument>(`${gw.url}/openapi.json`);
    expect(summaryOf(doc.body, "quiet").warnings).toEqual(["No spec: the manifest says spec: false"]);
  });
});
