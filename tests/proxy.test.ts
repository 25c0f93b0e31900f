/**
 * The reverse proxy against real fixture providers over real sockets: header rewriting, framing
 * (pipelining, keep-alive, chunked, HEAD, 204/304, 100-continue), redirects, encodings, errors
 * (502, 504, an upstream dying mid-body), limits, large bodies with backpressure, SSE and
 * WebSocket. Requests are written as raw bytes (WireClient, tests/support/wire.ts) so nothing on
 * the client side normalizes them; tests/fixtures/wire.ts reports exactly what reached the provider.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import type { ProviderView } from "../lib/supervisor/status.ts";
import {
  addFixtureProvider,
  addWireProvider,
  type BlackBoxGateway,
  cleanup,
  makeSpace,
  parseWireResponse,
  readAfterPause,
  startUnderTest,
  WireClient,
  type WireEcho,
  type WireResponse,
  type WireState,
  waitFor,
  waitForRefused,
  waitForStatus,
  wireExchange,
} from "./helpers.ts";

setDefaultTimeout(60_000);

/** The header values the provider received under `name` (lower-cased), in order. */
function received(echo: WireEcho, name: string): string[] {
  return echo.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** A request head: `lines` are header lines; Host is added first unless given. */
function req(method: string, target: string, lines: string[] = [], body = ""): string {
  const host = lines.some((l) => /^host:/i.test(l)) ? [] : ["Host: gateway.test"];
  return `${method} ${target} HTTP/1.1\r\n${[...host, ...lines].map((l) => `${l}\r\n`).join("")}\r\n${body}`;
}

/** A problem+json answer from the gateway itself, with no stack trace or source path in it. */
function expectProblem(response: WireResponse, status: number): { detail: string } {
  expect({ status: response.status, type: response.header("content-type") }).toEqual({
    status,
    type: expect.stringMatching(/^application\/problem\+json/),
  });
  const text = response.body.toString("utf8");
  const body = JSON.parse(text) as { type: string; title: string; status: number; detail: string };
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  expect(body.detail).toBeString();
  expect(text).not.toMatch(/\n\s+at |\bat \S+ \(|\.ts:\d+|node_modules/);
  return body;
}

/** GET (or another bodiless request) on a fresh connection. */
async function call(url: string, target: string, lines: string[] = [], method = "GET") {
  return wireExchange(url, req(method, target, [...lines, "Connection: close"]), { method });
}

async function direct<T>(view: ProviderView, path: string): Promise<T> {
  const response = await fetch(`${view.upstream}${path}`, { signal: AbortSignal.timeout(10_000) });
  return (await response.json()) as T;
}

// ---------------------------------------------------------------------------------------------

let gw: BlackBoxGateway;
let wire: ProviderView;
let lab: ProviderView;
let bulk: ProviderView;

beforeAll(async () => {
  const space = makeSpace();
  addWireProvider(space, "wire", { timeout: "2s" });
  // The default timeout (60 s), for uploads that take a while.
  addWireProvider(space, "bulk");
  addFixtureProvider(space, "lab", "lab.ts", { timeout: "2s" });
  gw = await startUnderTest(space);
  wire = await waitForStatus(gw.url, "wire", "ready");
  lab = await waitForStatus(gw.url, "lab", "ready");
  bulk = await waitForStatus(gw.url, "bulk", "ready");
}, 60_000);

afterAll(async () => {
  expect(await cleanup()).toEqual([]);
}, 60_000);

describe("headers", () => {
  test("hop-by-hop request headers are dropped, TE: trailers is kept, end-to-end headers pass as sent", async () => {
    const response = await call(gw.url, "/api/v1/wire/h", [
      "Connection: keep-alive, X-Secret-Hop",
      "X-Secret-Hop: must not pass",
      "Keep-Alive: timeout=5",
      "Proxy-Connection: keep-alive",
      "Proxy-Authorization: Basic Zm9vOmJhcg==",
      "TE: trailers, deflate",
      "Trailer: X-Sum",
      "Upgrade: h2c",
      "Authorization: Bearer end-to-end",
      "Accept-Encoding: gzip, br",
      "X-Custom: Mixed Case Value",
      "X-Utf8: caf\xc3\xa9",
    ]);
    expect(response.status).toBe(200);
    const echo = response.json<WireEcho>();
    expect(echo.provider).toBe("wire");
    const names = echo.headers.map(([n]) => n.toLowerCase());
    for (const hop of [
      "x-secret-hop",
      "keep-alive",
      "proxy-connection",
      "proxy-authorization",
      "trailer",
      "upgrade",
    ])
      expect({ hop, present: names.includes(hop) }).toEqual({ hop, present: false });
    expect(received(echo, "te")).toEqual(["trailers"]);
    // The gateway's own hop to the provider may say keep-alive, never anything the client listed.
    expect(received(echo, "connection").join(",")).not.toMatch(/x-secret-hop|close/i);
    expect(received(echo, "authorization")).toEqual(["Bearer end-to-end"]);
    expect(received(echo, "accept-encoding")).toEqual(["gzip, br"]);
    expect(received(echo, "x-custom")).toEqual(["Mixed Case Value"]);
    // Bytes outside ASCII pass as they were sent.
    const rawHead = Buffer.from(echo.rawHead, "base64");
    expect(rawHead.includes(Buffer.from(": caf\xc3\xa9\r\n", "latin1"))).toBe(true);
    // The provider is reached on 127.0.0.1 and sees its own address as Host.
    expect(received(echo, "host")).toEqual([`127.0.0.1:${wire.port}`]);
  });

  test("X-Forwarded-* are set by the gateway, replacing the client's; Forwarded is dropped", async () => {
    const response = await call(gw.url, "/api/v1/wire/fwd", [
      "Host: public.example:8443",
      "X-Forwarded-For: 203.0.113.66",
      "X-Forwarded-Host: evil.example",
      "X-Forwarded-Proto: https",
      "X-Forwarded-Prefix: /evil",
      "Forwarded: for=203.0.113.66;host=evil.example;proto=https",
      "X-Gateway-Client-Address: 203.0.113.66",
    ]);
    const echo = response.json<WireEcho>();
    expect({
      for: received(echo, "x-forwarded-for"),
      host: received(echo, "x-forwarded-host"),
      proto: received(echo, "x-forwarded-proto"),
      prefix: received(echo, "x-forwarded-prefix"),
      forwarded: received(echo, "forwarded"),
      internal: received(echo, "x-gateway-client-address"),
    }).toEqual({
      for: ["127.0.0.1"],
      host: ["public.example:8443"],
      proto: ["http"],
      prefix: ["/api/v1/wire"],
      forwarded: [],
      internal: [],
    });
  });

  test("on one keep-alive connection, each request gets the X-Forwarded-* of its own Host and namespace", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      const seen: Array<{ host: string[]; prefix: string[]; upstreamHost: string[] }> = [];
      for (const [target, host] of [
        ["/api/v1/wire/a", "one.example"],
        ["/api/v1/wire/b", "one.example"],
        ["/api/v1/wire/c", "two.example:81"],
        ["/api/v1/bulk/d", "two.example:81"],
        ["/api/v1/wire/e", "two.example:81"],
      ] as const) {
        await client.write(req("GET", target, [`Host: ${host}`]));
        const echo = (await client.readResponse()).json<WireEcho>();
        seen.push({
          host: received(echo, "x-forwarded-host"),
          prefix: received(echo, "x-forwarded-prefix"),
          upstreamHost: received(echo, "host"),
        });
      }
      expect(seen).toEqual([
        { host: ["one.example"], prefix: ["/api/v1/wire"], upstreamHost: [`127.0.0.1:${wire.port}`] },
        { host: ["one.example"], prefix: ["/api/v1/wire"], upstreamHost: [`127.0.0.1:${wire.port}`] },
        { host: ["two.example:81"], prefix: ["/api/v1/wire"], upstreamHost: [`127.0.0.1:${wire.port}`] },
        { host: ["two.example:81"], prefix: ["/api/v1/bulk"], upstreamHost: [`127.0.0.1:${bulk.port}`] },
        { host: ["two.example:81"], prefix: ["/api/v1/wire"], upstreamHost: [`127.0.0.1:${wire.port}`] },
      ]);
    } finally {
      client.destroy();
    }
  });

  test("a client cannot remove the gateway's own headers by listing them in Connection", async () => {
    const response = await wireExchange(
      gw.url,
      req(
        "POST",
        "/api/v1/wire/conn-tokens",
        [
          "Connection: close, X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Prefix, X-Request-Id, Host, Content-Length",
          "X-Request-Id: keep-me-42",
          "Content-Length: 5",
        ],
        "hello",
      ),
    );
    expect(response.status).toBe(200);
    const echo = response.json<WireEcho>();
    expect(received(echo, "x-forwarded-for")).toEqual(["127.0.0.1"]);
    expect(received(echo, "x-forwarded-host")).toEqual(["gateway.test"]);
    expect(received(echo, "x-forwarded-proto")).toEqual(["http"]);
    expect(received(echo, "x-forwarded-prefix")).toEqual(["/api/v1/wire"]);
    expect(received(echo, "x-request-id")).toEqual(["keep-me-42"]);
    expect(received(echo, "host")).toEqual([`127.0.0.1:${wire.port}`]);
    expect(received(echo, "content-length")).toEqual(["5"]);
    expect(echo.body).toBe("hello");
    expect(response.header("x-request-id")).toBe("keep-me-42");
  });

  test("a valid X-Request-Id is kept and echoed; an invalid or missing one is replaced by a fresh one", async () => {
    const kept = await call(gw.url, "/api/v1/wire/rid", ["X-Request-Id: abc-123_DEF.456"]);
    expect(received(kept.json<WireEcho>(), "x-request-id")).toEqual(["abc-123_DEF.456"]);
    expect(kept.all("x-request-id")).toEqual(["abc-123_DEF.456"]);

    const ids = new Set<string>();
    for (const lines of [
      [],
      ["X-Request-Id: has spaces in it"],
      [`X-Request-Id: ${"x".repeat(500)}`],
      ['X-Request-Id: a"<b>'],
    ]) {
      const response = await call(gw.url, "/api/v1/wire/rid", lines);
      const sent = received(response.json<WireEcho>(), "x-request-id");
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(/^[A-Za-z0-9._:@/+=-]{8,128}$/);
      expect(response.all("x-request-id")).toEqual(sent);
      ids.add(sent[0]!);
    }
    expect(ids.size).toBe(4);

    // The gateway's own answers carry one too.
    const own = await call(gw.url, "/healthz", ["X-Request-Id: own-route-1"]);
    expect(own.status).toBe(200);
    expect(own.header("x-request-id")).toBeTruthy();
  });

  test("hop-by-hop response headers are dropped; the provider's X-Request-Id is replaced by the gateway's", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(req("GET", "/api/v1/wire/hop", ["X-Request-Id: hop-test-1"]));
      const response = await client.readResponse();
      expect(response.status).toBe(200);
      const names = response.headers.map(([n]) => n);
      for (const hop of [
        "x-conn-listed",
        "keep-alive",
        "proxy-authenticate",
        "proxy-connection",
        "trailer",
        "upgrade",
      ])
        expect({ hop, present: names.includes(hop) }).toEqual({ hop, present: false });
      expect(response.header("x-end-to-end")).toBe("kept");
      expect(response.all("x-request-id")).toEqual(["hop-test-1"]);
      expect(response.body.toString()).toBe("hop");
      // The connection stays usable.
      await client.write(req("GET", "/api/v1/wire/after-hop"));
      expect((await client.readResponse()).json<WireEcho>().target).toBe("/after-hop");
    } finally {
      client.destroy();
    }
  });

  test("query strings pass byte for byte", async () => {
    const queries = [
      "?x=1&y=a%20b&x=2",
      "?",
      "?a=%2F%2f&b=%zz&c=..%2F..&d=/../x&&e=a+b",
      "?%2e%2e/%2e%2e/api/v1/lab",
      "?q='\"<>{}|^`[]@!$&()*,;=:~",
      "?caf\xc3\xa9=%E2%82%AC",
    ];
    for (const query of queries) {
      const echo = (await call(gw.url, `/api/v1/wire/q${query}`)).json<WireEcho>();
      expect(Buffer.from(echo.target, "latin1").toString("latin1")).toBe(`/q${query}`);
    }
    const root = (await call(gw.url, "/api/v1/wire?x=1")).json<WireEcho>();
    expect(root.target).toBe("/?x=1");
  });
});

