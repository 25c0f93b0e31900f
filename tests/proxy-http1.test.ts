/**
 * The fast head scanners must agree with the full parsers on every field the proxy reads, and
 * forward exactly the header lines the full path would keep.
 */
import { describe, expect, test } from "bun:test";
import { HOP_BY_HOP } from "../lib/proxy/headers.ts";
import {
  findHeadEnd,
  HttpParseError,
  parseRequestHead,
  parseResponseHead,
  scanRequestHead,
  scanResponseHead,
} from "../lib/proxy/http1.ts";

const REQUESTS = [
  "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
  "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
  "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
  "POST /a HTTP/1.1\r\nHOST: x\r\nTransfer-Encoding: Chunked\r\nTE: trailers, deflate\r\n\r\n",
  "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n",
  "GET /a HTTP/1.0\r\nConnection: keep-alive\r\nX-Request-Id: abc\r\n\r\n",
  "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nForwarded: for=1.2.3.4\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Prefix: /p\r\nX-Gateway-Client-Address: 9.9.9.9\r\nKeep-Alive: 5\r\nProxy-Authorization: basic x\r\n\r\n",
  "DELETE /a HTTP/1.1\r\nHost: x\r\nIdempotency-Key: 7\r\nX-Custom:   spaced value  \r\n\r\n",
  "GET /a HTTP/1.1\r\nHost: x\r\nConnection: x-secret\r\nX-Secret: 1\r\n\r\n",
  "GET /a HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\n\r\n",
];

/** The lines the full path keeps, as `name: value` with the name lower-cased. */
function keptByParser(text: string): string[] {
  const head = parseRequestHead(Buffer.from(text, "latin1"), findHeadEnd(Buffer.from(text, "latin1")));
  const dropped = new Set([
    ...HOP_BY_HOP,
    "host",
    "content-length",
    "x-request-id",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-prefix",
    "x-gateway-client-address",
    ...head.connectionTokens,
  ]);
  return head.headers.filter(([name]) => !dropped.has(name)).map(([name, value]) => `${name}: ${value}`);
}

function normalizeLines(lines: string): string[] {
  return lines
    .split("\r\n")
    .filter(Boolean)
    .map((line) => {
      const colon = line.indexOf(":");
      return `${line.slice(0, colon).toLowerCase()}: ${line.slice(colon + 1).trim()}`;
    });
}

describe("scanRequestHead", () => {
  for (const text of REQUESTS) {
    test(`agrees with parseRequestHead on ${JSON.stringify(text.split("\r\n")[0])} (${text.length} bytes)`, () => {
      const buf = Buffer.from(text, "latin1");
      const end = findHeadEnd(buf);
      const fast = scanRequestHead(buf, end);
      const full = parseRequestHead(buf, end);
      for (const field of [
        "method",
        "target",
        "minor",
        "contentLength",
        "chunked",
        "keepAlive",
        "upgrade",
        "host",
        "ascii",
        "requestId",
        "idempotencyKey",
      ] as const) {
        expect({ field, value: fast[field] }).toEqual({ field, value: full[field] });
      }
      const forwarded = fast.passThrough ? normalizeLines(fast.passThrough.lines) : keptByParser(text);
      expect(forwarded).toEqual(keptByParser(text));
    });
  }

  test("refuses exactly what parseRequestHead refuses", () => {
    const bad = [
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
      "GET /a HTTP/1.1\r\nUser-Agent: x\r\n\r\n",
      "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost : x\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
    ];
    for (const text of bad) {
      const buf = Buffer.from(text, "latin1");
      const end = findHeadEnd(buf);
      expect(() => parseRequestHead(buf, end)).toThrow(HttpParseError);
      expect(() => scanRequestHead(buf, end)).toThrow(HttpParseError);
    }
  });
});

describe("scanResponseHead", () => {
  const RESPONSES = [
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n",
    "HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Length: 0\r\nX-Request-Id: upstream\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x\r\nKeep-Alive: timeout=5\r\n\r\n",
    "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n",
    "HTTP/1.1 204 No Content\r\n\r\n",
  ];
  for (const text of RESPONSES) {
    test(`agrees with parseResponseHead on ${JSON.stringify(text.split("\r\n")[0])}`, () => {
      const buf = Buffer.from(text, "latin1");
      const end = findHeadEnd(buf);
      const fast = scanResponseHead(buf, end);
      const full = parseResponseHead(buf, end);
      for (const field of ["minor", "status", "reason", "contentLength", "chunked", "keepAlive"] as const) {
        expect({ field, value: fast[field] }).toEqual({ field, value: full[field] });
      }
      const kept = full.headers
        .filter(([name]) => !HOP_BY_HOP.includes(name) && name !== "x-request-id" && name !== "location")
        .map(([name, value]) => `${name}: ${value}`);
      expect(fast.passThrough ? normalizeLines(fast.passThrough.lines) : kept).toEqual(kept);
      const location = full.headers.find(([name]) => name === "location")?.[1] ?? null;
      if (fast.passThrough) expect(fast.passThrough.location).toBe(location);
    });
  }
});
