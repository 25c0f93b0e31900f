/**
 * Dial-out agents: `gateway agent` run as the connection block's `agent_command` says serves an
 * external provider through a tunnel it opens to the gateway (no inbound port, no URL). Real
 * processes: the gateway, the agent (from source), the echo fixture as the agent's upstream.
 * Requests, concurrency, bodies both ways, SSE-like streams and WebSocket upgrades through the
 * tunnel; the tunnel dropped mid-request; the gateway restarted (and a token rotated meanwhile);
 * two agents with one token; SIGTERM draining; hostile control connections.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect } from "node:net";
import {
  cleanup,
  createExternal,
  exitCode,
  getProvider,
  makeSpace,
  request,
  runCli,
  type Space,
  serveArgs,
  spawnGateway,
  startAgent,
  startTunnelAgent,
  startUnderTest,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

type Echo = {
  provider: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
};

/** A gateway with an external provider `code` and its connection block. */
async function gatewayWithExternal(space: Space, code = "far") {
  const gw = await startUnderTest(space);
  const created = await createExternal(gw.url, { code, runtime: "external" });
  expect(created.status).toBe(201);
  return { gw, connection: created.body.connection };
}

/** A provider `far` (an agent-side upstream running `fixture`) served through a running dial-out agent. */
async function throughTunnel(space: Space, fixture?: string) {
  const upstream = await startAgent(space, { name: "far", ...(fixture ? { fixture } : {}) });
  const { gw, connection } = await gatewayWithExternal(space);
  const agent = startTunnelAgent(space, connection.agent_command, upstream.url, { logLevel: "info" });
  await waitForStatus(gw.url, "far", "ready");
  return { gw, agent, upstream };
}

/** Raw bytes to a socket, and what came back until it closed (or `untilMs`). */
function exchange(port: number, bytes: string, untilMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let got = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, untilMs);
    socket.on("data", (chunk) => {
      got += chunk.toString("latin1");
    });
    socket.on("close", done);
    socket.on("error", done);
    socket.write(bytes);
  });
}