describe("redirects and encodings", () => {
  test("a relative or same-host Location is put back under the namespace; redirects are never followed", async () => {
    const origin = `http://127.0.0.1:${wire.port}`;
    const cases: Array<[string, string]> = [
      ["/login", "/api/v1/wire/login"],
      ["/login?next=/a&x=%2F#frag", "/api/v1/wire/login?next=/a&x=%2F#frag"],
      [`${origin}/p?q=1`, "/api/v1/wire/p?q=1"],
      [origin, "/api/v1/wire/"],
      ["/api/v1/wire/already", "/api/v1/wire/already"],
      ["https://example.com/elsewhere", "https://example.com/elsewhere"],
      ["relative/path", "relative/path"],
    ];
    for (const code of [301, 302, 303, 307, 308]) {
      for (const [to, expected] of cases) {
        const response = await call(
          gw.url,
          `/api/v1/wire/redirect?code=${code}&to=${encodeURIComponent(to)}`,
        );
        expect({ code, to, status: response.status, location: response.header("location") }).toEqual({
          code,
          to,
          status: code,
          location: expected,
        });
        expect(response.body.toString()).toBe("redirecting");
      }
    }
    // A Location that leaves the provider (another host, protocol-relative) is not made local.
    const away = await call(gw.url, `/api/v1/wire/redirect?to=${encodeURIComponent("//evil.example/x")}`);
    expect(away.header("location")).not.toStartWith("/api/v1/wire");
    // Never followed: the provider saw no request for any redirect target.
    const seen = await direct<Array<{ target: string }>>(wire, "/__seen");
    expect(seen.filter((s) => /^\/(login|p|already|relative)/.test(s.target))).toEqual([]);
  });

  test("content encodings and chunked framing pass through untouched", async () => {
    const gzip = await call(gw.url, "/api/v1/wire/gzip", ["Accept-Encoding: gzip"]);
    expect(gzip.status).toBe(200);
    expect(gzip.header("content-encoding")).toBe("gzip");
    expect(Number(gzip.header("content-length"))).toBe(gzip.body.length);
    expect(createHash("sha256").update(gzip.body).digest("hex")).toBe(gzip.header("x-body-sha256")!);
    expect(gunzipSync(gzip.body).toString()).toBe("hello gzip\n".repeat(2000));

    const chunked = await call(gw.url, "/api/v1/wire/chunked");
    expect(chunked.status).toBe(200);
    expect(chunked.header("transfer-encoding")).toBe("chunked");
    expect(chunked.header("content-length")).toBeUndefined();
    expect(chunked.body.toString()).toBe("hello world");
    expect(chunked.rawBody.toString()).toContain("0\r\nX-Sum: 11\r\n\r\n");
  });

  test("an HTTP/1.0 client never gets a chunked response", async () => {
    // RFC 9112 §6.1: no Transfer-Encoding in a response to an HTTP/1.0 request; the body ends
    // with the connection instead (or carries a Content-Length).
    const response = await wireExchange(gw.url, "GET /api/v1/wire/chunked HTTP/1.0\r\n\r\n");
    expect(response.status).toBe(200);
    expect(response.header("transfer-encoding")).toBeUndefined();
    expect(response.body.toString()).toBe("hello world");
  });

  test("a response with both Transfer-Encoding and Content-Length never reaches the client with both", async () => {
    const response = await call(gw.url, "/api/v1/wire/te-cl");
    if (response.status === 502) return void expectProblem(response, 502);
    expect(response.status).toBe(200);
    expect({
      te: response.header("transfer-encoding"),
      cl: response.all("content-length"),
    }).toEqual({ te: "chunked", cl: [] });
    expect(response.body.toString()).toBe("hello");
  });

  test("conflicting Content-Length values from the provider answer 502", async () => {
    expectProblem(await call(gw.url, "/api/v1/wire/cl-conflict"), 502);
  });
});

