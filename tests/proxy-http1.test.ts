/**
 * The fast head scanners must agree with the full parsers on every field the proxy reads, and
 * forward exactly the header lines the full path would keep.
 */
import { describe, expect, test } from "bun:test";
import { REQUEST_DROPPED, RESPONSE_DROPPED } from "../lib/proxy/headers.ts";
import {
  findHeadEnd,
  HttpParseError,
  parseRequestHead,
  parseResponseHead,
  scanRequestHead,
  scanResponseHead,
  scanResponseHeadBytes,
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
  // The byte scanner's own edges: empty and mixed-case Connection tokens, tabs as whitespace,
  // a head with no header at all, and bytes it leaves to the parser (DEL, a control, a bare CR).
  "GET /a HTTP/1.1\r\nHost:\tx:80\t\r\nConnection: , Keep-Alive ,,TE\r\nTE: trailers\r\nX-Tab: a\tb\r\n\r\n",
  "GET /a HTTP/1.0\r\n\r\n",
  "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:  007 \r\nX-Request-Id: r-1\r\nConnection: close\r\n\r\n",
  "GET /a HTTP/1.1\r\nHost: x\r\nX-Del: a\x7fb\r\n\r\n",
  "GET /a HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01b\r\n\r\n",
  "GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
];

/** The lines the full path keeps, as `name: value` with the name lower-cased. */
function keptByParser(text: string): string[] {
  const head = parseRequestHead(Buffer.from(text, "latin1"), findHeadEnd(Buffer.from(text, "latin1")));
  const dropped = new Set([...REQUEST_DROPPED, ...head.connectionTokens]);
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

  test("reads the request line as parseRequestHead does, and refuses what it refuses", () => {
    const lines = [
      "GET / HTTP/1.1",
      "POST /a?b=c HTTP/1.0",
      "PATCH /x HTTP/1.1",
      "M-SEARCH * HTTP/1.1",
      "GE /x HTTP/1.1",
      "GETS /x HTTP/1.1",
      "POS /x HTTP/1.1",
      "GET /a\tb HTTP/1.1",
      "GET /a b HTTP/1.1",
      "GET  /a HTTP/1.1",
      "GET /a  HTTP/1.1",
      "GET /a HTTP/1.2",
      "GET /a HTTP/2.0",
      "GET /a http/1.1",
      "GET HTTP/1.1",
      " GET /a HTTP/1.1",
      "G@T /a HTTP/1.1",
      "GET /a HTTP/1.1 ",
      "GET /\x0b HTTP/1.1",
    ];
    for (const line of lines) {
      const buf = Buffer.from(`${line}\r\nHost: x\r\n\r\n`, "latin1");
      const end = findHeadEnd(buf);
      let full: ReturnType<typeof parseRequestHead> | null = null;
      try {
        full = parseRequestHead(buf, end);
      } catch (error) {
        expect(error).toBeInstanceOf(HttpParseError);
      }
      if (full === null) {
        expect(() => scanRequestHead(buf, end)).toThrow(HttpParseError);
        continue;
      }
      const fast = scanRequestHead(buf, end);
      expect({ line, method: fast.method, target: fast.target, minor: fast.minor }).toEqual({
        line,
        method: full.method,
        target: full.target,
        minor: full.minor,
      });
    }
  });

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
      "GET /a HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n",
    ];
    for (const text of bad) {
      const buf = Buffer.from(text, "latin1");
      const end = findHeadEnd(buf);
      expect(() => parseRequestHead(buf, end)).toThrow(HttpParseError);
      expect(() => scanRequestHead(buf, end)).toThrow(HttpParseError);
    }
  });
});

describe("the header policy", () => {
  // Values the scanners read must still parse; the rest get a marker that must never pass on.
  const VALUES: Record<string, string> = {
    host: "x",
    "content-length": "0",
    "transfer-encoding": "chunked",
    connection: "keep-alive",
  };
  test.each([...REQUEST_DROPPED])(
    "the request scanner drops a client's %s, as the parser's path does",
    (name) => {
      const value = VALUES[name] ?? "leaked-value";
      const host = name === "host" ? "" : "Host: x\r\n";
      const length = name === "content-length" || name === "transfer-encoding" ? "" : "Content-Length: 0\r\n";
      const text = `POST /a HTTP/1.1\r\n${host}${length}${name}: ${value}\r\nX-Kept: yes\r\n\r\n`;
      const buf = Buffer.from(text, "latin1");
      const head = scanRequestHead(buf, findHeadEnd(buf));
      // The fast path itself, not the parser it falls back to, must drop it.
      expect(head.passThrough).toBeDefined();
      expect(normalizeLines(head.passThrough!.lines)).toEqual(["x-kept: yes"]);
      expect(keptByParser(text)).toEqual(["x-kept: yes"]);
    },
  );

  test.each([...RESPONSE_DROPPED])("the response scanner drops a provider's %s", (name) => {
    const value = VALUES[name] ?? "leaked-value";
    const length = name === "transfer-encoding" ? "" : "Content-Length: 0\r\n";
    const text = `HTTP/1.1 200 OK\r\n${length}${name}: ${value}\r\nX-Kept: yes\r\n\r\n`;
    const buf = Buffer.from(text, "latin1");
    const head = scanResponseHeadBytes(buf, findHeadEnd(buf));
    const ranges = head?.raw?.ranges ?? [];
    let kept = "";
    for (let i = 0; i < ranges.length; i += 2) kept += buf.toString("latin1", ranges[i], ranges[i + 1]);
    // The byte scanner takes every head of this shape (a Connection token aside, which it reads).
    if (name === "connection") expect(head?.keepAlive).toBe(true);
    expect(head).not.toBeNull();
    expect(normalizeLines(kept).filter((line) => line !== "content-length: 0")).toEqual(["x-kept: yes"]);
  });
});

