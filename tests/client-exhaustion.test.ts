/**
 * No client can exhaust the gateway: a head sent slowly (slowloris) or not at all gets 408 at
 * --header-timeout, an idle keep-alive connection closes at --idle-timeout (a quiet response
 * stream never does), a stalled request body is cut, connections past --max-connections get a
 * short 503, and running out of file descriptors never crashes or wedges the listener. Real
 * gateway subprocesses and raw sockets.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  addEchoProvider,
  BUN,
  cleanup,
  makeSpace,
  REPO_ROOT,
  request,
  type Space,
  spawnGateway,
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

async function connect(url: string): Promise<WireClient> {
  const client = await WireClient.connect(url);
  sockets.push(client);
  return client;
}

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`;

async function gatewayWithEcho(space: Space, ...flags: string[]) {
  addEchoProvider(space, "echo");
  const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0", ...flags]);
  await waitForStatus(gw.url, "echo", "ready");
  return gw;
}

describe("timeouts", () => {
  test("a head trickled in byte by byte gets 408 at --header-timeout and is closed; so does a connection that sends nothing", async () => {
    const space = makeSpace();
    const gw = await gatewayWithEcho(space, "--header-timeout", "600ms");
    const slow = await connect(gw.url);
    const silent = await connect(gw.url);
    const started = Date.now();
    await slow.write("GET /api/v1/echo/x HTTP/1.1\r\nHost: test\r\n");
    // Keeps sending, so only a deadline on the whole head (not on silence) can stop it.
    const trickle = setInterval(() => void slow.write("X-Slow: 1\r\n").catch(() => {}), 100);
    try {
      const answer = await slow.readResponse({ timeoutMs: 5000 });
      expect(answer.status).toBe(408);
      expect(answer.header("content-type")).toBe("application/problem+json");
      expect(answer.json<{ detail: string }>().detail).toContain("--header-timeout");
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
      expect(await slow.waitClosed(3000)).toBe(true);
    } finally {
      clearInterval(trickle);
    }
    expect((await silent.readResponse({ timeoutMs: 5000 })).status).toBe(408);
    expect(await silent.waitClosed(3000)).toBe(true);
    // Others were served all along.
    expect((await request(`${gw.url}/api/v1/echo/x`)).status).toBe(200);
  });

  test("a keep-alive connection with nothing in flight closes at --idle-timeout; a quiet event stream stays open", async () => {
    const space = makeSpace();
    const gw = await gatewayWithEcho(space, "--idle-timeout", "1s", "--header-timeout", "5s");
    const idle = await connect(gw.url);
    await idle.write(GET("/api/v1/echo/x"));
    expect((await idle.readResponse()).status).toBe(200);
    const events = await connect(gw.url);
    await events.write(GET("/_gateway/events"));
    await events.waitUntil("the stream's head", (b) => b.includes("\r\n\r\n"));
    expect(await idle.waitClosed(5000)).toBe(true);
    // The stream says nothing for 15 s between pings: being quiet is no reason to cut it.
    await Bun.sleep(1500);
    expect(events.closed).toBe(false);
  });

  test("a request body that stalls is answered 408 after --idle-timeout and the connection closed", async () => {
    const space = makeSpace();
    const gw = await gatewayWithEcho(space, "--idle-timeout", "800ms");
    const client = await connect(gw.url);
    await client.write(
      "POST /api/v1/echo/upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    const answer = await client.readResponse({ timeoutMs: 5000 });
    expect(answer.status).toBe(408);
    expect(answer.json<{ detail: string }>().detail).toContain("no progress");
    expect(await client.waitClosed(3000)).toBe(true);
  });
});

describe("connection limits", () => {
  test("past --max-connections new connections get a short 503; an open one is still served; slots free up at the header timeout", async () => {
    const space = makeSpace();
    const gw = await gatewayWithEcho(space, "--max-connections", "20", "--header-timeout", "2s");
    const ordinary = await connect(gw.url);
    await ordinary.write(GET("/api/v1/echo/before"));
    expect((await ordinary.readResponse()).status).toBe(200);

    const slow = await Promise.all(Array.from({ length: 30 }, () => connect(gw.url)));
    for (const client of slow) await client.write("GET /api/v1/echo/x HTTP/1.1\r\nHost: te");
    // At most 19 fit beside the ordinary client (fewer if the test's own fetch pool holds a
    // connection); the rest are turned away at once.
    await waitFor(
      "the connections over the limit to be refused",
      () => slow.filter((c) => c.closed).length >= 11,
    );
    await Bun.sleep(200);
    const refused = slow.filter((client) => client.closed);
    expect(slow.length - refused.length).toBeGreaterThanOrEqual(15);
    expect(slow.length - refused.length).toBeLessThanOrEqual(19);
    for (const client of refused) {
      const text = client.buffered.toString("latin1");
      expect(text).toStartWith("HTTP/1.1 503 ");
      expect(text).toContain("--max-connections");
    }
    for (let i = 0; i < 5; i++) {
      await ordinary.write(GET(`/api/v1/echo/during-${i}`));
      expect((await ordinary.readResponse()).status).toBe(200);
    }
    // The slow ones hold their slots until the header timeout, then newcomers get in.
    await waitFor("the slow connections to be closed", () => slow.every((client) => client.closed), {
      timeoutMs: 10_000,
    });
    expect((await request(`${gw.url}/api/v1/echo/after`)).status).toBe(200);
  });

  test("running out of file descriptors does not crash or wedge the gateway: it serves again once they are free", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    // 256 descriptors, and a connection cap far above what they allow.
    const gw = await spawnGateway(
      ["--providers-dir", space.providersDir, "--port", "0", "--max-connections", "5000"],
      { cmd: ["bash", "-c", 'ulimit -n 256 && exec "$@"', "gateway", BUN, `${REPO_ROOT}/main.ts`] },
    );
    await waitForStatus(gw.url, "echo", "ready");
    const keeper = await connect(gw.url);
    await keeper.write(GET("/api/v1/echo/before"));
    expect((await keeper.readResponse()).status).toBe(200);

    const flood = await Promise.all(Array.from({ length: 400 }, () => connect(gw.url)));
    await Bun.sleep(500);
    // While it has no descriptor to spare, a request on an open connection ends (answered, or a
    // 502 when no upstream connection can be opened), and the gateway stays up.
    await keeper.write(GET("/api/v1/echo/during"));
    const during = await keeper.readResponse({ timeoutMs: 10_000 }).catch(() => null);
    if (during) expect([200, 502]).toContain(during.status);
    expect(gw.proc.exitCode).toBeNull();

    for (const client of flood) client.destroy();
    const back = await waitFor("the gateway to serve again", async () => {
      const response = await request(`${gw.url}/api/v1/echo/after`);
      return response.status === 200 && response;
    });
    expect(back.status).toBe(200);
    expect((await request(`${gw.url}/healthz`)).status).toBe(200);
    expect(gw.proc.exitCode).toBeNull();
  });
});