describe("framing", () => {
  test("pipelined requests written at once are answered in order, provider and gateway routes alike", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      const requests = [
        req("GET", "/api/v1/wire/p1"),
        req("POST", "/api/v1/wire/p2", ["Content-Length: 5"], "hello"),
        req("GET", "/healthz"),
        req("HEAD", "/api/v1/wire/head"),
        req("GET", "/api/v1/lab/p3?x=1"),
        req("GET", "/_gateway/providers/wire"),
        req("DELETE", "/api/v1/wire/p4", ["Transfer-Encoding: chunked"], "3\r\nabc\r\n0\r\n\r\n"),
        req("GET", "/api/v1/nowhere/p5"),
        req("GET", "/api/v1/wire/p6", ["Connection: close"]),
      ];
      await client.write(requests.join(""));
      const methods = ["GET", "POST", "GET", "HEAD", "GET", "GET", "DELETE", "GET", "GET"];
      const responses: WireResponse[] = [];
      for (const method of methods) responses.push(await client.readResponse({ method }));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 404, 200]);
      const wires = [0, 1, 6, 8].map((i) => responses[i]!.json<WireEcho>());
      expect(wires.map((e) => [e.method, e.target, e.body])).toEqual([
        ["GET", "/p1", ""],
        ["POST", "/p2", "hello"],
        ["DELETE", "/p4", "3\r\nabc\r\n0\r\n\r\n"],
        ["GET", "/p6", ""],
      ]);
      expect(responses[3]!.header("content-length")).toBe("1234");
      expect(responses[4]!.json<{ path: string }>().path).toBe("/p3");
      expect(responses[5]!.json<{ code: string }>().code).toBe("wire");
      expect(await client.waitClosed()).toBe(true);
      expect(client.buffered.length).toBe(0);
    } finally {
      client.destroy();
    }
  });

  test("a burst of 100 pipelined requests gets 100 answers in order", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      const count = 100;
      let burst = "";
      for (let i = 0; i < count; i++)
        burst += req("GET", `/api/v1/wire/n${i}`, i === count - 1 ? ["Connection: close"] : []);
      await client.write(burst);
      const targets: string[] = [];
      for (let i = 0; i < count; i++) targets.push((await client.readResponse()).json<WireEcho>().target);
      expect(targets).toEqual(Array.from({ length: count }, (_, i) => `/n${i}`));
    } finally {
      client.destroy();
    }
  });

  test("a client that stops reading under 12,000 pipelined requests gets every answer whole and in order once it reads", async () => {
    // About 8 MB of answers against a paused reader: past what the kernel's buffers hold, so the
    // gateway's writes go in part and the rest waits in its outbox, to go out whole and in order
    // once the client reads. Every third request gets a chunked answer.
    const { connect } = await import("node:net");
    const { port } = new URL(gw.url);
    const count = 12_000;
    const chunked = (i: number) => i % 3 === 1;
    let burst = "";
    for (let i = 0; i < count; i++) {
      const target = chunked(i) ? "/api/v1/wire/chunked" : `/api/v1/wire/n${i}`;
      burst += req("GET", target, i === count - 1 ? ["Connection: close"] : []);
    }
    const socket = connect(Number(port), "127.0.0.1");
    try {
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      const responses = await readAfterPause(socket, burst, 1500);
      expect(responses.filter((response) => response.status !== 200).length).toBe(0);
      expect(responses.length).toBe(count);
      expect(
        responses.map((response, i) =>
          chunked(i) ? response.body.toString() : response.json<WireEcho>().target,
        ),
      ).toEqual(Array.from({ length: count }, (_, i) => (chunked(i) ? "hello world" : `/n${i}`)));
    } finally {
      socket.destroy();
    }
  });

  test("keep-alive: a client connection serves many requests; upstream connections are reused", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      for (const target of ["/ka1", "/ka2", "/ka3"]) {
        await client.write(req("GET", `/api/v1/wire${target}`));
        const response = await client.readResponse();
        expect(response.json<WireEcho>().target).toBe(target);
        expect(response.header("connection")).not.toBe("close");
        await Bun.sleep(100);
      }
      expect(client.closed).toBe(false);
    } finally {
      client.destroy();
    }
    // Sequential requests, each on a new client connection, travel over pooled upstream connections.
    const upstreamConns = new Set<number>();
    for (let i = 0; i < 6; i++)
      upstreamConns.add((await call(gw.url, `/api/v1/wire/pool${i}`)).json<WireEcho>().conn);
    expect(upstreamConns.size).toBeLessThanOrEqual(2);

    // HTTP/1.0: closed after the answer unless it asked for keep-alive.
    const old = await wireExchange(gw.url, "GET /api/v1/wire/old HTTP/1.0\r\n\r\n");
    expect(old.status).toBe(200);
    expect(old.closedAfter || old.header("connection") === "close").toBe(true);
    const oldKeep = await WireClient.connect(gw.url);
    try {
      await oldKeep.write("GET /api/v1/wire/old1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      const first = await oldKeep.readResponse();
      expect(first.header("connection")?.toLowerCase()).toBe("keep-alive");
      await oldKeep.write("GET /api/v1/wire/old2 HTTP/1.0\r\n\r\n");
      expect((await oldKeep.readResponse()).json<WireEcho>().target).toBe("/old2");
      expect(await oldKeep.waitClosed()).toBe(true);
    } finally {
      oldKeep.destroy();
    }
  });

  test("a chunked request body, sent in pieces with extensions and a trailer, reaches the provider as sent", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(
        req("POST", "/api/v1/wire/upload", ["Transfer-Encoding: chunked", "Content-Type: text/plain"]),
      );
      const pieces = ["5;ext=1\r\nhel", "lo\r\n", "6\r\n world\r\n", "0\r\nX-Trailer: t\r\n\r\n"];
      for (const piece of pieces) {
        await Bun.sleep(50);
        await client.write(piece);
      }
      const echo = (await client.readResponse()).json<WireEcho>();
      expect(echo.decodedBody).toBe("hello world");
      expect(echo.body).toBe(pieces.join(""));
      expect(received(echo, "transfer-encoding")).toEqual(["chunked"]);
      expect(received(echo, "content-length")).toEqual([]);
      // Framing stays in step: the next request on the connection is read correctly.
      await client.write(
        req("POST", "/api/v1/wire/after", ["Transfer-Encoding: Chunked"], "2\r\nok\r\n0\r\n\r\n"),
      );
      const after = (await client.readResponse()).json<WireEcho>();
      expect([after.target, after.decodedBody]).toEqual(["/after", "ok"]);
    } finally {
      client.destroy();
    }
  });

  test("HEAD, 204 and 304 answers carry no body and leave the connection in step", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(req("HEAD", "/api/v1/wire/head"));
      const head = await client.readResponse({ method: "HEAD" });
      expect([head.status, head.header("content-length"), head.body.length]).toEqual([200, "1234", 0]);

      await client.write(req("GET", "/api/v1/wire/status?code=204"));
      const noContent = await client.readResponse();
      expect([noContent.status, noContent.header("x-status")]).toEqual([204, "204"]);

      await client.write(req("GET", "/api/v1/wire/status?code=304", ['If-None-Match: "v1"']));
      const notModified = await client.readResponse();
      expect([notModified.status, notModified.header("etag")]).toEqual([304, '"v1"']);

      await client.write(req("GET", "/api/v1/wire/head"));
      const full = await client.readResponse();
      expect(full.body.toString()).toBe("h".repeat(1234));

      // Nothing stray between the answers: the next one parses cleanly.
      await client.write(req("GET", "/api/v1/wire/last"));
      expect((await client.readResponse()).json<WireEcho>().target).toBe("/last");
      expect(client.buffered.length).toBe(0);
    } finally {
      client.destroy();
    }
  });

  test("Expect: 100-continue gets the provider's 100 Continue before the body is sent; 103 passes through", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(
        req("POST", "/api/v1/wire/continue", ["Content-Length: 11", "Expect: 100-continue"]),
      );
      const interim = await client.readResponse();
      expect(interim.status).toBe(100);
      await client.write("hello world");
      const final = await client.readResponse();
      const echo = final.json<WireEcho>();
      expect([final.status, echo.body, received(echo, "expect")]).toEqual([
        200,
        "hello world",
        ["100-continue"],
      ]);

      await client.write(req("GET", "/api/v1/wire/early-hints"));
      const hints = await client.readResponse();
      expect([hints.status, hints.header("link")]).toEqual([103, "</style.css>; rel=preload"]);
      const answer = await client.readResponse();
      expect(answer.json()).toEqual({ hinted: true });
    } finally {
      client.destroy();
    }
  });
});

