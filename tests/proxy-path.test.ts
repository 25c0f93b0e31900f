/**
 * Request-target normalization: what routing decides on and what the provider receives.
 */
import { describe, expect, test } from "bun:test";
import { hasEncodedSeparator, normalizeTarget, removeDotSegments } from "../lib/proxy/path.ts";

describe("normalizeTarget", () => {
  test("a plain path comes back as the very same string, with its query kept byte for byte", () => {
    expect(normalizeTarget("/api/v1/w/items?x=1&y=%2F%20")).toEqual({
      ok: true,
      path: "/api/v1/w/items",
      rawPath: "/api/v1/w/items",
      query: "?x=1&y=%2F%20",
    });
  });

  test("a fragment is refused: clients never send one", () => {
    expect(normalizeTarget("/a?x=1#frag")).toMatchObject({ ok: false });
  });

  test.each([
    ["/a/../b", "/b"],
    ["/a/%2e%2e/b", "/b"],
    ["/a/.%2E/b", "/b"],
    ["/a/./b", "/a/b"],
    ["/a/b/..", "/a/"],
    ["/%61pi/x", "/api/x"],
    ["/a//b", "/a//b"],
    ["/a%2fb", "/a%2Fb"],
    ["/a/..%2fb", "/a/..%2Fb"],
  ])("%s routes as %s, and keeps the raw path beside it", (raw, path) => {
    expect(normalizeTarget(raw)).toEqual({ ok: true, path, rawPath: raw, query: "" });
  });

  test.each([["a/b"], ["*"], ["/a\\b"], ["/a b"], ["/a\x00b"], ["/a%zz"], ["/a%2"]])(
    "%j is refused",
    (raw) => {
      const result = normalizeTarget(raw);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
    },
  );
});

describe("removeDotSegments and hasEncodedSeparator", () => {
  test("dot segments never climb above the root", () => {
    expect(removeDotSegments("/../../etc/passwd")).toBe("/etc/passwd");
  });

  test("encoded slash, backslash and NUL are found in either case", () => {
    for (const path of ["/a%2fb", "/a%2Fb", "/a%5cb", "/a%5Cb", "/a%00"])
      expect(hasEncodedSeparator(path)).toBe(true);
    expect(hasEncodedSeparator("/a%20b")).toBe(false);
  });
});
