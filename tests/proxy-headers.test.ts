import { describe, expect, test } from "bun:test";
import { type ForwardingFacts, stripHopByHop, upstreamRequestHeaders } from "../lib/proxy/headers.ts";

const FACTS: ForwardingFacts = {
  remoteAddress: "192.0.2.10",
  host: "gateway.example:8080",
  proto: "http",
  prefix: "/api/v1/w",
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("stripHopByHop", () => {
  test("stripHopByHop removes every hop-by-hop header and keeps end-to-end ones", () => {
    const headers = new Headers({
      connection: "keep-alive",
      "proxy-connection": "keep-alive",
      "keep-alive": "timeout=5",
      "proxy-authenticate": "Basic",
      "proxy-authorization": "Basic Zm9vOmJhcg==",
      te: "gzip",
      trailer: "Expires",
      "transfer-encoding": "chunked",
      upgrade: "h2c",
      "content-type": "application/json",
      authorization: "Bearer t",
      "cache-control": "no-cache",
    });
    stripHopByHop(headers);
    expect([...headers.keys()].sort()).toEqual(["authorization", "cache-control", "content-type"]);
  });

  test("stripHopByHop removes the headers listed in Connection, whatever their case and spacing", () => {
    const headers = new Headers({
      connection: "close,  X-Session-Secret ,X-Debug,,",
      "x-session-secret": "s3cret",
      "x-debug": "1",
      "x-kept": "yes",
    });
    stripHopByHop(headers);
    expect([...headers.keys()]).toEqual(["x-kept"]);
  });
});

describe("upstreamRequestHeaders", () => {
  test("upstreamRequestHeaders drops hop-by-hop headers, including those listed in Connection", () => {
    const incoming = new Headers({
      connection: "keep-alive, X-Hop",
      "x-hop": "1",
      "keep-alive": "timeout=5",
      upgrade: "websocket",
      "proxy-authorization": "Basic x",
      accept: "application/json",
    });
    const { headers } = upstreamRequestHeaders(incoming, FACTS);
    for (const name of ["connection", "x-hop", "keep-alive", "upgrade", "proxy-authorization"]) {
      expect(headers.has(name)).toBe(false);
    }
    expect(headers.get("accept")).toBe("application/json");
  });

  test("upstreamRequestHeaders keeps TE: trailers and drops other TE values", () => {
    expect(upstreamRequestHeaders(new Headers({ te: "trailers" }), FACTS).headers.get("te")).toBe("trailers");
    expect(upstreamRequestHeaders(new Headers({ te: "gzip, Trailers" }), FACTS).headers.get("te")).toBe(
      "trailers",
    );
    expect(upstreamRequestHeaders(new Headers({ te: "gzip" }), FACTS).headers.has("te")).toBe(false);
    expect(upstreamRequestHeaders(new Headers({ te: "trailersx" }), FACTS).headers.has("te")).toBe(false);
  });

  test("upstreamRequestHeaders replaces the client's forwarding headers with its own", () => {
    const incoming = new Headers({
      forwarded: "for=203.0.113.1;host=evil.example;proto=https",
      "x-forwarded-for": "203.0.113.1",
      "x-forwarded-host": "evil.example",
      "x-forwarded-proto": "https",
      "x-forwarded-prefix": "/admin",
    });
    const { headers } = upstreamRequestHeaders(incoming, FACTS);
    expect(headers.has("forwarded")).toBe(false);
    expect(headers.get("x-forwarded-for")).toBe("192.0.2.10");
    expect(headers.get("x-forwarded-host")).toBe("gateway.example:8080");
    expect(headers.get("x-forwarded-proto")).toBe("http");
    expect(headers.get("x-forwarded-prefix")).toBe("/api/v1/w");
  });

  test("upstreamRequestHeaders sends no X-Forwarded-For at all when the client address is unknown", () => {
    const incoming = new Headers({ "x-forwarded-for": "203.0.113.1" });
    const { headers } = upstreamRequestHeaders(incoming, { ...FACTS, remoteAddress: "" });
    expect(headers.has("x-forwarded-for")).toBe(false);
  });

  test("upstreamRequestHeaders removes Host so the upstream sees its own", () => {
    const { headers } = upstreamRequestHeaders(new Headers({ host: "gateway.example:8080" }), FACTS);
    expect(headers.has("host")).toBe(false);
  });

  test("upstreamRequestHeaders keeps a valid X-Request-Id and returns it", () => {
    const id = "req-2025.01:abc/DEF+ghi=@x";
    const { headers, requestId } = upstreamRequestHeaders(new Headers({ "x-request-id": id }), FACTS);
    expect(requestId).toBe(id);
    expect(headers.get("x-request-id")).toBe(id);
  });

  test.each([
    ["spaces", "has spaces in it"],
    ["a newline-like character", "abc\u0007def"],
    ["too many characters", "a".repeat(129)],
    ["quotes", '"quoted"'],
  ])("upstreamRequestHeaders replaces an X-Request-Id with %s by a generated one", (_, id) => {
    const incoming = new Headers();
    try {
      incoming.set("x-request-id", id);
    } catch {
      // Headers itself refused the value; the request then simply has none.
    }
    const { headers, requestId } = upstreamRequestHeaders(incoming, FACTS);
    expect(requestId).toMatch(UUID);
    expect(headers.get("x-request-id")).toBe(requestId);
  });

  test("upstreamRequestHeaders generates a fresh X-Request-Id for each request without one", () => {
    const first = upstreamRequestHeaders(new Headers(), FACTS).requestId;
    const second = upstreamRequestHeaders(new Headers(), FACTS).requestId;
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(first).not.toBe(second);
  });

  test("upstreamRequestHeaders keeps end-to-end headers, cookies and authorization included", () => {
    const incoming = new Headers({
      authorization: "Bearer abc",
      cookie: "a=1; b=2",
      "content-type": "text/plain",
      "x-custom": "v",
    });
    const { headers } = upstreamRequestHeaders(incoming, FACTS);
    expect(headers.get("authorization")).toBe("Bearer abc");
    expect(headers.get("cookie")).toBe("a=1; b=2");
    expect(headers.get("content-type")).toBe("text/plain");
    expect(headers.get("x-custom")).toBe("v");
  });

  test("upstreamRequestHeaders leaves the incoming headers untouched", () => {
    const incoming = new Headers({ connection: "close", "x-forwarded-for": "203.0.113.1", host: "h" });
    upstreamRequestHeaders(incoming, FACTS);
    expect(incoming.get("connection")).toBe("close");
    expect(incoming.get("x-forwarded-for")).toBe("203.0.113.1");
    expect(incoming.get("host")).toBe("h");
  });
});
