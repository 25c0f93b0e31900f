/**
 * MCP mode (contract §7): `gateway mcp` driven as a subprocess by the SDK's own stdio client, and
 * `/mcp` by its streamable HTTP client. The tools fixture (tests/fixtures/tools.ts) has an OpenAPI
 * document with what bridges trip on: `$ref` cycles, a top-level `oneOf`, an array without
 * `items`, a long operationId, binary and huge answers, problem+json errors, and a body no tool
 * can send.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CallToolResult,
  ToolListChangedNotificationSchema,
  ToolSchema,
} from "@modelcontextprotocol/sdk/types.js";
import {
  addEchoProvider,
  addFixtureProvider,
  addProvider,
  BUN,
  cleanup,
  collectText,
  echoManifest,
  exitCode,
  FIXTURES,
  makeSpace,
  onCleanup,
  REPO_ROOT,
  type Space,
  serveArgs,
  spawnGateway,
  waitFor,
} from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

const GOLDEN = join(FIXTURES, "mcp", "tools-list.json");
const NAME = /^[a-z][a-z0-9_]{0,47}$/;

interface McpSession {
  client: Client;
  /** How many `notifications/tools/list_changed` arrived. */
  changes: () => number;
  /** Errors the client saw (a stdout line that is not JSON-RPC is one). */
  errors: Error[];
  stderr: () => string;
}

/** `gateway mcp` over `space`, with the SDK's stdio client connected to it. */
async function startStdio(space: Space, ...more: string[]): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: BUN,
    args: [join(REPO_ROOT, "main.ts"), "mcp", "--providers-dir", space.providersDir, ...more],
    cwd: REPO_ROOT,
    env: process.env as Record<string, string>,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return connect(transport, () => stderr);
}

async function connect(
  transport: StdioClientTransport | StreamableHTTPClientTransport,
  stderr: () => string,
): Promise<McpSession> {
  const client = new Client({ name: "gateway-tests", version: "1.0.0" });
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  let changes = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changes++;
  });
  onCleanup(() => client.close());
  await client.connect(transport);
  return { client, changes: () => changes, errors, stderr };
}

/** The names of the tools listed now. */
async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((tool) => tool.name);
}

