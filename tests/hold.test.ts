/**
 * Requests never see a restart: a request for a provider that is starting or restarting waits
 * (manifest `hold`, default 2 s, `hold_queue` at most) and goes to the new process; past the
 * bound, or the cap, 503; a client that leaves is dropped from the queue; a provider that fails
 * for good releases its queue at once; a restart the gateway chooses drains first, so none is lost.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  addEchoProvider,
  cleanup,
  getProvider,
  makeSpace,
  request,
  type Space,
  startUnderTest,
  WireClient,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(90_000);

const sockets: WireClient[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  expect(await cleanup()).toEqual([]);
});

type Echo = { provider: string; method: string; body: string };
type Env = { pid: number };

/** An echo provider whose health check fails until `flag` exists (so it stays `starting`). */
function addGatedProvider(space: Space, code: string, extra: Record<string, unknown> = {}): string {
  const flag = join(space.root, `${code}.ready`);
  addEchoProvider(space, code, { env: { READY_FLAG: flag }, ...extra });
  return flag;
}

describe("holding requests", () => {
  test("a GET and a POST with a body sent while the provider restarts wait and are answered by the new process", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "echo", "ready");
    expect((await request(`${gw.url}/_gateway/providers/echo/restart`, { method: "POST" })).status).toBe(202);
    const [get, post] = await Promise.all([
      request<Env>(`${gw.url}/api/v1/echo/env`),
      request<Echo>(`${gw.url}/api/v1/echo/upload`, { method: "POST", body: "held body, sent whole" }),
    ]);
    expect(get.status).toBe(200);
    expect(get.body.pid).not.toBe(before.pid);
    expect(post.status).toBe(200);
    expect(post.body).toMatchObject({ method: "POST", body: "held body, sent whole" });
  });

  test("with hold: 0 a request to a restarting provider gets 503 at once", async () => {
    const space = makeSpace();
    const flag = addGatedProvider(space, "nohold", { hold: 0 });
    const gw = await startUnderTest(space);
    const started = Date.now();
    const answer = await request<{ detail: string }>(`${gw.url}/api/v1/nohold/x`);
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("1");
    expect(Date.now() - started).toBeLessThan(1000);
    writeFileSync(flag, "");
  });

  test("a provider not ready within its hold answers 503 after it, naming the hold", async () => {
    const space = makeSpace();
    const flag = addGatedProvider(space, "slow", { hold: "600ms" });
    const gw = await startUnderTest(space);
    const started = Date.now();
    const answer = await request<{ detail: string }>(`${gw.url}/api/v1/slow/x`);
    const waited = Date.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.body.detail).toContain("within 600 ms (its hold)");
    expect(waited).toBeGreaterThanOrEqual(550);
    expect(waited).toBeLessThan(5000);
    // Once it is ready, it is served without waiting.
    writeFileSync(flag, "");
    await waitForStatus(gw.url, "slow", "ready");
    expect((await request(`${gw.url}/api/v1/slow/x`)).status).toBe(200);
  });

  test("past hold_queue requests get 503 at once; those in the queue are served once it is ready", async () => {
    const space = makeSpace();
    const flag = addGatedProvider(space, "capped", { hold: "20s", hold_queue: 2 });
    const gw = await startUnderTest(space);
    const answers = Array.from({ length: 5 }, (_, i) => request(`${gw.url}/api/v1/capped/r${i}`));
    const settled: number[] = [];
    for (const answer of answers) void answer.then((a) => settled.push(a.status));
    await waitFor("the three over the cap to be refused", () => settled.length >= 3);
    await Bun.sleep(300);
    expect(settled).toEqual([503, 503, 503]);
    writeFileSync(flag, "");
    expect((await Promise.all(answers)).map((a) => a.status).sort()).toEqual([200, 200, 503, 503, 503]);
  });

  test("a client that goes away while held leaves the queue at once", async () => {
    const space = makeSpace();
    const flag = addGatedProvider(space, "leaver", { hold: "20s", hold_queue: 1 });
    const gw = await startUnderTest(space);
    const leaving = await WireClient.connect(gw.url);
    sockets.push(leaving);
    await leaving.write("GET /api/v1/leaver/first HTTP/1.1\r\nHost: test\r\n\r\n");
    // The one place in the queue is taken: a second request is refused at once.
    await waitFor(
      "the queue to be full",
      async () => (await request(`${gw.url}/api/v1/leaver/x`)).status === 503,
    );
    leaving.destroy();
    // Its place frees as soon as the gateway sees the close: then a new request waits, unanswered.
    const waiting = await waitFor("a request to wait in the freed place", async () => {
      const client = await WireClient.connect(gw.url);
      sockets.push(client);
      await client.write("GET /api/v1/leaver/second HTTP/1.1\r\nHost: test\r\n\r\n");
      const answered = await client.readResponse({ timeoutMs: 300 }).catch(() => null);
      if (answered === null) return client;
      expect(answered.status).toBe(503);
      client.destroy();
      return null;
    });
    writeFileSync(flag, "");
    expect((await waiting.readResponse()).status).toBe(200);
  });

  test("a provider that fails for good while requests wait releases them with 503 at once", async () => {
    const space = makeSpace();
    addGatedProvider(space, "doomed", {
      hold: "30s",
      health: { path: "/health", interval: "1s", startup_timeout: "800ms" },
      restart: { policy: "never" },
    });
    const gw = await startUnderTest(space);
    const started = Date.now();
    const answer = await request<{ detail: string }>(`${gw.url}/api/v1/doomed/x`);
    expect(answer.status).toBe(503);
    expect(answer.body.detail).toContain("failed");
    // Released when it failed (about 800 ms in), not after its 30 s hold.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await getProvider(gw.url, "doomed")).status).toBe("failed");
  });
});

describe("restarts the gateway chooses", () => {
  test("admin restarts under load from 8 clients lose no request", async () => {
    const space = makeSpace();
    addEchoProvider(space, "busy");
    const gw = await startUnderTest(space);
    let view = await waitForStatus(gw.url, "busy", "ready");
    let running = true;
    const statuses: number[] = [];
    const client = async () => {
      while (running) {
        try {
          const response = await fetch(`${gw.url}/api/v1/busy/items`, {
            signal: AbortSignal.timeout(10_000),
          });
          await response.arrayBuffer();
          statuses.push(response.status);
        } catch {
          statuses.push(0);
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    for (let restart = 1; restart <= 3; restart++) {
      await Bun.sleep(300);
      const pid = view.pid;
      expect((await request(`${gw.url}/_gateway/providers/busy/restart`, { method: "POST" })).status).toBe(
        202,
      );
      view = await waitFor(`restart ${restart}`, async () => {
        const now = await getProvider(gw.url, "busy");
        return now.status === "ready" && now.pid !== pid && now;
      });
    }
    await Bun.sleep(300);
    running = false;
    await Promise.all(clients);
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });
});
