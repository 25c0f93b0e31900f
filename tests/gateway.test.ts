/**
 * Integration tests of the HTTP surface: a gateway started in-process on an ephemeral port in
 * front of real fixture providers (tests/fixtures/), over real sockets.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProviderView } from "../lib/supervisor/status.ts";
import {
  addEchoProvider,
  addProvider,
  cleanup,
  getProvider,
  getProviders,
  isAlive,
  makeSpace,
  markedProcesses,
  rawStatus,
  request,
  startUnderTest,
  waitFor,
  waitForRefused,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

interface Echo {
  provider: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

function expectProblem(
  response: { status: number; headers: Headers; body: unknown },
  status: number,
): Problem {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toStartWith("application/problem+json");
  const body = response.body as Problem;
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  expect(body.detail).toBeString();
  return body;
}

describe("proxy", () => {
  test("proxy forwards to a real provider with the namespace stripped and the query kept", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "echo", "ready");

    const get = await request<Echo>(`${gw.url}/api/v1/echo/items/42?x=1&y=a%20b&x=2`);
    expect(get.status).toBe(200);
    expect(get.body).toMatchObject({
      provider: "echo",
      method: "GET",
      path: "/items/42",
      query: "?x=1&y=a%20b&x=2",
    });
    expect(get.headers.get("x-request-id")).toBeTruthy();

    const post = await request<Echo>(`${gw.url}/api/v1/echo/items`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "bolt" }),
    });
    expect(post.status).toBe(200);
    expect(post.body).toMatchObject({ method: "POST", path: "/items", body: '{"name":"bolt"}' });

    const bare = await request<Echo>(`${gw.url}/api/v1/echo`);
    expect(bare.status).toBe(200);
    expect(bare.body.path).toBe("/");
  });

  test("<namespace>/health reaches the provider's own health route", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "echo", "ready");

    const health = await request(`${gw.url}/api/v1/echo/health`);
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true, provider: "echo" });
  });

  test("routing is segment-exact: /api/v1/ab is not inside /api/v1/a", async () => {
    const space = makeSpace();
    addEchoProvider(space, "a", { namespace: "/api/v1/a" });
    addEchoProvider(space, "ab", { namespace: "/api/v1/ab" });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "a", "ready");
    await waitForStatus(gw.url, "ab", "ready");

    const toAb = await request<Echo>(`${gw.url}/api/v1/ab/x`);
    expect(toAb.body).toMatchObject({ provider: "ab", path: "/x" });
    const toA = await request<Echo>(`${gw.url}/api/v1/a/x`);
    expect(toA.body).toMatchObject({ provider: "a", path: "/x" });
    const aRoot = await request<Echo>(`${gw.url}/api/v1/a`);
    expect(aRoot.body).toMatchObject({ provider: "a", path: "/" });

    for (const path of ["/api/v1/abc/x", "/api/v1/abc", "/api/v1", "/nowhere"]) {
      const miss = await request(`${gw.url}${path}`);
      expect(expectProblem(miss, 404).detail).toContain(path);
    }
  });

  test("a namespace answers 503 with Retry-After until its provider is healthy; /readyz names it meanwhile", async () => {
    const space = makeSpace();
    const flag = join(space.root, "slow.ready");
    addEchoProvider(space, "slow", {
      env: { READY_FLAG: flag },
      health: { path: "/health", interval: "1s", startup_timeout: "5m" },
    });
    addEchoProvider(space, "fast");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "fast", "ready");
    // The slow one is up but its health check answers 503 until the flag file exists.
    await waitFor("the slow provider's process to log its start", async () => {
      const { lines } = (
        await request<{ lines: Array<{ line: string }> }>(`${gw.url}/_gateway/providers/slow/logs`)
      ).body;
      return lines.some((l) => l.line.startsWith("echo slow listening"));
    });
    expect((await getProvider(gw.url, "slow")).status).toBe("starting");

    const gated = await request(`${gw.url}/api/v1/slow/items`);
    expect(expectProblem(gated, 503).detail).toContain('"slow"');
    expect(Number(gated.headers.get("retry-after"))).toBeGreaterThan(0);

    const notReady = await request<Problem & { waiting: Array<{ code: string; status: string }> }>(
      `${gw.url}/readyz`,
    );
    expect(expectProblem(notReady, 503).detail).toContain("slow is starting");
    expect(notReady.body.waiting).toEqual([{ code: "slow", status: "starting" }]);
    expect((await request(`${gw.url}/healthz`)).status).toBe(200);
    expect((await request(`${gw.url}/api/v1/fast/items`)).status).toBe(200);

    writeFileSync(flag, "");
    await waitForStatus(gw.url, "slow", "ready");
    const through = await request<Echo>(`${gw.url}/api/v1/slow/items`);
    expect(through.status).toBe(200);
    expect(through.body.provider).toBe("slow");
    const ready = await request(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  test("an upstream that refuses connections answers 502 problem+json", async () => {
    const space = makeSpace();
    // A liveness interval far beyond the test, so the gateway still believes the provider ready.
    addEchoProvider(space, "echo", {
      health: { path: "/health", interval: "10m", startup_timeout: "20s" },
      restart: { policy: "never" },
    });
    const gw = await startUnderTest(space);
    const view = await waitForStatus(gw.url, "echo", "ready");

    expect((await request(`${gw.url}/api/v1/echo/close`)).status).toBe(200);
    await waitForRefused(view.upstream!);
    // A connection the gateway kept alive may still have been closed under it only now: poll.
    const refused = await waitFor("a 502", async () => {
      const response = await request(`${gw.url}/api/v1/echo/items`);
      return response.status === 502 ? response : undefined;
    });
    expect(expectProblem(refused, 502).detail).toContain('"echo"');
    expect(refused.headers.get("x-request-id")).toBeTruthy();
    expect(isAlive(view.pid!)).toBe(true);
  });
  test("an upstream that sends no response headers within the manifest timeout answers 504", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo", { timeout: "300ms" });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "echo", "ready");
    const late = await request(`${gw.url}/api/v1/echo/sleep?ms=15000`);
    expect(expectProblem(late, 504).detail).toContain('"echo"');
    expect((await request(`${gw.url}/api/v1/echo/sleep?ms=0`)).status).toBe(200);
  });

  test("an encoded separator cannot take a request out of its provider's namespace", async () => {
    const space = makeSpace();
    addEchoProvider(space, "a", { namespace: "/api/v1/a" });
    addEchoProvider(space, "ab", { namespace: "/api/v1/ab" });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "a", "ready");
    await waitForStatus(gw.url, "ab", "ready");
    // Encoded slashes and backslashes are not separators (WHATWG URL): these stay inside a.
    const encoded = [
      "/api/v1/a/..%2fab/x",
      "/api/v1/a/..%2Fab%2Fx",
      "/api/v1/a/%2e%2e%2fab%2fx",
      "/api/v1/a/..%5cab/x",
      "/api/v1/a/%2e%2e%5cab%5cx",
      "/api/v1/a//../ab/x",
    ];
    for (const target of encoded) {
      const { status, response } = await rawStatus(gw.url, target);
      const reached = /"provider":"([^"]+)"/.exec(response)?.[1];
      // Refused by the gateway, or kept inside provider a: never provider ab.
      expect({ target, ok: (status >= 400 && status < 500) || (status === 200 && reached === "a") }).toEqual({
        target,
        ok: true,
      });
    }
    // Dot segments, plain or percent-encoded, are one and the same (WHATWG URL): the gateway
    // resolves them before routing and forwards what it routed on, so router and provider agree.
    for (const target of [
      "/api/v1/a/../ab/x",
      "/api/v1/a/%2e%2e/ab/x",
      "/api/v1/a/%2E%2E/ab/x",
      "/api/v1/a/.%2e/ab/x",
    ]) {
      const { status, response } = await rawStatus(gw.url, target);
      const agreed =
        status === 200 && response.includes('"provider":"ab"') && response.includes('"path":"/x"');
      expect({ target, ok: (status >= 400 && status < 500) || agreed }).toEqual({ target, ok: true });
    }
  });
});

describe("admin API", () => {
  test("providers and elements report the configured namespace and element; the element file is served under /assets", async () => {
    const space = makeSpace();
    const script = "customElements.define('core-shapes', class extends HTMLElement {});\n";
    addProvider(
      space,
      "shapes-dir",
      {
        code: "shapes",
        name: "Shapes",
        version: "1.2.3",
        namespace: "/api/v2/shapes",
        runtime: "bun",
        entry: "./echo.ts",
        health: { path: "/health" },
        element: { tag: "core-shapes", source: "./assets/core-shapes.js" },
      },
      { fixtures: ["echo.ts"], files: { "assets/core-shapes.js": script, "secret.txt": "not for you" } },
    );
    // A sibling whose manifest must not be reachable through the first one's assets.
    addEchoProvider(space, "other");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "shapes", "ready");

    const views = await getProviders(gw.url);
    const shapes = views.find((view) => view.code === "shapes")!;
    expect(shapes).toMatchObject({
      code: "shapes",
      name: "Shapes",
      namespace: "/api/v2/shapes",
      runtime: "bun",
      status: "ready",
      version: "1.2.3",
      restarts: 0,
      last_error: null,
      element: { tag: "core-shapes", url: "/assets/shapes/assets/core-shapes.js" },
    });
    expect(shapes.upstream).toBe(`http://127.0.0.1:${shapes.port}`);
    expect(shapes.pid).toBeNumber();
    expect((await request<Echo>(`${gw.url}/api/v2/shapes/x`)).body.provider).toBe("shapes");

    const elements = await request(`${gw.url}/_gateway/elements`);
    expect(elements.body).toEqual([
      { provider: "shapes", tag: "core-shapes", url: "/assets/shapes/assets/core-shapes.js" },
    ]);

    const asset = await request(`${gw.url}/assets/shapes/assets/core-shapes.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect(asset.text).toBe(script);

    const escapes = [
      "/assets/shapes/../manifest.yaml",
      "/assets/shapes/assets/../manifest.yaml",
      "/assets/shapes/assets/..%2Fmanifest.yaml",
      "/assets/shapes/assets/%2e%2e/manifest.yaml",
      "/assets/shapes/assets/%2e%2e%2fsecret.txt",
      "/assets/shapes/assets/..%5csecret.txt",
      "/assets/shapes/manifest.yaml",
      "/assets/shapes/secret.txt",
      "/assets/shapes/assets/..%2f..%2fother%2fmanifest.yaml",
      "/assets/shapes/%2e%2e%2f%2e%2e%2fother%2fmanifest.yaml",
      "/assets/shapes/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ];
    for (const target of escapes) {
      const { status, response } = await rawStatus(gw.url, target);
      // Named in the assertion so a failure says which path got through.
      expect({ target, refused: [400, 403, 404].includes(status) }).toEqual({ target, refused: true });
      expect(response).not.toContain("not for you");
      expect(response).not.toContain("entry: ./echo.ts");
      expect(response).not.toContain("root:");
    }
  });

  test("a symlink in the element folder that leads out of the provider dir is not served", async () => {
    const space = makeSpace();
    const outside = join(space.root, "outside-secret.txt");
    writeFileSync(outside, "host secret");
    const dir = addProvider(
      space,
      "shapes",
      {
        code: "shapes",
        runtime: "bun",
        entry: "./echo.ts",
        health: { path: "/health" },
        element: { tag: "core-shapes", source: "./assets/core-shapes.js" },
      },
      { fixtures: ["echo.ts"], files: { "assets/core-shapes.js": "// element\n" } },
    );
    symlinkSync(outside, join(dir, "assets", "leak.txt"));
    symlinkSync("/etc", join(dir, "assets", "etc"));
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "shapes", "ready");
    expect((await request(`${gw.url}/assets/shapes/assets/core-shapes.js`)).status).toBe(200);
    for (const path of ["/assets/shapes/assets/leak.txt", "/assets/shapes/assets/etc/hostname"]) {
      const response = await request(`${gw.url}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(response.text).not.toContain("host secret");
    }
  });

  test("a provider gets the contract's environment and runs in its own directory", async () => {
    const space = makeSpace();
    const dir = addEchoProvider(space, "envy", {
      namespace: "/api/v1/envy",
      env: { FIXTURE_GREETING: "hi there", FIXTURE_NUMBER: 42 },
    });
    const gw = await startUnderTest(space);
    const view = await waitForStatus(gw.url, "envy", "ready");

    const { status, body } = await request<{ cwd: string; pid: number; env: Record<string, string> }>(
      `${gw.url}/api/v1/envy/env`,
    );
    expect(status).toBe(200);
    expect(body.cwd).toBe(realpathSync(dir));
    expect(body.env).toEqual({
      PORT: String(view.port),
      CORE_PROVIDER_NAME: "envy",
      CORE_PROVIDER_NAMESPACE: "/api/v1/envy",
      CORE_GATEWAY_URL: gw.url,
      CORE_PROVIDER_MAGIC_COOKIE: "core-provider-v1",
      FIXTURE_GREETING: "hi there",
      FIXTURE_NUMBER: "42",
    });
    // The process the gateway supervises is the one that serves.
    expect(body.pid).toBe(view.pid!);
  });

  test("POST /_gateway/providers/:code/restart answers 202 and the provider comes back ready with a new pid", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "echo", "ready");

    const restart = await request<{ accepted: string; provider: ProviderView }>(
      `${gw.url}/_gateway/providers/echo/restart`,
      { method: "POST" },
    );
    expect(restart.status).toBe(202);
    expect(restart.body.accepted).toBe("restart");

    const after = await waitFor("the provider to be ready again with a new pid", async () => {
      const view = await getProvider(gw.url, "echo");
      return view.status === "ready" && view.pid !== before.pid ? view : undefined;
    });
    expect(after.pid).toBeNumber();
    await waitFor("the old process to be gone", () => !isAlive(before.pid!));
    expect(markedProcesses(space.marker).map((p) => p.pid)).toEqual([after.pid!]);
    const through = await request<{ pid: number }>(`${gw.url}/api/v1/echo/env`);
    expect(through.body.pid).toBe(after.pid!);
  });

  test("POST stop ends the provider's process and gates its namespace; POST start brings it back", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "echo", "ready");

    expect((await request(`${gw.url}/_gateway/providers/echo/stop`, { method: "POST" })).status).toBe(202);
    const stopped = await waitForStatus(gw.url, "echo", "stopped");
    expect(stopped.pid).toBeNull();
    expect(await waitFor("no process left", () => markedProcesses(space.marker).length === 0)).toBe(true);
    expect(isAlive(before.pid!)).toBe(false);
    expectProblem(await request(`${gw.url}/api/v1/echo/items`), 503);
    expect((await request(`${gw.url}/readyz`)).status).toBe(503);

    expect((await request(`${gw.url}/_gateway/providers/echo/start`, { method: "POST" })).status).toBe(202);
    await waitForStatus(gw.url, "echo", "ready");
    expect((await request(`${gw.url}/api/v1/echo/items`)).status).toBe(200);
    expect((await request(`${gw.url}/_gateway/providers/nope/restart`, { method: "POST" })).status).toBe(404);
  });

  test("the logs endpoint returns the provider's recent stdout and stderr lines", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "echo", "ready");

    const token = `line-${crypto.randomUUID()}`;
    expect((await request(`${gw.url}/api/v1/echo/log?line=${token}`)).status).toBe(200);
    type Logs = { provider: string; lines: Array<{ time: string; stream: string; line: string }> };
    const logs = await waitFor("the provider's lines in its logs", async () => {
      const { body } = await request<Logs>(`${gw.url}/_gateway/providers/echo/logs?tail=50`);
      return body.lines.some((l) => l.line === `err:${token}`) ? body : undefined;
    });
    expect(logs.provider).toBe("echo");
    expect(logs.lines).toContainEqual({ time: expect.any(String), stream: "stdout", line: token });
    expect(logs.lines).toContainEqual({ time: expect.any(String), stream: "stderr", line: `err:${token}` });
    expect(logs.lines.some((l) => l.stream === "stdout" && l.line.startsWith("echo echo listening on"))).toBe(
      true,
    );

    const one = await request<Logs>(`${gw.url}/_gateway/providers/echo/logs?tail=1`);
    expect(one.body.lines).toHaveLength(1);
    expect((await request(`${gw.url}/_gateway/providers/nope/logs`)).status).toBe(404);
  });
});

describe("admin API access and events", () => {
  test("with an admin token, mutating routes need it as a Bearer token; reads do not", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space, { adminToken: "s3cret-token" });
    await waitForStatus(gw.url, "echo", "ready");
    const restart = `${gw.url}/_gateway/providers/echo/restart`;
    expectProblem(await request(restart, { method: "POST" }), 401);
    expectProblem(
      await request(restart, { method: "POST", headers: { authorization: "Bearer wrong" } }),
      401,
    );
    expect((await getProvider(gw.url, "echo")).status).toBe("ready");
    const ok = await request(restart, { method: "POST", headers: { authorization: "Bearer s3cret-token" } });
    expect(ok.status).toBe(202);
    expect((await request(`${gw.url}/_gateway/providers`)).status).toBe(200);
  });

  test("/_gateway/events streams status changes as server-sent events", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "echo", "ready");
    const controller = new AbortController();
    const response = await fetch(`${gw.url}/_gateway/events`, { signal: controller.signal });
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toStartWith("text/event-stream");
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      // One read in flight at a time, kept across polls so no chunk is dropped.
      let pending: ReturnType<typeof reader.read> | null = null;
      const readUntil = async (what: string, done: () => boolean) =>
        waitFor(what, async () => {
          if (done()) return true;
          pending ??= reader.read();
          const chunk = await Promise.race([pending, Bun.sleep(500).then(() => null)]);
          if (chunk) {
            pending = null;
            if (chunk.value) text += decoder.decode(chunk.value, { stream: true });
          }
          return done();
        });
      await readUntil("the snapshot", () => text.includes("event: snapshot"));
      expect(text).toContain('"code":"echo"');
      expect((await request(`${gw.url}/_gateway/providers/echo/restart`, { method: "POST" })).status).toBe(
        202,
      );
      const statusEvents = () =>
        sseEvents(text)
          .filter((event) => event.event === "status")
          .map((event) => ({ id: event.id, ...(JSON.parse(event.data) as { code: string; to: string }) }));
      await readUntil("a status event back to ready", () =>
        statusEvents().some((event) => event.code === "echo" && event.to === "ready"),
      );
      // A restart never passes through "stopped": requests wait for the new process meanwhile.
      expect(statusEvents().map((event) => event.to)).toEqual(["restarting", "starting", "ready"]);
      // Every event has an id, one more than the last.
      const ids = statusEvents().map((event) => Number(event.id));
      expect(ids).toEqual([ids[0]!, ids[0]! + 1, ids[0]! + 2]);
      const snapshotId = Number(sseEvents(text).find((event) => event.event === "snapshot")!.id);
      expect(ids[0]).toBe(snapshotId + 1);

      // A client that reconnects with Last-Event-ID gets exactly what it missed, and no snapshot.
      const resumed = await readEvents(
        `${gw.url}/_gateway/events`,
        { "last-event-id": String(snapshotId) },
        3,
      );
      expect(resumed.map((event) => [event.id, event.event, JSON.parse(event.data).to])).toEqual([
        [String(ids[0]), "status", "restarting"],
        [String(ids[1]), "status", "starting"],
        [String(ids[2]), "status", "ready"],
      ]);
      // An id this gateway never gave (from before it restarted, say) gets a snapshot instead.
      const unknown = await readEvents(`${gw.url}/_gateway/events?last_event_id=999999`, {}, 1);
      expect(unknown.map((event) => event.event)).toEqual(["snapshot"]);
    } finally {
      controller.abort();
    }
  });
});

/** The events of an SSE text (comments dropped): `id`, `event` and `data` of each. */
function sseEvents(text: string): Array<{ id?: string; event?: string; data: string }> {
  return text
    .split("\n\n")
    .map((block) => {
      const event: { id?: string; event?: string; data: string } = { data: "" };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(": ");
        if (line.startsWith(":") || colon < 0) continue;
        const [field, value] = [line.slice(0, colon), line.slice(colon + 2)];
        if (field === "id") event.id = value;
        else if (field === "event") event.event = value;
        else if (field === "data") event.data += value;
      }
      return event;
    })
    .filter((event) => event.event !== undefined);
}