describe("upstream failures", () => {
  test("an upstream that closes without answering gives 502 problem+json", async () => {
    const response = await call(gw.url, "/api/v1/wire/close-without-answer?id=cwa1");
    expect(expectProblem(response, 502).detail).toContain('"wire"');
    expect(response.header("x-request-id")).toBeTruthy();
  });

  test("a POST whose upstream connection broke is never sent twice", async () => {
    // A request first, so a pooled keep-alive upstream connection exists and is reused.
    expect((await call(gw.url, "/api/v1/wire/prime")).status).toBe(200);
    const response = await call(gw.url, "/api/v1/wire/close-without-answer?id=post-once", [], "POST");
    expectProblem(response, 502);
    const state = await direct<WireState>(wire, "/__state?id=post-once");
    expect(state.hits).toBe(1);
  });

  test("no response headers within the manifest timeout gives 504, and the upstream request is cancelled", async () => {
    const started = Date.now();
    const response = await call(gw.url, "/api/v1/wire/no-answer?id=t504");
    const took = Date.now() - started;
    expect(expectProblem(response, 504).detail).toContain('"wire"');
    expect(took).toBeGreaterThanOrEqual(1_500);
    expect(took).toBeLessThan(15_000);
    const state = await waitFor("the provider to see its request cancelled", async () => {
      const s = await direct<WireState>(wire, "/__state?id=t504");
      return s.aborted_at !== null ? s : undefined;
    });
    expect(state.hits).toBe(1);
  });

  test("the timeout runs from the end of the request: an upload slower than it is not answered 504", async () => {
    // As Go's ResponseHeaderTimeout and Traefik's responseHeaderTimeout: the wait for response
    // headers starts once the request, body included, has been written.
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(req("POST", "/api/v1/wire/slow-upload", ["Content-Length: 10"]));
      try {
        for (let i = 0; i < 10; i++) {
          await Bun.sleep(350);
          await client.write("x");
        }
      } catch {
        // The gateway gave up on the request: what it answered is asserted below.
      }
      const response = await client.readResponse();
      expect(response.status).toBe(200);
      expect(response.json<WireEcho>().body).toBe("x".repeat(10));
    } finally {
      client.destroy();
    }
  });

  test("a body that starts before the timeout is never cut by it", async () => {
    // The manifest timeout (2 s) bounds the wait for headers only: a 3 s pause mid-body is fine.
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(req("GET", "/api/v1/lab/sse?id=timeout-body"));
      await client.waitUntil("the first event", (b) => b.toString().includes("event: hello"));
      await Bun.sleep(3_000);
      expect(client.closed).toBe(false);
    } finally {
      client.destroy();
    }
  });

  test("an upstream that dies mid-body aborts the client connection: the response never looks complete", async () => {
    for (const chunked of [false, true]) {
      const client = await WireClient.connect(gw.url);
      try {
        await client.write(req("GET", `/api/v1/wire/die-mid-body?chunked=${chunked ? 1 : 0}`));
        expect(await client.waitClosed(15_000)).toBe(true);
        const got = client.buffered;
        expect(got.toString("latin1")).toStartWith("HTTP/1.1 200");
        // Neither framing completes: no full Content-Length, no last chunk.
        expect(parseWireResponse(got, "GET", false)).toBeNull();
        if (chunked) expect(got.toString("latin1")).not.toContain("0\r\n\r\n");
        else expect(got.length).toBeLessThan(100_000);
      } finally {
        client.destroy();
      }
    }
    // A body delimited by the upstream closing is complete when it closes, and the client is told so.
    const untilClose = await call(gw.url, "/api/v1/wire/until-close");
    expect(untilClose.status).toBe(200);
    expect(untilClose.body.toString()).toBe("streamed until close");
    expect(untilClose.closedAfter).toBe(true);
  });

  test("an upstream that refuses connections gives 502", async () => {
    const space = makeSpace();
    addWireProvider(space, "gone", {
      health: { path: "/health", interval: "10m", startup_timeout: "20s" },
      restart: { policy: "never" },
    });
    const own = await startUnderTest(space);
    const view = await waitForStatus(own.url, "gone", "ready");
    expect((await call(own.url, "/api/v1/gone/__quit")).status).toBe(200);
    await waitForRefused(view.upstream!);
    const refused = await waitFor("a 502", async () => {
      const response = await call(own.url, "/api/v1/gone/x");
      if (response.status === 502) return response;
      throw new Error(`${response.status} ${response.body.toString().slice(0, 200)}`);
    });
    expect(expectProblem(refused, 502).detail).toContain('"gone"');
  });
});

