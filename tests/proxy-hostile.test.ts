/**
 * Hostile requests, written byte for byte on raw TCP sockets (no client normalizes them), against
 * a gateway in front of two providers whose namespaces are neighbours (/api/v1/a, /api/v1/ab).
 * Each row says which provider may see the request and with which target, or that the gateway
 * must refuse it; the providers (tests/fixtures/wire.ts) report what actually reached them.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ProviderView } from "../lib/supervisor/status.ts";
import {
  addWireProvider,
  type BlackBoxGateway,
  cleanup,
  DENO_GATEWAY,
  makeSpace,
  serveArgs,
  spawnGateway,
  startUnderTest,
  WireClient,
  type WireEcho,
  type WireResponse,
  waitForStatus,
  wireExchange,
} from "./helpers.ts";

setDefaultTimeout(60_000);

interface Seen {
  target: string;
  row: string | null;
}

let gw: BlackBoxGateway;
const views: Record<string, ProviderView> = {};

beforeAll(async () => {
  const space = makeSpace();
  for (const code of ["a", "ab"]) addWireProvider(space, code, { namespace: `/api/v1/${code}` });
  gw = await startUnderTest(space);
  for (const code of ["a", "ab"]) views[code] = await waitForStatus(gw.url, code, "ready");
}, 60_000);

afterAll(async () => {
  expect(await cleanup()).toEqual([]);
}, 60_000);

/** Every request each provider has seen so far. */
async function seenByAll(): Promise<Array<Seen & { provider: string }>> {
  const all: Array<Seen & { provider: string }> = [];
  for (const [code, view] of Object.entries(views)) {
    const response = await fetch(`${view.upstream}/__seen`, { signal: AbortSignal.timeout(10_000) });
    for (const seen of (await response.json()) as Seen[]) all.push({ ...seen, provider: code });
  }
  return all;
}

/**
 * What may happen to a request: "refused" (any 4xx problem+json from the gateway), "400" (exactly
 * that), or [provider, target as the provider received it].
 */
type Outcome = "refused" | "400" | [string, string];

/** What happened to a request, judged from the answer: `refused:STATUS`, `PROVIDER TARGET`, or why not. */
function outcomeOf(response: WireResponse): string {
  if (response.status === 200) {
    const echo = parsed(response);
    if (echo) return canonical([echo.provider, echo.target]);
  }
  const type = response.header("content-type") ?? "";
  if (response.status >= 400 && response.status < 500 && type.startsWith("application/problem+json"))
    return `refused:${response.status}`;
  return `unexpected ${response.status} ${type}: ${response.body.toString().slice(0, 200)}`;
}

/** The provider's echo in `response`, or null when something else (the gateway's own app) answered. */
function parsed(response: WireResponse): WireEcho | null {
  try {
    const echo = response.json<WireEcho>();
    return typeof echo.provider === "string" && typeof echo.target === "string" ? echo : null;
  } catch {
    return null;
  }
}

/** Percent-escapes compared case-insensitively (%2f = %2F), the rest byte for byte. */
function canonical([provider, target]: [string, string]): string {
  return `${provider} ${target.replace(/%[0-9a-f]{2}/gi, (pct) => pct.toUpperCase())}`;
}

function allows(outcome: Outcome, got: string): boolean {
  if (outcome === "refused") return got.startsWith("refused:");
  if (outcome === "400") return got === "refused:400";
  return canonical(outcome) === got;
}