/** Opens an event stream, reads until `count` events came, and closes it. */
async function readEvents(url: string, headers: Record<string, string>, count: number) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    return await waitFor(`${count} events from ${url}`, async () => {
      const chunk = await reader.read();
      if (chunk.value) text += decoder.decode(chunk.value, { stream: true });
      const events = sseEvents(text);
      return events.length >= count && events;
    });
  } finally {
    controller.abort();
  }
}

describe("gateway routes", () => {
  test("/healthz answers 200 and /readyz 200 once every provider is ready", async () => {
    const space = makeSpace();
    addEchoProvider(space, "one");
    addEchoProvider(space, "two");
    const gw = await startUnderTest(space);
    expect((await request(`${gw.url}/healthz`)).status).toBe(200);
    await waitForStatus(gw.url, "one", "ready");
    await waitForStatus(gw.url, "two", "ready");
    const ready = await request(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  test("/openapi.json holds each provider's spec paths under its namespace", async () => {
    const space = makeSpace();
    // One spec fetched from the provider's own /openapi.json, one from a file in its dir.
    addEchoProvider(space, "echo");
    addEchoProvider(space, "specced", {
      spec: "./openapi.yaml",
    });
    writeFileSync(
      join(space.providersDir, "specced", "openapi.yaml"),
      [
        "openapi: 3.0.3",
        "info: { title: specced, version: 1.0.0 }",
        "paths:",
        "  /things/{id}:",
        "    get:",
        "      operationId: getThing",
        "      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]",
        "      responses: { '200': { description: A thing } }",
        "",
      ].join("\n"),
    );
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "echo", "ready");
    await waitForStatus(gw.url, "specced", "ready");

    type Doc = { openapi: string; paths: Record<string, Record<string, { operationId?: string }>> };
    const doc = await waitFor("the fetched spec in /openapi.json", async () => {
      const { status, body } = await request<Doc>(`${gw.url}/openapi.json`);
      return status === 200 && body.paths["/api/v1/echo/items"] ? body : undefined;
    });
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.paths["/api/v1/echo/items"]!.get!.operationId).toBe("echo_listItems");
    expect(doc.paths["/api/v1/specced/things/{id}"]!.get!.operationId).toBe("specced_getThing");
    expect(doc.paths["/readyz"]).toBeDefined();
    expect(doc.paths["/items"]).toBeUndefined();
  });
});