describe("limits", () => {
  test("a request head over the limit answers 431; one just under passes", async () => {
    const big = await wireExchange(
      gw.url,
      req("GET", "/api/v1/wire/big", [`X-Big: ${"a".repeat(70 * 1024)}`]),
    );
    expectProblem(big, 431);
    const many = await wireExchange(
      gw.url,
      req(
        "GET",
        "/api/v1/wire/many",
        Array.from({ length: 2000 }, (_, i) => `X-Header-${i}: ${"v".repeat(30)}`),
      ),
    );
    expectProblem(many, 431);
    const fine = await call(gw.url, "/api/v1/wire/fine", [`X-Big: ${"a".repeat(30 * 1024)}`]);
    expect(fine.status).toBe(200);
    expect(received(fine.json<WireEcho>(), "x-big")[0]).toHaveLength(30 * 1024);
  });

  test("--max-body-size: a declared or streamed body over the limit answers 413 and is not delivered", async () => {
    const space = makeSpace();
    addWireProvider(space, "small");
    const own = await startUnderTest(space, { maxBodySize: 1024 });
    const view = await waitForStatus(own.url, "small", "ready");

    const declared = await wireExchange(
      own.url,
      req("POST", "/api/v1/small/big?id=declared", ["Content-Length: 2000"], "x".repeat(2000)),
    );
    expectProblem(declared, 413);

    // With Expect: 100-continue the client need not send the body at all.
    const client = await WireClient.connect(own.url);
    try {
      await client.write(
        req("POST", "/api/v1/small/big?id=expect", ["Content-Length: 5000", "Expect: 100-continue"]),
      );
      expectProblem(await client.readResponse(), 413);
    } finally {
      client.destroy();
    }

    const chunk = `3e8\r\n${"y".repeat(1000)}\r\n`;
    const streamed = await wireExchange(
      own.url,
      req(
        "POST",
        "/api/v1/small/big?id=streamed",
        ["Transfer-Encoding: chunked"],
        `${chunk}${chunk}${chunk}0\r\n\r\n`,
      ),
    );
    expectProblem(streamed, 413);

    const fits = await wireExchange(
      own.url,
      req("POST", "/api/v1/small/fits", ["Content-Length: 1000", "Connection: close"], "z".repeat(1000)),
    );
    expect(fits.status).toBe(200);
    expect(fits.json<WireEcho>().bodyLength).toBe(1000);

    const states = await Promise.all(
      ["declared", "expect"].map((id) => direct<WireState>(view, `/__state?id=${id}`)),
    );
    expect(states.map((s) => s.hits)).toEqual([0, 0]);
    // A streamed body found too large midway: the upstream's request is abandoned, never answered.
    const streamedState = await waitFor("the streamed request to be abandoned upstream", async () => {
      const s = await direct<WireState>(view, "/__state?id=streamed");
      return s.hits === 0 || s.aborted_at !== null ? s : undefined;
    });
    expect(streamedState.hits === 0 || streamedState.aborted_at !== null).toBe(true);
  });
});