// [request-target, outcomes allowed]. A provider's target is what it must receive, exactly.
const PATHS: Array<[string, ...Outcome[]]> = [
  // Plain routing, for reference.
  ["/api/v1/a/x", ["a", "/x"]],
  ["/api/v1/a", ["a", "/"]],
  ["/api/v1/a/", ["a", "/"]],
  ["/api/v1/a?q=1", ["a", "/?q=1"]],
  ["/api/v1/ab/x", ["ab", "/x"]],
  ["/api/v1/abc/x", "refused"],
  ["/API/v1/a/x", "refused"],
  // Dot segments, plain, encoded and mixed, that would cross into the neighbour or out of /api/v1/a.
  ["/api/v1/a/../ab/x", "refused"],
  ["/api/v1/a/%2e%2e/ab/x", "refused"],
  ["/api/v1/a/%2E%2E/ab/x", "refused"],
  ["/api/v1/a/.%2e/ab/x", "refused"],
  ["/api/v1/a/%2e./ab/x", "refused"],
  ["/api/v1/a/x/../../ab/x", "refused"],
  ["/api/v1/a/x/%2e%2e/%2e%2e/ab/x", "refused"],
  ["/api/v1/a/..", "refused"],
  ["/api/v1/a/%2e%2e", "refused"],
  ["/api/v1/a/x%00/../../ab/x", "refused"],
  ["/api/v1/ab/../a/x", "refused"],
  ["/api/v1/a/../../../_gateway/providers", "refused"],
  ["/api/v1/a/%2e%2e/%2e%2e/%2e%2e/healthz", "refused"],
  ["/api/v1/a/../../../etc/passwd", "refused"],
  // Dot segments that stay inside the namespace resolve there.
  ["/api/v1/a/x/..", ["a", "/"], "refused"],
  ["/api/v1/a/x/../y", ["a", "/y"], "refused"],
  ["/api/v1/a/./x", ["a", "/x"], "refused"],
  ["/api/v1/a/%2e/x", ["a", "/x"], "refused"],
  ["/api/v1/a//../ab/x", ["a", "/ab/x"], "refused"],
  // Dot segments before the namespace: resolved to it, or refused; never anywhere else.
  ["/./api/v1/a/x", ["a", "/x"], "refused"],
  ["/%2e/api/v1/a/x", ["a", "/x"], "refused"],
  ["/../api/v1/a/x", ["a", "/x"], "refused"],
  ["/x/../api/v1/a/y", ["a", "/y"], "refused"],
  ["/_gateway/../api/v1/ab/x", ["ab", "/x"], "refused"],
  // Encoded separators after the namespace are data, not separators: they stay inside a.
  ["/api/v1/a/..%2fab/x", ["a", "/..%2Fab/x"]],
  ["/api/v1/a/..%2Fab%2Fx", ["a", "/..%2Fab%2Fx"]],
  ["/api/v1/a/%2e%2e%2fab%2fx", ["a", "/..%2Fab%2Fx"]],
  ["/api/v1/a/%2e%2e%2f%2e%2e%2fab/x", ["a", "/..%2F..%2Fab/x"]],
  ["/api/v1/a/..%5cab/x", ["a", "/..%5Cab/x"]],
  ["/api/v1/a/%2e%2e%5cab%5cx", ["a", "/..%5Cab%5Cx"]],
  ["/api/v1/a/%00", ["a", "/%00"], "refused"],
  ["/api/v1/a/%252e%252e/ab/x", ["a", "/%252e%252e/ab/x"]],
  ["/api/v1/a/..;/ab/x", ["a", "/..;/ab/x"]],
  ["/api/v1/a/x%23frag", ["a", "/x%23frag"]],
  // Another host: a path that looks like one still goes to the provider on 127.0.0.1.
  ["/api/v1/a//evil.example/x", ["a", "//evil.example/x"]],
  ["/api/v1/a///evil.example/x", ["a", "///evil.example/x"]],
  ["/api/v1/a/%2f%2fevil.example/x", ["a", "/%2F%2Fevil.example/x"]],
  ["/api/v1/a/%5c%5cevil.example/x", ["a", "/%5C%5Cevil.example/x"]],
  ["/api/v1/a/%2f/evil.example/x", ["a", "/%2F/evil.example/x"]],
  // Raw backslashes, fragments, control bytes: refused.
  ["/api/v1/a/..\\ab/x", "refused"],
  ["/api/v1/a\\..\\ab/x", "refused"],
  ["/api/v1/a/\\\\evil.example/x", "refused"],
  ["/api/v1/a/x#frag", "refused"],
  ["/api/v1/a/x?y=1#frag", "refused"],
  ["/api/v1/a/x\x01y", "refused"],
  ["/api/v1/a/x\x7fy", "refused"],
  // Encoded /, \ or NUL where the namespace is matched: 400.
  ["/api/v1/a%2fx", "400"],
  ["/api/v1/a%2F..%2Fab/x", "400"],
  ["/api/v1%2fa/x", "400"],
  ["/api%2fv1%2fa/x", "400"],
  ["/api/v1%5ca/x", "400"],
  ["/api/v1/a%5c/x", "400"],
  ["/api/v1/a%00/x", "400"],
  ["/api/v1%00/a/x", "400"],
  ["/api/v1/%2e%2e%2fab/x", "400"],
  // Encoded unreserved characters in the namespace: the same namespace, or refused.
  ["/api/v1/%61/x", ["a", "/x"], "refused"],
  ["/api/v1/%61b/x", ["ab", "/x"], "refused"],
  ["/api/v1/a%62/x", ["ab", "/x"], "refused"],
  // Lookalikes that are no namespace at all.
  ["//api/v1/a/x", "refused"],
  ["/api/v1/a;/x", "refused"],
  ["/api/v1/a;x=1/y", "refused"],
  ["/api//v1/a/x", "refused"],
  // The query is the provider's business: passed byte for byte, dots and escapes included.
  ["/api/v1/a/x?../../ab/x", ["a", "/x?../../ab/x"]],
  ["/api/v1/a/x?%2e%2e/%2f%5c%00", ["a", "/x?%2e%2e/%2f%5c%00"]],
  ["/api/v1/a?/../ab/x", ["a", "/?/../ab/x"]],
  // Not origin-form.
  ["http://evil.example/api/v1/a/x", "refused"],
  ["api/v1/a/x", "refused"],
  ["*", "refused"],
];

