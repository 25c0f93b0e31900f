/**
 * `/healthz` and `/readyz` as health checkers meet them: answered by the byte-level front itself
 * (no hop to the gateway's app), on keep-alive connections, GET and HEAD framed alike, a 503 that
 * names who is not ready, and every other method still the app's.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  addEchoProvider,
  addNeverReadyProvider,
  cleanup,
  makeSpace,
  request,
  serveArgs,
  spawnGateway,
  WireClient,
  type WireResponse,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(60_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

/** Reads the answer to a HEAD of what `get` answered: same status and Content-Length, no body. */
async function expectHeadOf(client: WireClient, get: WireResponse): Promise<void> {
  const head = await client.readResponse({ method: "HEAD" });
  expect(head.status).toBe(get.status);
  expect(head.header("content-length")).toBe(String(get.body.length));
  expect(head.body.length).toBe(0);
}

describe("health checks", () => {
  test("on one keep-alive connection: GET and HEAD of /healthz and /readyz framed alike, 503 naming who is not ready, POST still 404", async () => {
    const space = makeSpace();
    addEchoProvider(space, "quick");
    // Runs but never listens: it stays starting for the whole test.
    addNeverReadyProvider(space, "sleepy", { health: { path: "/health", startup_timeout: "60s" } });
    const gw = await spawnGateway(serveArgs(space));
    await waitForStatus(gw.url, "quick", "ready");
    const client = await WireClient.connect(gw.url);
    try {
      const host = `Host: ${new URL(gw.url).host}\r\n`;
      // Pipelined, as a checker reusing its connection may send them.
      await client.write(
        `GET /healthz HTTP/1.1\r\n${host}\r\n` +
          `HEAD /healthz HTTP/1.1\r\n${host}\r\n` +
          `GET /readyz?verbose=1 HTTP/1.1\r\n${host}X-Request-Id: checker-7\r\n\r\n` +
          `HEAD /readyz HTTP/1.1\r\n${host}\r\n` +
          `POST /healthz HTTP/1.1\r\n${host}Content-Length: 0\r\n\r\n` +
          `GET /healthz HTTP/1.1\r\n${host}Connection: close\r\n\r\n`,
      );
      const healthz = await client.readResponse();
      expect(healthz.status).toBe(200);
      expect(healthz.header("content-type")).toBe("application/json");
      expect(healthz.json()).toEqual({ status: "ok" });
      expect(healthz.header("x-request-id")).toBeTruthy();
      expect(Math.abs(Date.parse(healthz.header("date") ?? "") - Date.now())).toBeLessThan(60_000);

      await expectHeadOf(client, healthz);

      const readyz = await client.readResponse();
      expect(readyz.status).toBe(503);
      expect(readyz.header("content-type")).toBe("application/problem+json");
      expect(readyz.header("retry-after")).toBe("1");
      expect(readyz.header("x-request-id")).toBe("checker-7");
      const problem = readyz.json<{ detail: string; waiting: Array<{ code: string; status: string }> }>();
      expect(problem.detail).toBe("Not ready: sleepy is starting");
      expect(problem.waiting).toEqual([{ code: "sleepy", status: "starting" }]);

      await expectHeadOf(client, readyz);

      // Only GET and HEAD are health checks; anything else is the app's, as before.
      const post = await client.readResponse();
      expect(post.status).toBe(404);
      expect(post.header("content-type")).toStartWith("application/problem+json");

      const last = await client.readResponse();
      expect(last.status).toBe(200);
      expect(last.header("connection")).toBe("close");
      expect(await client.waitClosed(5_000)).toBe(true);
    } finally {
      client.destroy();
    }
    // The app's own answer for the same provider set agrees with the front's.
    const providers = await request<{ providers: Array<{ code: string; status: string }> }>(
      `${gw.url}/_gateway/providers`,
    );
    expect(providers.body.providers.find((p) => p.code === "sleepy")?.status).toBe("starting");
  });

  test("/readyz turns 200 once every provider is ready, with the body the app gives", async () => {
    const space = makeSpace();
    addEchoProvider(space, "one");
    const gw = await spawnGateway(serveArgs(space));
    await waitForStatus(gw.url, "one", "ready");
    const readyz = await request<{ status: string }>(`${gw.url}/readyz`);
    expect(readyz.status).toBe(200);
    expect(readyz.body).toEqual({ status: "ready" });
  });
});