describe("large bodies and backpressure", () => {
  test("a 64 MiB download arrives intact", async () => {
    const size = 64 * 1024 * 1024;
    const { head, length, sha256 } = await download(gw.url, `/api/v1/wire/bytes?n=${size}`);
    expect(head).toStartWith("HTTP/1.1 200");
    expect(length).toBe(size);
    expect(sha256).toBe(patternSha(size));
  });

  test("a request body streams: the provider has the first bytes before the client sends the rest", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(
        req("POST", "/api/v1/wire/streamed?id=stream-up", ["Content-Length: 1000"], "a".repeat(100)),
      );
      await waitFor("the provider to receive the first 100 bytes", async () => {
        return (await direct<WireState>(wire, "/__state?id=stream-up")).received === 100;
      });
      await client.write("b".repeat(900));
      const echo = (await client.readResponse()).json<WireEcho>();
      expect(echo.body).toBe("a".repeat(100) + "b".repeat(900));
    } finally {
      client.destroy();
    }
  });

  test("a 256 MiB upload arrives intact, and a provider that stops reading holds the client back", async () => {
    const size = 256 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    const hash = createHash("sha256");
    const client = await WireClient.connect(gw.url);
    try {
      // The provider reads nothing for 5 s after the head.
      await client.write(
        req("POST", "/api/v1/bulk/stall-read?ms=5000&id=upload", [`Content-Length: ${size}`]),
      );
      let flushed = 0;
      let flushedDuringStall = -1;
      const stallCheck = setTimeout(() => {
        flushedDuringStall = flushed;
      }, 3_500);
      for (let sent = 0; sent < size; sent += block.length) {
        hash.update(block);
        await client.write(block);
        flushed += block.length;
      }
      clearTimeout(stallCheck);
      const response = await client.readResponse({ timeoutMs: 60_000 });
      expect(response.json()).toEqual({ bodyLength: size, sha256: hash.digest("hex") });
      // Without backpressure the gateway would have taken the whole body into memory meanwhile.
      expect(flushedDuringStall).toBeGreaterThanOrEqual(0);
      expect(flushedDuringStall).toBeLessThan(160 * 1024 * 1024);
      expect((await direct<WireState>(bulk, "/__state?id=upload")).hits).toBe(1);
    } finally {
      client.destroy();
    }
  });

  test("a client that stops reading holds the provider back; when it disconnects the upstream is cancelled", async () => {
    const size = 4 * 1024 * 1024 * 1024;
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(req("GET", `/api/v1/wire/bytes?n=${size}&id=slow-reader`));
      await client.waitUntil("the response head", (b) => b.includes("\r\n\r\n"));
      client.socket.pause();
      // The provider writes only what the sockets between can hold, then waits.
      const stalled = await waitFor(
        "the provider to stall",
        async () => {
          const before = (await direct<WireState>(wire, "/__state?id=slow-reader")).produced;
          await Bun.sleep(1_000);
          const after = (await direct<WireState>(wire, "/__state?id=slow-reader")).produced;
          return after === before && after > 0 ? after : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(stalled).toBeLessThan(256 * 1024 * 1024);
      const closedAt = Date.now();
      client.destroy();
      const state = await waitFor("the provider's connection to be closed", async () => {
        const s = await direct<WireState>(wire, "/__state?id=slow-reader");
        return s.produced_closed_at !== null ? s : undefined;
      });
      expect(state.produced_closed_at! - closedAt).toBeLessThan(1_000);
      expect(state.produced).toBeLessThan(size);
    } finally {
      client.destroy();
    }
  });

  test("a client that disconnects mid-upload cancels the upstream request within a second", async () => {
    const client = await WireClient.connect(gw.url);
    const closedAt = await (async () => {
      try {
        await client.write(req("POST", "/api/v1/wire/upload?id=cut-upload", ["Content-Length: 10000000"]));
        await client.write(Buffer.alloc(64 * 1024, 1));
        await waitFor("the provider to get the request", async () => {
          return (await direct<WireState>(wire, "/__state?id=cut-upload")).hits === 1;
        });
        return Date.now();
      } finally {
        client.destroy();
      }
    })();
    const state = await waitFor("the provider to see the request cancelled", async () => {
      const s = await direct<WireState>(wire, "/__state?id=cut-upload");
      return s.aborted_at !== null ? s : undefined;
    });
    expect(state.aborted_at! - closedAt).toBeLessThan(1_000);
  });
});