describe("gateway agent", () => {
  test("its command line says what is missing or wrong, and a refused token ends it with exit 2", async () => {
    const missing = await runCli(["agent", "--gateway", "http://127.0.0.1:1"], {
      env: { GATEWAY_AGENT_TOKEN: "", GATEWAY_AGENT_UPSTREAM: "" },
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("gateway agent needs --token (or GATEWAY_AGENT_TOKEN)");
    const unknown = await runCli(["agent", "--gatway", "http://x"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown flag "--gatway" for gateway agent (did you mean --gateway?)');

    const space = makeSpace();
    const gw = await startUnderTest(space);
    const refused = await runCli([
      "agent",
      "--gateway",
      gw.url,
      "--token",
      "gwp_0000000000000000000000000000",
      "--upstream",
      "http://127.0.0.1:9",
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("the gateway refused the token (401");
  });

  test("the agent_command, --upstream filled in, serves the provider through the tunnel: ready, requests and bodies, the upstream's Host", async () => {
    const space = makeSpace();
    const upstream = await startAgent(space, { name: "far" });
    const { gw, connection } = await gatewayWithExternal(space);
    expect((await getProvider(gw.url, "far")).status).toBe("awaiting_agent");
    const agent = startTunnelAgent(space, connection.agent_command, upstream.url);
    await waitForStatus(gw.url, "far", "ready");
    await waitFor("the agent to say its tunnel is up", () =>
      agent.log().includes('tunnel up: provider "far"'),
    );

    const echo = await request<Echo>(`${gw.url}/api/v1/far/items?x=1`);
    expect(echo.status).toBe(200);
    expect(echo.body).toMatchObject({ provider: "far", method: "GET", path: "/items", query: "?x=1" });
    expect(echo.body.headers.host).toBe(new URL(upstream.url).host);
    expect(echo.body.headers["x-forwarded-prefix"]).toBe("/api/v1/far");

    const posted = await request<Echo>(`${gw.url}/api/v1/far/things`, {
      method: "POST",
      body: JSON.stringify({ hello: "tunnel" }),
      headers: { "content-type": "application/json" },
    });
    expect(posted.body).toMatchObject({ method: "POST", body: '{"hello":"tunnel"}' });

    // Its spec comes through the tunnel too, into the merged document.
    await waitFor("the tunnelled provider's paths in /openapi.json", async () => {
      const doc = await request<{ paths: Record<string, unknown> }>(`${gw.url}/openapi.json`);
      return "/api/v1/far/items" in doc.body.paths;
    });
  });

  test("200 concurrent requests with 64 KiB bodies each way all arrive whole", async () => {
    const space = makeSpace();
    const { gw } = await throughTunnel(space);
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const body = `${String(i).padStart(4, "0")}${"x".repeat(64 * 1024 - 4)}`;
        const response = await fetch(`${gw.url}/api/v1/far/echo/${i}`, { method: "POST", body });
        const echo = (await response.json()) as Echo;
        return response.status === 200 && echo.path === `/echo/${i}` && echo.body === body;
      }),
    );
    expect(results.filter((ok) => !ok).length).toBe(0);
  });

  test("through the tunnel an SSE stream stays open, a WebSocket works end to end, and a client that goes away cancels its request", async () => {
    const space = makeSpace();
    const { gw, upstream } = await throughTunnel(space, "lab.ts");

    // SSE: the first event at once, the next ones as the provider sends them, seconds apart.
    const controller = new AbortController();
    const sse = await fetch(`${gw.url}/api/v1/far/sse?id=s1`, { signal: controller.signal });
    expect(sse.headers.get("content-type")).toStartWith("text/event-stream");
    const reader = sse.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toContain("event: hello");
    await Bun.sleep(1500);
    expect((await request(`${upstream.url}/sse-send?id=s1&data=later`)).status).toBe(200);
    expect(decoder.decode((await reader.read()).value)).toContain("data: later");
    // The client goes away: the provider sees its stream cancelled.
    controller.abort();
    await waitFor("the provider to see the stream cancelled", async () => {
      const state = await request<{ cancelled_at: number | null }>(`${upstream.url}/sse-state?id=s1`);
      return state.body.cancelled_at !== null;
    });

    // WebSocket: the upgrade goes down the tunnel, frames both ways, a close with its code.
    const ws = new WebSocket(`${gw.url.replace("http", "ws")}/api/v1/far/ws?id=w1`);
    const received: Array<string | number> = [];
    const closed = new Promise<number>((resolve) =>
      ws.addEventListener("close", (event) => resolve(event.code)),
    );
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) =>
      received.push(typeof event.data === "string" ? event.data : (event.data as ArrayBuffer).byteLength),
    );
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    ws.send("hello through the tunnel");
    ws.send(new Uint8Array(300_000));
    await waitFor("the echoes", () => received.length >= 3);
    expect(received).toEqual(["welcome", "hello through the tunnel", 300_000]);
    ws.send("close:4001:done");
    expect(await closed).toBe(4001);
    // Requests still flow on the other connections meanwhile.
    expect((await request(`${gw.url}/api/v1/far/health`)).status).toBe(200);
  });

  test("a slow reader of a large download does not hold up other requests through the same tunnel", async () => {
    const space = makeSpace();
    const { gw } = await throughTunnel(space, "wire.ts");
    // 64 MiB asked for, read a little, then left unread: backpressure holds it in the pipes.
    const big = await fetch(`${gw.url}/api/v1/far/bytes?n=${64 * 1024 * 1024}`);
    const reader = big.body!.getReader();
    const first = await reader.read();
    expect(first.value!.byteLength).toBeGreaterThan(0);
    const others = await Promise.all(
      Array.from({ length: 20 }, () => request(`${gw.url}/api/v1/far/health`)),
    );
    expect(others.every((r) => r.status === 200)).toBe(true);
    // And the slow download completes once read.
    let total = first.value!.byteLength;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
    }
    expect(total).toBe(64 * 1024 * 1024);
  });

  test("a body that ends with the upstream's close arrives whole through the tunnel, read slowly or not", async () => {
    const space = makeSpace();
    const { gw } = await throughTunnel(space, "wire.ts");
    const size = 8 * 1024 * 1024;
    for (const slow of [true, false]) {
      const response = await fetch(`${gw.url}/api/v1/far/bytes?n=${size}&close=1`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-length")).toBeNull();
      const reader = response.body!.getReader();
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        got += value.byteLength;
        // A slow reader: the upstream is done and gone while the agent still holds bytes for it.
        if (slow) await Bun.sleep(2);
      }
      expect({ slow, got }).toEqual({ slow, got: size });
    }
  });

  test("the tunnel dropped mid-request: that request gets 502, new ones 503 until the agent is back", async () => {
    const space = makeSpace();
    const upstream = await startAgent(space, { name: "far" });
    const { gw, connection } = await gatewayWithExternal(space);
    const first = startTunnelAgent(space, connection.agent_command, upstream.url);
    await waitForStatus(gw.url, "far", "ready");
    const slow = request(`${gw.url}/api/v1/far/sleep?ms=3000`);
    await Bun.sleep(300);
    first.signal("SIGKILL");
    const cut = await slow;
    expect(cut.status).toBe(502);
    await waitFor(
      "the provider to leave ready",
      async () => (await getProvider(gw.url, "far")).status !== "ready",
    );
    const meanwhile = await request(`${gw.url}/api/v1/far/items`);
    expect(meanwhile.status).toBe(503);
    expect(meanwhile.headers.get("content-type")).toStartWith("application/problem+json");

    startTunnelAgent(space, connection.agent_command, upstream.url);
    await waitForStatus(gw.url, "far", "ready");
    expect((await request(`${gw.url}/api/v1/far/items`)).status).toBe(200);
  });

  test("the tunnel dropped mid-stream: the download is cut short, never passed off as complete", async () => {
    const space = makeSpace();
    const { gw, agent } = await throughTunnel(space, "wire.ts");
    const size = 256 * 1024 * 1024;
    const response = await fetch(`${gw.url}/api/v1/far/bytes?n=${size}`);
    expect(response.headers.get("content-length")).toBe(String(size));
    const reader = response.body!.getReader();
    let got = (await reader.read()).value!.byteLength;
    agent.signal("SIGKILL");
    const outcome = await (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return "ended";
          got += value.byteLength;
        }
      } catch {
        return "error";
      }
    })();
    // Either the client sees an error, or an end before Content-Length: never a whole body.
    expect(got).toBeLessThan(size);
    expect(["error", "ended"]).toContain(outcome);
  });

  test("SIGTERM: the agent drains (the request in flight finishes), then exits 0", async () => {
    const space = makeSpace();
    const upstream = await startAgent(space, { name: "far" });
    const { gw, connection } = await gatewayWithExternal(space);
    const agent = startTunnelAgent(space, connection.agent_command, upstream.url);
    await waitForStatus(gw.url, "far", "ready");
    const slow = request<{ slept: boolean }>(`${gw.url}/api/v1/far/sleep?ms=1500`);
    await Bun.sleep(300);
    agent.signal("SIGTERM");
    const finished = await slow;
    expect(finished.status).toBe(200);
    expect(finished.body).toEqual({ slept: true });
    expect(await exitCode({ exited: agent.exited } as never, 10_000)).toBe(0);
    expect((await getProvider(gw.url, "far")).status).not.toBe("ready");
  });

  test("a second agent with the same token is refused while the first answers pings, and takes over once it stops", async () => {
    const space = makeSpace();
    const upstream = await startAgent(space, { name: "far" });
    const { gw, connection } = await gatewayWithExternal(space);
    const first = startTunnelAgent(space, connection.agent_command, upstream.url);
    await waitForStatus(gw.url, "far", "ready");
    const second = startTunnelAgent(space, connection.agent_command, upstream.url);
    await waitFor("the second agent to be refused", () => second.log().includes("409"));
    expect((await request(`${gw.url}/api/v1/far/items`)).status).toBe(200);
    // The first stops answering (frozen, its connections open): the second takes over.
    first.signal("SIGSTOP");
    await waitFor("the second agent's tunnel", () => second.log().includes('tunnel up: provider "far"'), {
      timeoutMs: 60_000,
    });
    await waitForStatus(gw.url, "far", "ready");
    expect((await request(`${gw.url}/api/v1/far/items`)).status).toBe(200);
    // The first session ended for missing its pings: replaced by the second agent when it came in
    // between (10 s to 15 s of silence), else closed by the gateway at 15 s and taken by the second.
    expect(gw.logs.some((line) => /replaced by an agent|no answer to 3 pings/.test(line))).toBe(true);
  });

  test("the agent reconnects after the gateway restarts, with a token rotated meanwhile", async () => {
    const space = makeSpace();
    const upstream = await startAgent(space, { name: "far" });
    const port = (await import("../lib/runtime/index.ts")).runtime.freePort();
    const args = [...serveArgs(space), "--port", String(port)];
    let gw = await spawnGateway(args);
    const created = await createExternal(gw.url, { code: "far", runtime: "external" });
    const agent = startTunnelAgent(space, created.body.connection.agent_command, upstream.url);
    await waitForStatus(gw.url, "far", "ready");
    // A new token, the old one revoked at once: the agent is handed the new one over its tunnel.
    const rotated = await fetch(`${gw.url}/_gateway/providers/far/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ overlap_seconds: 0 }),
    });
    expect(rotated.status).toBe(200);
    await waitFor("the agent to take the rotated token", () =>
      agent.log().includes("rotated provider token"),
    );
    gw.proc.kill("SIGTERM");
    await gw.exited;
    gw = await spawnGateway(args);
    await waitForStatus(gw.url, "far", "ready");
    expect((await request<Echo>(`${gw.url}/api/v1/far/items`)).body.path).toBe("/items");
  });

  test("hostile tunnel requests: a wrong token, an unknown session, garbage and floods on the control connection; the gateway keeps serving", async () => {
    const space = makeSpace();
    const upstream = await startAgent(space, { name: "far" });
    const { gw, connection } = await gatewayWithExternal(space);
    const port = Number(new URL(gw.url).port);
    const head = (token: string, extra = "") =>
      `GET /_gateway/providers/_/tunnel HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: gateway-tunnel\r\nAuthorization: Bearer ${token}\r\n${extra}\r\n`;
    expect(await exchange(port, head("gwp_wrongwrongwrongwrongwrongwrong12"))).toStartWith("HTTP/1.1 401");
    expect(
      await exchange(port, head(connection.auth_token, "X-Gateway-Tunnel-Session: nope\r\n")),
    ).toStartWith("HTTP/1.1 409");
    // Garbage on an accepted control connection: disconnected.
    const garbage = await exchange(port, `${head(connection.auth_token)}this is not json\n`);
    expect(garbage).toStartWith("HTTP/1.1 101");
    await waitFor("the provider to be awaiting its agent again", async () =>
      ["awaiting_agent", "unhealthy"].includes((await getProvider(gw.url, "far")).status),
    );
    // A flood of pings: disconnected too.
    const flood = await exchange(port, head(connection.auth_token) + '{"type":"ping","id":1}\n'.repeat(500));
    expect(flood).toStartWith("HTTP/1.1 101");
    await waitFor("the flood to be cut off", () =>
      gw.logs.some((line) => line.includes("control messages in a second")),
    );
    const text = gw.logs.join("\n");
    expect(text).toContain("not JSON");
    expect(text).toContain("control messages in a second");
    // And a real agent still gets in afterwards.
    startTunnelAgent(space, connection.agent_command, upstream.url);
    await waitForStatus(gw.url, "far", "ready");
    expect((await request(`${gw.url}/api/v1/far/items`)).status).toBe(200);
    expect((await request(`${gw.url}/healthz`)).status).toBe(200);
  });
});