describe("scanResponseHeadBytes", () => {
  /** The kept lines of a byte-scanned head, as the bytes the client will get. */
  function keptBytes(head: NonNullable<ReturnType<typeof scanResponseHeadBytes>>): string {
    const { buf, ranges } = head.raw!;
    let out = "";
    for (let i = 0; i < ranges.length; i += 2) out += buf.toString("latin1", ranges[i], ranges[i + 1]);
    return out;
  }

  const HANDLED = [
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n",
    "HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Length: 0\r\nX-Request-Id: upstream\r\n\r\n",
    "HTTP/1.1 301 Moved\r\nLocation:  http://127.0.0.1:9/a?b=1 \r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\n\r\n",
    "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n",
    "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 200 \r\nContent-Length:  12 \r\nX-Request-Id: upstream\r\nProxy-Connection: x\r\nTE: y\r\nUpgrade: z\r\n\r\n",
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close, keep-alive\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\nX-Empty:\r\n\r\n",
  ];
  for (const text of HANDLED) {
    test(`agrees with parseResponseHead on ${JSON.stringify(text.split("\r\n").slice(0, 2).join(" | "))}`, () => {
      const buf = Buffer.from(text, "latin1");
      const end = findHeadEnd(buf);
      const fast = scanResponseHeadBytes(buf, end);
      const full = parseResponseHead(buf, end);
      expect(fast).not.toBeNull();
      for (const field of ["minor", "status", "contentLength", "chunked", "keepAlive"] as const) {
        expect({ field, value: fast![field] }).toEqual({ field, value: full[field] });
      }
      expect([...fast!.connectionTokens].sort()).toEqual([...full.connectionTokens].sort());
      // The same lines go on, each byte for byte as the upstream wrote it.
      const kept = full.headers
        .filter(([name]) => !RESPONSE_DROPPED.has(name) && name !== "location")
        .map(([name, value]) => `${name}: ${value}`);
      const lines = keptBytes(fast!);
      expect(normalizeLines(lines)).toEqual(kept);
      for (const line of lines.split("\r\n").filter(Boolean)) expect(text).toContain(`\r\n${line}\r\n`);
      // The status line is carried whole; the Location value is read out for rewriting.
      const { statusFrom, statusTo, location } = fast!.raw!;
      expect(buf.toString("latin1", statusFrom, statusTo)).toBe(`${full.status} ${full.reason}\r\n`);
      expect(location).toBe(full.headers.find(([name]) => name === "location")?.[1] ?? null);
    });
  }

  const DECLINED: Array<[string, string]> = [
    ["an interim response", "HTTP/1.1 100 Continue\r\n\r\n"],
    ["a switch of protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"],
    ["no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"],
    ["obs-text", "HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\n\r\n"],
    ["a folded line", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\n\r\n"],
    ["a bare LF", "HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\n\r\n"],
    ["a NUL", "HTTP/1.1 200 OK\r\nX-A: 1\x002\r\n\r\n"],
    ["a connection token naming a header", "HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: 1\r\n\r\n"],
    ["a coding other than chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"],
    [
      "chunked and Content-Length",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    ],
    ["two Locations", "HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\n\r\n"],
    ["a space before the colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n"],
    ["HTTP/2 in the status line", "HTTP/2.0 200 OK\r\n\r\n"],
  ];
  for (const [what, text] of DECLINED) {
    test(`leaves ${what} to parseResponseHead`, () => {
      const buf = Buffer.from(text, "latin1");
      expect(scanResponseHeadBytes(buf, findHeadEnd(buf))).toBeNull();
    });
  }

  test("scanResponseHead answers the declined heads with the full parser's reading", () => {
    const buf = Buffer.from(
      "HTTP/1.1 200\r\nConnection: x-secret\r\nX-Secret: 1\r\nContent-Length: 0\r\n\r\n",
    );
    const head = scanResponseHead(buf, findHeadEnd(buf));
    expect(head.raw).toBeUndefined();
    expect(head).toEqual(parseResponseHead(buf, findHeadEnd(buf)));
  });

  test("a malformed or conflicting Content-Length is refused as parseResponseHead refuses it", () => {
    for (const value of ["12a", "1, 2", "-1", "1234567890123456"]) {
      const buf = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`, "latin1");
      expect(() => scanResponseHeadBytes(buf, findHeadEnd(buf))).toThrow(HttpParseError);
      expect(() => parseResponseHead(buf, findHeadEnd(buf))).toThrow(HttpParseError);
    }
    const conflict = Buffer.from(
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "latin1",
    );
    expect(() => scanResponseHeadBytes(conflict, findHeadEnd(conflict))).toThrow("Invalid Content-Length");
  });
});