/** Waits until the tool list holds (or, with `present` false, lacks) `name`. */
async function waitForTool(client: Client, name: string, present = true): Promise<string[]> {
  return waitFor(`tool ${name} ${present ? "listed" : "gone"}`, async () => {
    const names = await toolNames(client);
    return names.includes(name) === present && names;
  });
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function texts(result: CallToolResult): string {
  return result.content
    .filter((c) => c.type === "text")
    .map((c) => (c as { text: string }).text)
    .join("\n");
}

function addTools(space: Space, code = "tools", env: Record<string, string> = {}): void {
  addFixtureProvider(space, code, "tools.ts", { env });
}

describe("gateway mcp on stdio", () => {
  test("answers initialize before providers are ready, and writes nothing but JSON-RPC on stdout", async () => {
    const space = makeSpace();
    const flag = join(space.root, "ready");
    addEchoProvider(space, "slow", { env: { READY_FLAG: flag } });
    addTools(space);
    const proc = Bun.spawn({
      cmd: [BUN, join(REPO_ROOT, "main.ts"), "mcp", "--providers-dir", space.providersDir],
      cwd: REPO_ROOT,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    onCleanup(async () => {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await proc.exited;
    });
    const out = collectText(proc.stdout);
    const err = collectText(proc.stderr);
    const send = (message: object) => {
      proc.stdin.write(`${JSON.stringify(message)}\n`);
      proc.stdin.flush();
    };
    const lines = () => out.text().split("\n").filter(Boolean);
    const answer = (id: number) =>
      waitFor(`the answer to request ${id}`, () =>
        lines()
          .map((line) => JSON.parse(line) as { id?: number; result?: Record<string, unknown> })
          .find((message) => message.id === id),
      );
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    });
    const initialized = await answer(1);
    expect(initialized.result?.serverInfo).toMatchObject({ name: "gateway" });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    // "slow" cannot be ready (its flag is missing), so this answer came before it was.
    send({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const before = (await answer(2)).result?.tools as Array<{ name: string }>;
    expect(before.map((t) => t.name)).not.toContain("slow_list_items");
    // Output of providers (the echo fixture prints on start) and the gateway's log go to stderr.
    await waitFor("the providers' output on stderr", () => err.text().includes("echo slow listening"));
    writeFileSync(flag, "");
    await waitFor("notifications/tools/list_changed", () =>
      lines().some((line) => line.includes('"notifications/tools/list_changed"')),
    );
    proc.stdin.end();
    expect(await exitCode(proc, 30_000)).toBe(0);
    for (const line of lines()) {
      const message = JSON.parse(line) as { jsonrpc?: string };
      expect(message.jsonrpc).toBe("2.0");
    }
    expect(err.text()).toContain("stopped");
  });

  test("lists one valid tool per operation of every ready provider (golden snapshot), and says which it left out", async () => {
    const space = makeSpace();
    addTools(space);
    const session = await startStdio(space);
    await waitForTool(session.client, "tools_list_items");
    const { tools } = await session.client.listTools();
    for (const tool of tools) {
      expect(tool.name).toMatch(NAME);
      expect(ToolSchema.safeParse(tool).success).toBe(true);
      expect(tool.inputSchema.type).toBe("object");
      expect(JSON.stringify(tool.inputSchema)).not.toContain("$ref");
    }
    // Compared as data, so the file's formatting (biome's) does not matter; order does.
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(GOLDEN, `${JSON.stringify(tools, null, 2)}\n`);
    expect(tools).toEqual(JSON.parse(readFileSync(GOLDEN, "utf8")));
    // The XML-only operation cannot be a tool: it is left out, and the log says why.
    expect(tools.map((t) => t.name)).not.toContain("tools_import_xml");
    expect(session.stderr()).toContain("/import");
    expect(session.errors).toEqual([]);
  });

  test("a call goes through the proxy with path, query, header and body arguments; JSON comes back structured", async () => {
    const space = makeSpace();
    addTools(space);
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_list_items");

    const listed = await call(client, "tools_list_items", { limit: 1, tag: ["x", "y"] });
    expect(listed.isError).toBeFalsy();
    expect(listed.structuredContent).toEqual({
      items: [{ id: "1", name: "first", tags: ["a"] }],
      tags: ["x", "y"],
    });
    expect(JSON.parse(texts(listed))).toEqual(listed.structuredContent as object);

    const item = await call(client, "tools_get_item", { id: "1", "X-Trace": "abc" });
    expect(item.structuredContent).toMatchObject({ id: "1", trace: "abc" });

    const created = await call(client, "tools_create_item", { body: { name: "made", tags: ["t"] } });
    expect(created.structuredContent).toMatchObject({ name: "made", tags: ["t"] });

    const drawn = await call(client, "tools_draw_shape", { body: { radius: 2 } });
    expect(drawn.structuredContent).toEqual({ drew: { radius: 2 } });

    const greeting = await call(client, "tools_get_greeting");
    expect(texts(greeting)).toBe("hello from tools\n");
  });

  test("bad arguments are a tool error naming the argument, and nothing is sent", async () => {
    const space = makeSpace();
    addTools(space);
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_list_items");
    const wrongType = await call(client, "tools_list_items", { limit: "many" });
    expect(wrongType.isError).toBe(true);
    expect(texts(wrongType)).toContain('argument "limit"');
    const missing = await call(client, "tools_create_item", { body: { tags: [] } });
    expect(missing.isError).toBe(true);
    expect(texts(missing)).toContain("body.name");
    const missingPath = await call(client, "tools_get_item", {});
    expect(missingPath.isError).toBe(true);
    expect(texts(missingPath)).toContain("id");
    const unknown = await call(client, "no_such_tool");
    expect(unknown.isError).toBe(true);
    expect(texts(unknown)).toContain("gateway_search");
    // The store still holds its two items: the bad create was never sent.
    const listed = await call(client, "tools_list_items");
    expect((listed.structuredContent as { items: unknown[] }).items).toHaveLength(2);
  });

  test("HTTP errors come back as tool errors with the status and the problem's detail", async () => {
    const space = makeSpace();
    addTools(space);
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_get_item");
    const result = await call(client, "tools_get_item", { id: "nope" });
    expect(result.isError).toBe(true);
    expect(texts(result)).toContain("HTTP 404");
    expect(texts(result)).toContain("no item nope");
  });

  test("images come back as images, other binary as a note, and a huge body is cut with a link to all of it", async () => {
    const space = makeSpace();
    addTools(space);
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_get_picture");

    const picture = await call(client, "tools_get_picture");
    expect(picture.content[0]).toMatchObject({ type: "image", mimeType: "image/png" });
    const png = Buffer.from((picture.content[0] as { data: string }).data, "base64");
    expect([...png.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);

    const archive = await call(client, "tools_get_archive");
    expect(texts(archive)).toContain("application/octet-stream");
    expect(texts(archive)).toContain("3000 bytes");

    const bigName = (await toolNames(client)).find((name) => name.startsWith("tools_get_big_list"))!;
    expect(bigName).toMatch(/_[0-9a-f]{6}$/);
    const big = await call(client, bigName, { count: 5000 });
    expect(big.isError).toBeFalsy();
    expect(big.structuredContent).toBeUndefined();
    const shown = (big.content[0] as { text: string }).text;
    expect(shown.length).toBeLessThanOrEqual(24 * 1024);
    const prefix = JSON.parse(shown) as { count: number; records: unknown[] };
    expect(prefix.count).toBe(5000);
    expect(prefix.records.length).toBeGreaterThan(10);
    expect(prefix.records.length).toBeLessThan(5000);
    expect(texts(big)).toContain("items of records");
    const link = big.content.find((c) => c.type === "resource_link") as { uri: string } | undefined;
    expect(link?.uri).toMatch(/^gateway-response:\/\/\d+$/);
    const whole = await client.readResource({ uri: link!.uri });
    const full = JSON.parse((whole.contents[0] as { text: string }).text) as { records: unknown[] };
    expect(full.records).toHaveLength(5000);
  });

  test("the tool list follows a provider stopping and starting, and says so", async () => {
    const space = makeSpace();
    addTools(space);
    addEchoProvider(space, "other");
    const session = await startStdio(space);
    const { client } = session;
    const before = await waitFor("both providers' tools", async () => {
      const names = await toolNames(client);
      return names.includes("tools_list_items") && names.includes("other_list_items") && names;
    });
    const changesBefore = session.changes();

    const stopped = await call(client, "gateway_stop", { code: "tools" });
    expect(stopped.isError).toBeFalsy();
    await waitFor("a list_changed after the stop", () => session.changes() > changesBefore);
    const during = await waitForTool(client, "tools_list_items", false);
    expect(during).toContain("other_list_items");

    const changesStopped = session.changes();
    await call(client, "gateway_start", { code: "tools" });
    await waitFor("a list_changed after the start", () => session.changes() > changesStopped);
    // The same names, in the same order, as before the stop.
    expect(await waitForTool(client, "tools_list_items")).toEqual(before);
  });

  test("a call made while its provider restarts waits for the new process instead of failing", async () => {
    const space = makeSpace();
    addTools(space);
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_get_item");
    const restarted = await call(client, "gateway_restart", { code: "tools" });
    expect(restarted.isError).toBeFalsy();
    const item = await call(client, "tools_get_item", { id: "1" });
    expect(texts(item)).not.toContain("HTTP");
    expect(item.isError).toBeFalsy();
    expect(item.structuredContent).toMatchObject({ id: "1" });
  });

  test("a call to a provider that stays starting past its hold waits on, with progress notifications", async () => {
    const space = makeSpace();
    const flag = join(space.root, "ready");
    writeFileSync(flag, "");
    addFixtureProvider(space, "tools", "tools.ts", { env: { READY_FLAG: flag }, hold: "300ms" });
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_get_item");
    rmSync(flag);
    await call(client, "gateway_restart", { code: "tools" });
    const progress: string[] = [];
    const pending = client.callTool({ name: "tools_get_item", arguments: { id: "1" } }, undefined, {
      onprogress: (notification) => {
        progress.push(notification.message ?? "");
      },
    });
    await waitFor("a progress notification", () => progress.length > 0);
    expect(progress[0]).toMatch(/"tools" is (starting|restarting)/);
    writeFileSync(flag, "");
    const item = (await pending) as CallToolResult;
    expect(item.isError).toBeFalsy();
    expect(item.structuredContent).toMatchObject({ id: "1" });
  });

  test("search, describe and call reach every operation, and the gateway tools follow the admin API's rules", async () => {
    const space = makeSpace();
    addTools(space);
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_get_picture");

    const found = await call(client, "gateway_search", { query: "picture" });
    const matches = (found.structuredContent as { matches: Array<{ name: string; method: string }> }).matches;
    expect(matches[0]).toMatchObject({ name: "tools_get_picture", method: "GET" });

    const described = await call(client, "gateway_describe", { name: "tools_create_item" });
    expect(described.structuredContent).toMatchObject({
      name: "tools_create_item",
      _meta: {
        provider: "tools",
        method: "POST",
        path: "/api/v1/tools/items",
        operationId: "tools_createItem",
      },
    });

    const called = await call(client, "gateway_call", { name: "tools_get_item", arguments: { id: "2" } });
    expect(called.structuredContent).toMatchObject({ id: "2", name: "second" });

    const providers = await call(client, "gateway_providers");
    expect(
      (providers.structuredContent as { providers: Array<{ code: string }> }).providers.map((p) => p.code),
    ).toEqual(["tools"]);
    const one = await call(client, "gateway_provider", { code: "tools" });
    expect(one.structuredContent).toMatchObject({ code: "tools", status: "ready" });
    const logs = await call(client, "gateway_logs", { code: "tools", tail: 5 });
    expect(JSON.stringify(logs.structuredContent)).toContain("tools listening");

    const unknown = await call(client, "gateway_restart", { code: "nobody" });
    expect(unknown.isError).toBe(true);
    expect(texts(unknown)).toContain("HTTP 404");
    const badArgs = await call(client, "gateway_logs", { code: "tools", lines: 5 });
    expect(badArgs.isError).toBe(true);
    expect(texts(badArgs)).toContain("lines");
  });

  test("resources: the merged document, each provider's, and the provider list", async () => {
    const space = makeSpace();
    addTools(space);
    const { client } = await startStdio(space);
    await waitForTool(client, "tools_list_items");
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual([
      "openapi://gateway",
      "gateway://providers",
      "gateway://skipped",
      "openapi://tools",
    ]);
    const skipped = JSON.parse(
      ((await client.readResource({ uri: "gateway://skipped" })).contents[0] as { text: string }).text,
    );
    expect(skipped.skipped).toEqual([
      {
        provider: "tools",
        method: "POST",
        path: "/api/v1/tools/import",
        reason: expect.stringContaining("application/xml"),
      },
    ]);
    const merged = JSON.parse(
      ((await client.readResource({ uri: "openapi://gateway" })).contents[0] as { text: string }).text,
    );
    expect(Object.keys(merged.paths)).toContain("/api/v1/tools/items");
    const own = JSON.parse(
      ((await client.readResource({ uri: "openapi://tools" })).contents[0] as { text: string }).text,
    );
    expect(own.info.title).toBe("tools");
    const list = JSON.parse(
      ((await client.readResource({ uri: "gateway://providers" })).contents[0] as { text: string }).text,
    );
    expect(list.providers[0].code).toBe("tools");
    await expect(client.readResource({ uri: "openapi://nobody" })).rejects.toThrow(/404/);
  });

  test("past 100 operations only the gateway's tools are listed, and search still finds every operation", async () => {
    const space = makeSpace();
    const paths: Record<string, unknown> = {};
    for (let i = 0; i < 120; i++) {
      paths[`/things/${i}`] = {
        get: { operationId: `getThing${i}`, responses: { "200": { description: "A thing" } } },
      };
    }
    const spec = { openapi: "3.1.0", info: { title: "many", version: "1" }, paths };
    addProvider(space, "many", echoManifest("many", { spec: "./openapi.json" }), {
      fixtures: ["echo.ts"],
      files: { "openapi.json": JSON.stringify(spec) },
    });
    const { client } = await startStdio(space);
    await waitFor("the many operations in the catalogue", async () => {
      const found = await call(client, "gateway_search", { query: "thing", provider: "many" });
      return (found.structuredContent as { total: number }).total === 120;
    });
    const names = await toolNames(client);
    expect(names.every((name) => name.startsWith("gateway_"))).toBe(true);
    const called = await call(client, "gateway_call", { name: "many_get_thing117", arguments: {} });
    expect(called.structuredContent).toMatchObject({ path: "/things/117" });
  });
});

describe("/mcp over streamable HTTP", () => {
  test("serves the same tools as gateway mcp, a session per client", async () => {
    const space = makeSpace();
    addTools(space);
    const gateway = await spawnGateway(serveArgs(space));
    const first = await connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`)), () => "");
    const second = await connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`)), () => "");
    await waitForTool(first.client, "tools_list_items");
    const golden = (JSON.parse(readFileSync(GOLDEN, "utf8")) as Array<{ name: string }>).map((t) => t.name);
    expect(await toolNames(first.client)).toEqual(golden);
    expect(await toolNames(second.client)).toEqual(golden);
    const item = await call(second.client, "tools_get_item", { id: "1" });
    expect(item.structuredContent).toMatchObject({ id: "1", name: "first" });
    // A stop reaches both sessions as a list change.
    const before = first.changes() + second.changes();
    await call(first.client, "gateway_stop", { code: "tools" });
    await waitFor("list_changed on both sessions", () => first.changes() + second.changes() >= before + 2);
  });

  test("is guarded like the admin routes, refuses other origins and ended sessions", async () => {
    const space = makeSpace();
    addTools(space);
    const gateway = await spawnGateway(serveArgs(space, "--admin-token", "s3cret-token-for-mcp"));
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    };
    const post = (headers: Record<string, string>, body: object = initialize) =>
      fetch(`${gateway.url}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: JSON.stringify(body),
      });
    expect((await post({})).status).toBe(401);
    const auth = { authorization: "Bearer s3cret-token-for-mcp" };
    const foreign = await post({ ...auth, origin: "http://evil.example" });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { detail: string }).detail).toContain("another origin");
    const ended = await post(
      { ...auth, "mcp-session-id": "00000000-0000-0000-0000-000000000000" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
    );
    expect(ended.status).toBe(404);
    const session = await connect(
      new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), { requestInit: { headers: auth } }),
      () => "",
    );
    await waitForTool(session.client, "tools_list_items");
    // Its gateway tools pass the admin token on.
    const stopped = await call(session.client, "gateway_stop", { code: "tools" });
    expect(stopped.isError).toBeFalsy();
  });
});