describe("server-sent events", () => {
  async function openSse(url: string, path: string): Promise<WireClient> {
    const client = await WireClient.connect(url);
    await client.write(req("GET", path, ["Accept: text/event-stream"]));
    await client.waitUntil("the response head", (b) => b.includes("\r\n\r\n"));
    return client;
  }
  const text = (client: WireClient) => client.buffered.toString("utf8");

  test("each event reaches the client as the provider writes it", async () => {
    const client = await openSse(gw.url, "/api/v1/lab/sse?id=live");
    try {
      const head = text(client);
      expect(head).toStartWith("HTTP/1.1 200");
      expect(head.toLowerCase()).toContain("content-type: text/event-stream");
      expect(head.toLowerCase()).toContain("x-request-id: ");
      await client.waitUntil("the first event", (b) => b.toString().includes("event: hello"));
      // The provider writes the next event only when asked: each must arrive before the next exists.
      for (const data of ["one", "two", "three"]) {
        const sent = await call(gw.url, `/api/v1/lab/sse-send?id=live&data=${data}`);
        expect(sent.json()).toEqual({ sent: true });
        await client.waitUntil(`event ${data}`, (b) => b.toString().includes(`data: ${data}\n\n`));
      }
      expect(client.closed).toBe(false);
    } finally {
      client.destroy();
    }
  });

  test("a stream quiet for longer than an idle timeout (13 s > Bun.serve's 10 s) is not cut", async () => {
    const provider = await openSse(gw.url, "/api/v1/lab/sse?id=quiet");
    const events = await openSse(gw.url, "/_gateway/events");
    try {
      await provider.waitUntil("the first event", (b) => b.toString().includes("event: hello"));
      await events.waitUntil("the snapshot", (b) => b.toString().includes("event: snapshot"));
      // Bun.serve's idle timer ticks in 4 s steps: its 10 s cut lands at about 12 s.
      await Bun.sleep(13_000);
      expect({ provider: provider.closed, events: events.closed }).toEqual({
        provider: false,
        events: false,
      });
      expect((await direct<{ open: boolean }>(lab, "/sse-state?id=quiet")).open).toBe(true);
      await call(gw.url, "/api/v1/lab/sse-send?id=quiet&data=still-here");
      await provider.waitUntil("the event after the quiet", (b) => b.toString().includes("data: still-here"));
    } finally {
      provider.destroy();
      events.destroy();
    }
  });

  test("the gateway's own event stream answers its head at once, even with nothing to report yet", async () => {
    const own = await startUnderTest(makeSpace());
    const client = await WireClient.connect(own.url);
    try {
      await client.write(req("GET", "/_gateway/events", ["Accept: text/event-stream"]));
      await client.waitUntil("the response head", (b) => b.includes("\r\n\r\n"), 5_000);
      expect(text(client)).toStartWith("HTTP/1.1 200");
    } finally {
      client.destroy();
    }
  });

  test("a client that disconnects cancels the upstream stream within a second", async () => {
    const client = await openSse(gw.url, "/api/v1/lab/sse?id=leaver");
    await client.waitUntil("the first event", (b) => b.toString().includes("event: hello"));
    const closedAt = Date.now();
    client.destroy();
    const state = await waitFor("the provider's stream to be cancelled", async () => {
      const s = await direct<{ cancelled_at: number | null }>(lab, "/sse-state?id=leaver");
      return s.cancelled_at !== null ? s : undefined;
    });
    expect(state.cancelled_at! - closedAt).toBeLessThan(1_000);
  });
});

