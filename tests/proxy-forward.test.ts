import { describe, expect, test } from "bun:test";
import { forward, rewriteLocation } from "../lib/proxy/forward.ts";
import { Traffic } from "../lib/proxy/traffic.ts";

const NS = "/api/v1/w";
const ORIGIN = "http://127.0.0.1:5000";

describe("rewriteLocation", () => {
  test("rewriteLocation puts an absolute path under the namespace", () => {
    expect(rewriteLocation("/login", NS, ORIGIN)).toBe("/api/v1/w/login");
    expect(rewriteLocation("/", NS, ORIGIN)).toBe("/api/v1/w/");
    expect(rewriteLocation("/a/b?next=/c#top", NS, ORIGIN)).toBe("/api/v1/w/a/b?next=/c#top");
  });

  test("rewriteLocation leaves a path already under the namespace alone", () => {
    expect(rewriteLocation("/api/v1/w/login", NS, ORIGIN)).toBe("/api/v1/w/login");
    expect(rewriteLocation("/api/v1/w", NS, ORIGIN)).toBe("/api/v1/w");
  });

  test("rewriteLocation treats a path that only shares the namespace's leading characters as the provider's own", () => {
    expect(rewriteLocation("/api/v1/wx/login", NS, ORIGIN)).toBe("/api/v1/w/api/v1/wx/login");
  });

  test("rewriteLocation turns a URL on the provider's own origin into a path under the namespace", () => {
    expect(rewriteLocation("http://127.0.0.1:5000/login?x=1", NS, ORIGIN)).toBe("/api/v1/w/login?x=1");
    expect(rewriteLocation("http://127.0.0.1:5000", NS, ORIGIN)).toBe("/api/v1/w/");
    expect(rewriteLocation("http://127.0.0.1:5000?x=1", NS, ORIGIN)).toBe("/api/v1/w?x=1");
  });

  test("rewriteLocation leaves a URL on another port that merely starts like the origin alone", () => {
    expect(rewriteLocation("http://127.0.0.1:50001/login", NS, ORIGIN)).toBe("http://127.0.0.1:50001/login");
  });

  test("rewriteLocation leaves URLs on other hosts alone", () => {
    expect(rewriteLocation("https://auth.example/login", NS, ORIGIN)).toBe("https://auth.example/login");
  });

  test("rewriteLocation leaves protocol-relative and backslash locations alone", () => {
    expect(rewriteLocation("//evil.example/x", NS, ORIGIN)).toBe("//evil.example/x");
    expect(rewriteLocation("/\\evil.example/x", NS, ORIGIN)).toBe("/\\evil.example/x");
  });

  test("rewriteLocation leaves relative references alone", () => {
    expect(rewriteLocation("next", NS, ORIGIN)).toBe("next");
    expect(rewriteLocation("../up", NS, ORIGIN)).toBe("../up");
    expect(rewriteLocation("?page=2", NS, ORIGIN)).toBe("?page=2");
  });

  test("rewriteLocation maps an external agent's origin with a base path under the namespace", () => {
    const origin = "https://agent.example/base";
    expect(rewriteLocation("https://agent.example/base/items", NS, origin)).toBe("/api/v1/w/items");
    expect(rewriteLocation("https://agent.example/basement", NS, origin)).toBe(
      "https://agent.example/basement",
    );
  });
});

describe("forward (the fetch proxy used under Deno)", () => {
  const target = {
    code: "w",
    namespace: NS,
    // An origin nothing listens on: a request that got past the checks would answer 502.
    upstream: () => "http://127.0.0.1:9",
    endpoint: () => ({ hostname: "127.0.0.1", port: 9 }),
    status: () => "ready",
    timeoutMs: 1000,
    holds: () => false,
    holdMs: 0,
    holdQueue: 0,
    traffic: new Traffic(),
  };
  const context = { remoteAddress: "127.0.0.1", keepOpen: () => {} };

  test("a declared body over --max-body-size is answered 413 before anything is forwarded", async () => {
    const request = new Request("http://gw/api/v1/w/upload", {
      method: "POST",
      headers: { "content-length": "2048" },
      body: "x".repeat(2048),
    });
    const response = await forward(request, { target, rest: "/upload" }, "", context, 1024);
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(((await response.json()) as { detail: string }).detail).toContain("1024");
  });

  test("a streamed body over --max-body-size is cut on the way and answered 413; one under it arrives whole", async () => {
    const received: number[] = [];
    const upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const bytes = await request.arrayBuffer();
        received.push(bytes.byteLength);
        return new Response(`got ${bytes.byteLength}`);
      },
    });
    try {
      const live = { ...target, upstream: () => `http://127.0.0.1:${upstream.port}` };
      // No Content-Length: the body arrives in 512-byte pieces, as a chunked upload would.
      const streamed = (pieces: number) =>
        new Request("http://gw/api/v1/w/upload", {
          method: "POST",
          body: new ReadableStream({
            pull(controller) {
              if (pieces-- === 0) controller.close();
              else controller.enqueue(new Uint8Array(512).fill(120));
            },
          }),
          duplex: "half",
        } as RequestInit);
      const over = await forward(streamed(4), { target: live, rest: "/upload" }, "", context, 1024);
      expect(over.status).toBe(413);
      expect(((await over.json()) as { detail: string }).detail).toContain("1024");
      const under = await forward(streamed(2), { target: live, rest: "/upload" }, "", context, 1024);
      expect(under.status).toBe(200);
      expect(await under.text()).toBe("got 1024");
      // The provider never saw the whole of the body over the limit.
      expect(received.filter((n) => n === 2048)).toEqual([]);
    } finally {
      await upstream.stop(true);
    }
  });

  test("a provider that is not ready is answered 503 with Retry-After", async () => {
    const response = await forward(
      new Request("http://gw/api/v1/w/x"),
      {
        target: { ...target, upstream: () => null, endpoint: () => null, status: () => "starting" },
        rest: "/x",
      },
      "",
      context,
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
  });
});