describe("hostile request-targets", () => {
  test("each path reaches only the provider its namespace names, with the target the table expects", async () => {
    const mismatches: Array<{ target: string; got: string; allowed: string[] }> = [];
    const reached = new Map<string, string>();
    for (const [index, [target, ...allowed]] of PATHS.entries()) {
      const response = await wireExchange(
        gw.url,
        `GET ${target} HTTP/1.1\r\nHost: gateway.test\r\nX-Row: ${index}\r\nConnection: close\r\n\r\n`,
      );
      const got = outcomeOf(response);
      if (!allowed.some((outcome) => allows(outcome, got)))
        mismatches.push({
          target,
          got,
          allowed: allowed.map((o) => (typeof o === "string" ? o : canonical(o))),
        });
      const echo = response.status === 200 ? parsed(response) : null;
      if (echo) {
        reached.set(String(index), echo.provider);
        // Reached over 127.0.0.1, to the provider's own port, whatever the path looks like.
        const host = echo.headers.find(([name]) => name.toLowerCase() === "host")?.[1];
        const wanted = `127.0.0.1:${views[echo.provider]!.port}`;
        if (host !== wanted) mismatches.push({ target, got: `host ${host}`, allowed: [wanted] });
      }
    }
    expect(mismatches).toEqual([]);
    // What the providers saw agrees with the answers: refused rows reached no one; the others,
    // only the provider that answered, once.
    const seen = (await seenByAll()).filter((s) => s.row !== null && /^\d+$/.test(s.row));
    const wrong = seen.filter((s) => reached.get(s.row!) !== s.provider);
    expect(wrong).toEqual([]);
    expect(seen.length).toBe(reached.size);
  });

  test("a Host header cannot route a request the request-target does not", async () => {
    for (const host of [
      "gateway.test/api/v1/a",
      "x/api/v1/ab/",
      "gateway.test/api/v1/a?",
      "a@gateway.test/api/v1/a",
    ]) {
      const response = await wireExchange(
        gw.url,
        `GET /nothing HTTP/1.1\r\nHost: ${host}\r\nX-Row: host-${host}\r\nConnection: close\r\n\r\n`,
      );
      expect({ host, outcome: outcomeOf(response) }).toEqual({
        host,
        outcome: expect.stringMatching(/^refused:/),
      });
    }
    // Nor rides along to a provider: a Host that is not host[:port] is a 400 (RFC 9112 §3.2).
    const proxied = await wireExchange(
      gw.url,
      "GET /api/v1/a/x HTTP/1.1\r\nHost: gateway.test/api/v1/ab\r\nX-Row: host-proxied\r\nConnection: close\r\n\r\n",
    );
    expect(outcomeOf(proxied)).toBe("refused:400");
    const seen = (await seenByAll()).filter((s) => s.row?.startsWith("host-"));
    expect(seen).toEqual([]);
  });

  test("nor does it under Deno's fetch proxy (GATEWAY_PROXY_MODE=fetch), whose server builds its URL from Host", async () => {
    const space = makeSpace();
    addWireProvider(space, "a", { namespace: "/api/v1/a" });
    const fetchMode = await spawnGateway(serveArgs(space), {
      cmd: DENO_GATEWAY,
      env: { GATEWAY_PROXY_MODE: "fetch" },
    });
    await waitForStatus(fetchMode.url, "a", "ready");
    const response = await wireExchange(
      fetchMode.url,
      "GET /nothing HTTP/1.1\r\nHost: gateway.test/api/v1/a\r\nConnection: close\r\n\r\n",
    );
    expect(outcomeOf(response)).toBe("refused:400");
  });

  test("CONNECT opens no tunnel, to another host or to a provider", async () => {
    for (const target of ["evil.example:443", "127.0.0.1:1", `127.0.0.1:${views.a!.port}`]) {
      const response = await wireExchange(
        gw.url,
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nX-Row: connect\r\nConnection: close\r\n\r\n`,
      );
      expect({ target, refused: [400, 405, 501].includes(response.status) }).toEqual({
        target,
        refused: true,
      });
    }
    expect((await seenByAll()).filter((s) => s.row === "connect")).toEqual([]);
  });
});

// Requests whose framing is ambiguous or malformed. Each is followed, in the same write, by a
// request to the neighbour provider: if the gateway and a provider disagreed on where the first
// request ends, that second one would be smuggled. It must never reach anyone.
interface FramingRow {
  name: string;
  head: string[];
  body?: string;
  /** Statuses allowed for the gateway's refusal. */
  status: number[];
  /** The head may already have reached the provider (the body is found bad midway). */
  headMayPass?: boolean;
  requestLine?: string;
}

const FRAMING: FramingRow[] = [
  {
    name: "Transfer-Encoding with Content-Length",
    head: ["Content-Length: 6", "Transfer-Encoding: chunked"],
    body: "0\r\n\r\nG",
    status: [400],
  },
  {
    name: "Content-Length after Transfer-Encoding",
    head: ["Transfer-Encoding: chunked", "Content-Length: 3"],
    body: "0\r\n\r\n",
    status: [400],
  },
  {
    name: "two different Content-Length",
    head: ["Content-Length: 5", "Content-Length: 6"],
    body: "hello!",
    status: [400],
  },
  { name: "a Content-Length list", head: ["Content-Length: 5, 6"], body: "hello!", status: [400] },
  { name: "a negative Content-Length", head: ["Content-Length: -1"], status: [400] },
  { name: "a signed Content-Length", head: ["Content-Length: +5"], body: "hello", status: [400] },
  { name: "a hex Content-Length", head: ["Content-Length: 0x5"], body: "hello", status: [400] },
  { name: "a huge Content-Length", head: ["Content-Length: 99999999999999999999"], status: [400, 413] },
  {
    name: "Transfer-Encoding gzip, chunked",
    head: ["Transfer-Encoding: gzip, chunked"],
    body: "0\r\n\r\n",
    status: [400, 501],
  },
  {
    name: "Transfer-Encoding identity",
    head: ["Transfer-Encoding: identity"],
    body: "0\r\n\r\n",
    status: [400, 501],
  },
  {
    name: "Transfer-Encoding chunked, chunked",
    head: ["Transfer-Encoding: chunked, chunked"],
    body: "0\r\n\r\n",
    status: [400, 501],
  },
  {
    name: "Transfer-Encoding xchunked",
    head: ["Transfer-Encoding: xchunked"],
    body: "0\r\n\r\n",
    status: [400, 501],
  },
  {
    name: "two Transfer-Encoding fields",
    head: ["Transfer-Encoding: chunked", "Transfer-Encoding: identity"],
    body: "0\r\n\r\n",
    status: [400, 501],
  },
  {
    name: "a space before the colon",
    head: ["Transfer-Encoding : chunked"],
    body: "0\r\n\r\n",
    status: [400],
  },
  {
    name: "an obs-folded Transfer-Encoding",
    head: ["X-Fold: a", " Transfer-Encoding: chunked"],
    body: "0\r\n\r\n",
    status: [400],
  },
  {
    name: "a bare LF inside the head",
    head: ["X-A: 1\nTransfer-Encoding: chunked"],
    body: "0\r\n\r\n",
    status: [400],
  },
  {
    name: "a bare CR in a value",
    head: ["X-A: 1\rTransfer-Encoding: chunked"],
    body: "0\r\n\r\n",
    status: [400],
  },
  { name: "a NUL in a value", head: ["X-A: 1\x00"], status: [400] },
  { name: "a header name with a space", head: ["Bad Header: 1"], status: [400] },
  { name: "a header line without a colon", head: ["NoColonHere"], status: [400] },
  { name: "two Host fields", head: ["Host: second.example"], status: [400] },
  {
    name: "Transfer-Encoding in HTTP/1.0",
    requestLine: "POST /api/v1/a/framing HTTP/1.0",
    head: ["Transfer-Encoding: chunked"],
    body: "0\r\n\r\n",
    status: [400],
  },
  {
    name: "a malformed chunk size",
    head: ["Transfer-Encoding: chunked"],
    body: "zz\r\nhello\r\n0\r\n\r\n",
    status: [400],
    headMayPass: true,
  },
  {
    name: "an overlong chunk size",
    head: ["Transfer-Encoding: chunked"],
    body: "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    status: [400, 413],
    headMayPass: true,
  },
  {
    name: "a bare LF in a chunk extension",
    head: ["Transfer-Encoding: chunked"],
    body: "5;a\nb\r\nhello\r\n0\r\n\r\n",
    status: [400],
    headMayPass: true,
  },
  {
    name: "chunk data longer than its size",
    head: ["Transfer-Encoding: chunked"],
    body: "3\r\nhello\r\n0\r\n\r\n",
    status: [400],
    headMayPass: true,
  },
  {
    name: "a trailing space in the request line",
    requestLine: "POST /api/v1/a/framing HTTP/1.1 ",
    head: [],
    status: [400],
  },
  { name: "HTTP/1.2", requestLine: "POST /api/v1/a/framing HTTP/1.2", head: [], status: [400, 505] },
  { name: "a lower-case version", requestLine: "POST /api/v1/a/framing http/1.1", head: [], status: [400] },
  {
    name: "two spaces in the request line",
    requestLine: "POST  /api/v1/a/framing HTTP/1.1",
    head: [],
    status: [400],
  },
  { name: "no version (HTTP/0.9)", requestLine: "POST /api/v1/a/framing", head: [], status: [400] },
];

describe("hostile framing", () => {
  test("ambiguous or malformed framing is refused, the connection closed, and nothing smuggled", async () => {
    const problems: Array<{ name: string; problem: string }> = [];
    for (const [index, row] of FRAMING.entries()) {
      const line = row.requestLine ?? "POST /api/v1/a/framing HTTP/1.1";
      const head = [`Host: gateway.test`, `X-Row: f${index}`, ...row.head];
      const follow = `GET /api/v1/ab/smuggled HTTP/1.1\r\nHost: gateway.test\r\nX-Row: s${index}\r\n\r\n`;
      const raw = `${line}\r\n${head.join("\r\n")}\r\n\r\n${row.body ?? ""}${follow}`;
      const client = await WireClient.connect(gw.url);
      try {
        await client.write(raw);
        const response = await client.readResponse();
        if (!row.status.includes(response.status))
          problems.push({
            name: row.name,
            problem: `status ${response.status}, wanted ${row.status.join("/")}`,
          });
        else if (!response.header("content-type")?.startsWith("application/problem+json"))
          problems.push({ name: row.name, problem: `content-type ${response.header("content-type")}` });
        if (!(await client.waitClosed(5_000)))
          problems.push({ name: row.name, problem: "the connection stayed open after the refusal" });
        if (client.buffered.length > 0)
          problems.push({
            name: row.name,
            problem: `more bytes after the refusal: ${client.buffered.toString().slice(0, 100)}`,
          });
      } catch (error) {
        problems.push({ name: row.name, problem: (error as Error).message });
      } finally {
        client.destroy();
      }
    }
    expect(problems).toEqual([]);
    const seen = await seenByAll();
    const smuggled = seen.filter((s) => s.row?.startsWith("s"));
    expect(smuggled).toEqual([]);
    const forwarded = seen
      .filter((s) => s.row?.startsWith("f"))
      .filter((s) => !FRAMING[Number(s.row!.slice(1))]!.headMayPass)
      .map((s) => FRAMING[Number(s.row!.slice(1))]!.name);
    expect(forwarded).toEqual([]);
  });

  test("a body that holds a whole request is delivered as a body, never parsed as a request", async () => {
    const inner = "GET /api/v1/ab/inner HTTP/1.1\r\nHost: gateway.test\r\nX-Row: inner\r\n\r\n";
    const byLength = await wireExchange(
      gw.url,
      `POST /api/v1/a/carrier HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: ${inner.length}\r\nConnection: close\r\n\r\n${inner}`,
    );
    expect(byLength.json<WireEcho>().body).toBe(inner);
    const chunked = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    const byChunks = await wireExchange(
      gw.url,
      `POST /api/v1/a/carrier HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`,
    );
    expect(byChunks.json<WireEcho>().body).toBe(chunked);
    expect((await seenByAll()).filter((s) => s.row === "inner")).toEqual([]);
  });

  test("Content-Length: 0 then a pipelined request: two requests, each to its own provider", async () => {
    const client = await WireClient.connect(gw.url);
    try {
      await client.write(
        "POST /api/v1/a/empty HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 0\r\n\r\n" +
          "GET /api/v1/ab/next HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n",
      );
      const first = (await client.readResponse()).json<WireEcho>();
      const second = (await client.readResponse()).json<WireEcho>();
      expect([first.provider, first.target, first.body]).toEqual(["a", "/empty", ""]);
      expect([second.provider, second.target]).toEqual(["ab", "/next"]);
    } finally {
      client.destroy();
    }
  });
});