describe("WebSocket", () => {
  interface Ws {
    socket: WebSocket;
    messages: Array<string | Buffer>;
    closed: Promise<{ code: number; reason: string }>;
  }

  async function openWs(url: string): Promise<Ws> {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const messages: Array<string | Buffer> = [];
    socket.addEventListener("message", (event) => {
      messages.push(typeof event.data === "string" ? event.data : Buffer.from(event.data as ArrayBuffer));
    });
    const closed = new Promise<{ code: number; reason: string }>((resolvePromise) => {
      socket.addEventListener("close", (event) => resolvePromise({ code: event.code, reason: event.reason }));
    });
    await new Promise<void>((resolvePromise, reject) => {
      socket.addEventListener("open", () => resolvePromise(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`WebSocket to ${url} failed`)), { once: true });
    });
    return { socket, messages, closed };
  }

  const wsUrl = (id: string) => `${gw.url.replace("http:", "ws:")}/api/v1/lab/ws?id=${id}`;

  test("text, binary and large frames are echoed through the gateway", async () => {
    const ws = await openWs(wsUrl("echo"));
    try {
      await waitFor("the welcome", () => ws.messages.length >= 1);
      expect(ws.messages[0]).toBe("welcome");
      ws.socket.send("hello text ✓");
      const binary = randomBytes(1000);
      ws.socket.send(binary);
      const large = randomBytes(8 * 1024 * 1024);
      ws.socket.send(large);
      await waitFor("three echoes", () => ws.messages.length >= 4, { timeoutMs: 30_000 });
      expect(ws.messages[1]).toBe("hello text ✓");
      expect(Buffer.isBuffer(ws.messages[2])).toBe(true);
      expect((ws.messages[2] as Buffer).equals(binary)).toBe(true);
      expect(Buffer.isBuffer(ws.messages[3])).toBe(true);
      expect((ws.messages[3] as Buffer).length).toBe(large.length);
      expect((ws.messages[3] as Buffer).equals(large)).toBe(true);
    } finally {
      ws.socket.close();
    }
  });

  test("close codes and reasons travel both ways", async () => {
    const fromServer = await openWs(wsUrl("server-closes"));
    fromServer.socket.send("close:4001:bye now");
    expect(await withTimeout(fromServer.closed, "the server's close")).toEqual({
      code: 4001,
      reason: "bye now",
    });

    const fromClient = await openWs(wsUrl("client-closes"));
    await waitFor("the welcome", () => fromClient.messages.length >= 1);
    fromClient.socket.close(4002, "see you");
    await withTimeout(fromClient.closed, "the close handshake");
    const state = await waitFor("the provider to see the close", async () => {
      const s = await direct<{ closes: Array<{ code: number; reason: string }> }>(
        lab,
        "/ws-state?id=client-closes",
      );
      return s.closes.length > 0 ? s : undefined;
    });
    expect(state.closes).toEqual([{ code: 4002, reason: "see you" }]);
  });

  test("an upgrade the provider declines is an ordinary response on a connection that stays usable", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(
        req("GET", "/api/v1/wire/no-ws", [
          "Connection: Upgrade",
          "Upgrade: websocket",
          "Sec-WebSocket-Version: 13",
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
        ]),
      );
      const declined = await client.readResponse();
      expect(declined.status).toBe(200);
      const echo = declined.json<WireEcho>();
      // The upgrade was offered to the provider as asked.
      expect(received(echo, "upgrade")).toEqual(["websocket"]);
      expect(received(echo, "connection").join(",").toLowerCase()).toContain("upgrade");
      await client.write(req("GET", "/api/v1/wire/after-no-ws"));
      expect((await client.readResponse()).json<WireEcho>().target).toBe("/after-no-ws");
    } finally {
      client.destroy();
    }
  });

  test("frames sent right after the handshake, in the same packet, are delivered", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      const key = randomBytes(16).toString("base64");
      await client.write(
        Buffer.concat([
          Buffer.from(
            req("GET", "/api/v1/lab/ws?id=early", [
              "Connection: Upgrade",
              "Upgrade: websocket",
              "Sec-WebSocket-Version: 13",
              `Sec-WebSocket-Key: ${key}`,
            ]),
            "latin1",
          ),
          maskedTextFrame("early bird"),
        ]),
      );
      const upgraded = await client.readResponse();
      expect(upgraded.status).toBe(101);
      expect(upgraded.header("upgrade")?.toLowerCase()).toBe("websocket");
      expect(upgraded.header("sec-websocket-accept")).toBe(
        createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64"),
      );
      await client.waitUntil("two frames", (b) => serverTextFrames(b).length >= 2);
      expect(serverTextFrames(client.buffered)).toEqual(["welcome", "early bird"]);
    } finally {
      client.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------

async function withTimeout<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  return Promise.race([
    promise,
    Bun.sleep(ms).then(() => {
      throw new Error(`timed out waiting for ${what}`);
    }),
  ]);
}

/** A masked (client-to-server) text frame with a short payload. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** The short unmasked text frames at the start of `buf`. */
function serverTextFrames(buf: Buffer): string[] {
  const texts: string[] = [];
  let at = 0;
  while (at + 2 <= buf.length) {
    const length = buf[at + 1]! & 0x7f;
    if (length > 125 || at + 2 + length > buf.length) break;
    if ((buf[at]! & 0x0f) === 1) texts.push(buf.toString("utf8", at + 2, at + 2 + length));
    at += 2 + length;
  }
  return texts;
}

/** The sha256 of `size` bytes of the wire fixture's pattern (byte i is i % 251). */
function patternSha(size: number): string {
  const pattern = Buffer.alloc(65536 + 251);
  for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251;
  const hash = createHash("sha256");
  for (let done = 0; done < size; ) {
    const n = Math.min(65536, size - done);
    hash.update(pattern.subarray(done % 251, (done % 251) + n));
    done += n;
  }
  return hash.digest("hex");
}

/** GETs `target` over a fresh connection, hashing the Content-Length body as it streams in. */
async function download(
  url: string,
  target: string,
): Promise<{ head: string; length: number; sha256: string }> {
  const client = await WireClient.connect(url);
  try {
    await client.write(req("GET", target, ["Connection: close"]));
    await client.waitUntil("the response head", (buffered) => buffered.includes("\r\n\r\n"));
    const end = client.buffered.indexOf("\r\n\r\n");
    const head = client.buffered.toString("latin1", 0, end + 4);
    client.consume(end + 4);
    const expected = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const hash = createHash("sha256");
    let length = 0;
    await client.stream(expected, (chunk) => {
      hash.update(chunk);
      length += chunk.length;
    });
    return { head, length, sha256: hash.digest("hex") };
  } finally {
    client.destroy();
  }
}
