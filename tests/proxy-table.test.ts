import { describe, expect, test } from "bun:test";
import { NamespaceTable, type ProxyTarget, splitRequestUrl } from "../lib/proxy/table.ts";
import { Traffic } from "../lib/proxy/traffic.ts";

function target(code: string, namespace: string): ProxyTarget {
  return {
    code,
    namespace,
    upstream: () => "http://127.0.0.1:1",
    endpoint: () => ({ hostname: "127.0.0.1", port: 1 }),
    status: () => "ready",
    timeoutMs: 1000,
    holds: () => false,
    holdMs: 0,
    holdQueue: 0,
    traffic: new Traffic(),
  };
}

const table = new NamespaceTable([
  target("a", "/api/v1/a"),
  target("ab", "/api/v1/ab"),
  target("top", "/widgets"),
]);

describe("NamespaceTable", () => {
  test("NamespaceTable counts its namespaces", () => {
    expect(table.size).toBe(3);
  });

  test("NamespaceTable.match returns the provider and the path after its namespace", () => {
    const match = table.match("/api/v1/a/items/42");
    expect(match?.target.code).toBe("a");
    expect(match?.rest).toBe("/items/42");
  });

  test("NamespaceTable.match matches whole segments only", () => {
    expect(table.match("/api/v1/ab/x")?.target.code).toBe("ab");
    expect(table.match("/api/v1/abc/x")).toBeUndefined();
    expect(table.match("/api/v1/abc")).toBeUndefined();
    expect(table.match("/widgetsx")).toBeUndefined();
  });

  test("NamespaceTable.match gives / as the rest for the exact namespace", () => {
    expect(table.match("/api/v1/a")).toMatchObject({ target: { code: "a" }, rest: "/" });
    expect(table.match("/widgets")).toMatchObject({ target: { code: "top" }, rest: "/" });
  });

  test("NamespaceTable.match keeps a trailing slash in the rest", () => {
    expect(table.match("/api/v1/a/")?.rest).toBe("/");
    expect(table.match("/api/v1/a/items/")?.rest).toBe("/items/");
  });

  test("NamespaceTable.match keeps doubled slashes in the rest as they came", () => {
    expect(table.match("/api/v1/a//evil.example/x")?.rest).toBe("//evil.example/x");
  });

  test("NamespaceTable.match finds nothing outside every namespace", () => {
    expect(table.match("/")).toBeUndefined();
    expect(table.match("/api")).toBeUndefined();
    expect(table.match("/api/v1")).toBeUndefined();
    expect(table.match("/api/v1/")).toBeUndefined();
    expect(table.match("/other/api/v1/a")).toBeUndefined();
  });

  test("NamespaceTable.match does not match a namespace in a different letter case", () => {
    expect(table.match("/API/v1/a/x")).toBeUndefined();
  });

  test("NamespaceTable.match answers each path by its own namespace, whatever it matched before", () => {
    const paths = ["/api/v1/a/x", "/api/v1/ab/y", "/api/v1/a", "/widgets/z", "/api/v1/abc", "/api/v1/a/q"];
    const codes = paths.map((path) => table.match(path)?.target.code ?? null);
    expect(codes).toEqual(["a", "ab", "a", "top", null, "a"]);
  });

  test("NamespaceTable.match gives a nested namespace's outer provider, even after the inner one matched", () => {
    const nested = new NamespaceTable([target("outer", "/n"), target("inner", "/n/i")]);
    expect(nested.match("/n/i/x")).toMatchObject({ target: { code: "outer" }, rest: "/i/x" });
    expect(nested.match("/n/y")?.target.code).toBe("outer");
    expect(nested.match("/n/i/z")?.target.code).toBe("outer");
  });

  test("NamespaceTable of nothing matches nothing", () => {
    expect(new NamespaceTable([]).match("/api/v1/a")).toBeUndefined();
  });
});

describe("splitRequestUrl", () => {
  test("splitRequestUrl splits path and query of an absolute URL", () => {
    expect(splitRequestUrl("http://127.0.0.1:8080/api/v1/a/items?x=1")).toEqual({
      path: "/api/v1/a/items",
      query: "?x=1",
    });
  });

  test("splitRequestUrl keeps the query byte for byte", () => {
    const query = "?q=a%20b+c&empty=&flag&x=%2F..%2f&u=http://h/p?n=1&list[]=1;semi";
    expect(splitRequestUrl(`http://host/p${query}`).query).toBe(query);
  });

  test("splitRequestUrl keeps a bare question mark", () => {
    expect(splitRequestUrl("http://host/p?")).toEqual({ path: "/p", query: "?" });
  });

  test("splitRequestUrl drops the fragment", () => {
    expect(splitRequestUrl("http://host/p?x=1#frag")).toEqual({ path: "/p", query: "?x=1" });
    expect(splitRequestUrl("http://host/p#frag?notquery")).toEqual({ path: "/p", query: "" });
  });

  test("splitRequestUrl keeps doubled slashes and encoded characters in the path", () => {
    expect(splitRequestUrl("http://host/api//x/%2e%2e/%2F").path).toBe("/api//x/%2e%2e/%2F");
  });

  test("splitRequestUrl gives / for a URL without a path", () => {
    expect(splitRequestUrl("http://host")).toEqual({ path: "/", query: "" });
  });

  test("splitRequestUrl accepts a path without scheme and host", () => {
    expect(splitRequestUrl("/p/q?x=1")).toEqual({ path: "/p/q", query: "?x=1" });
  });
});
