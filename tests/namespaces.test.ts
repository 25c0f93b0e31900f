import { describe, expect, test } from "bun:test";
import { namespaceConflict, pathsOverlap, RESERVED_PATHS } from "../lib/namespaces.ts";

describe("pathsOverlap", () => {
  test("pathsOverlap is true for equal paths", () => {
    expect(pathsOverlap("/api/v1/a", "/api/v1/a")).toBe(true);
  });

  test("pathsOverlap is true when one path is a segment prefix of the other, in either order", () => {
    expect(pathsOverlap("/api/v1/a", "/api/v1/a/b")).toBe(true);
    expect(pathsOverlap("/api/v1/a/b", "/api/v1/a")).toBe(true);
  });

  test("pathsOverlap compares whole segments, so /api/v1/a and /api/v1/ab do not overlap", () => {
    expect(pathsOverlap("/api/v1/a", "/api/v1/ab")).toBe(false);
    expect(pathsOverlap("/api/v1/ab", "/api/v1/a")).toBe(false);
  });

  test("pathsOverlap is false for siblings", () => {
    expect(pathsOverlap("/api/v1/a", "/api/v2/a")).toBe(false);
  });
});

describe("namespaceConflict", () => {
  test("namespaceConflict allows a free namespace", () => {
    expect(namespaceConflict("/api/v1/a", [])).toBeUndefined();
    expect(namespaceConflict("/api/v1/a", [{ code: "b", namespace: "/api/v1/b" }])).toBeUndefined();
  });

  test("namespaceConflict refuses /", () => {
    expect(namespaceConflict("/", [])).toContain('"/"');
  });

  test.each([["/docs"], ["/_gateway/x"], ["/metrics"], ["/healthz"], ["/assets/w"], ["/openapi.json"]])(
    "namespaceConflict refuses the reserved path %p",
    (namespace) => {
      const reason = namespaceConflict(namespace, []);
      expect(reason).toBeDefined();
      expect(reason).toContain(namespace);
      expect(reason).toContain("reserved");
    },
  );

  test("namespaceConflict refuses every reserved path as it is", () => {
    for (const reserved of RESERVED_PATHS) expect(namespaceConflict(reserved, [])).toContain(reserved);
  });

  test("namespaceConflict refuses a namespace above a reserved path", () => {
    expect(namespaceConflict("/_gateway", [])).toBeDefined();
  });

  test("namespaceConflict allows a namespace that only shares a reserved path's leading characters", () => {
    expect(namespaceConflict("/docsite", [])).toBeUndefined();
    expect(namespaceConflict("/metrics-exporter", [])).toBeUndefined();
    expect(namespaceConflict("/openapi", [])).toBeUndefined();
  });

  test("namespaceConflict refuses a namespace equal to another provider's, naming that provider", () => {
    const reason = namespaceConflict("/api/v1/a", [{ code: "first", namespace: "/api/v1/a" }]);
    expect(reason).toContain('"first"');
    expect(reason).toContain("/api/v1/a");
  });

  test("namespaceConflict refuses a namespace nested in or above another provider's", () => {
    expect(namespaceConflict("/api/v1/a/b", [{ code: "a", namespace: "/api/v1/a" }])).toContain('"a"');
    expect(namespaceConflict("/api/v1", [{ code: "a", namespace: "/api/v1/a" }])).toContain('"a"');
  });

  test("namespaceConflict allows /api/v1/ab beside /api/v1/a", () => {
    expect(namespaceConflict("/api/v1/ab", [{ code: "a", namespace: "/api/v1/a" }])).toBeUndefined();
  });
});
