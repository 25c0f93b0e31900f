import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { discoverProvider, discoverProviders, findManifest } from "../lib/discovery.ts";

const root = mkdtempSync(join(tmpdir(), "gateway-discovery-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** Creates a fresh providers dir holding `files` (paths relative to it) and returns it. */
function providersDir(files: Record<string, string>): string {
  const dir = join(root, `providers-${++counter}`);
  mkdirSync(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe("discoverProviders", () => {
  test("discoverProviders finds providers in both layouts, sorted by code", () => {
    const dir = providersDir({
      "zeta-dir/manifest.yaml": "code: alpha\nbinary: ./bin/alpha\n",
      "alpha-dir/.core/manifest.yaml": "code: beta\nname: Beta\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(problems).toEqual([]);
    expect(providers.map((p) => p.manifest.code)).toEqual(["alpha", "beta"]);
    const [alpha, beta] = providers;
    expect(alpha!.dir).toBe(join(dir, "zeta-dir"));
    expect(alpha!.file).toBe(join(dir, "zeta-dir", "manifest.yaml"));
    expect(alpha!.manifest.runtime).toBe("core");
    expect(beta!.file).toBe(join(dir, "alpha-dir", ".core", "manifest.yaml"));
    expect(beta!.manifest.name).toBe("Beta");
  });

  test("discoverProviders skips a directory without a manifest with a warning", () => {
    const dir = providersDir({
      "good/manifest.yaml": "code: good\n",
      "empty/README.md": "nothing to see\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(providers.map((p) => p.manifest.code)).toEqual(["good"]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.level).toBe("warn");
    expect(problems[0]!.dir).toBe(join(dir, "empty"));
    expect(problems[0]!.message).toContain(join(dir, "empty"));
    expect(problems[0]!.message).toContain("manifest.yaml");
  });

  test("discoverProviders reports an invalid manifest with file and field and still returns the others", () => {
    const dir = providersDir({
      "a/manifest.yaml": "code: a\n",
      "broken/manifest.yaml": "code: broken\nhealth: { interval: soon }\n",
      "c/manifest.yaml": "code: c\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(providers.map((p) => p.manifest.code)).toEqual(["a", "c"]);
    expect(problems).toHaveLength(1);
    const [problem] = problems;
    const file = join(dir, "broken", "manifest.yaml");
    expect(problem!.level).toBe("error");
    expect(problem!.file).toBe(file);
    expect(problem!.message).toContain(file);
    expect(problem!.message).toContain('"health.interval"');
    expect(problem!.message).toContain("soon");
  });

  test("discoverProviders reports a manifest that is not YAML and still returns the others", () => {
    const dir = providersDir({
      "a/manifest.yaml": "code: a\n",
      "b/manifest.yaml": "code: [unclosed\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(providers.map((p) => p.manifest.code)).toEqual(["a"]);
    expect(problems.map((p) => p.level)).toEqual(["error"]);
    expect(problems[0]!.message).toContain(join(dir, "b", "manifest.yaml"));
  });

  test("discoverProviders prefers .core/manifest.yaml and warns when both exist", () => {
    const dir = providersDir({
      "w/manifest.yaml": "code: plain-one\n",
      "w/.core/manifest.yaml": "code: core-one\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(providers.map((p) => p.manifest.code)).toEqual(["core-one"]);
    expect(providers[0]!.file).toBe(join(dir, "w", ".core", "manifest.yaml"));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.level).toBe("warn");
    expect(problems[0]!.message).toContain(join(dir, "w", ".core", "manifest.yaml"));
    expect(problems[0]!.message).toContain(join(dir, "w", "manifest.yaml"));
  });

  test("discoverProviders keeps the first of two providers with the same code and reports the second", () => {
    const dir = providersDir({
      "first/manifest.yaml": "code: same\nversion: 1.0.0\n",
      "second/manifest.yaml": "code: same\nversion: 2.0.0\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(providers).toHaveLength(1);
    expect(providers[0]!.manifest.version).toBe("1.0.0");
    expect(problems).toHaveLength(1);
    expect(problems[0]!.level).toBe("error");
    expect(problems[0]!.code).toBe("same");
    expect(problems[0]!.file).toBe(join(dir, "second", "manifest.yaml"));
    expect(problems[0]!.message).toContain(join(dir, "first", "manifest.yaml"));
  });

  test("discoverProviders treats a name-only manifest and a code manifest with the same identifier as duplicates", () => {
    const dir = providersDir({
      "a/manifest.yaml": "code: weather\n",
      "b/manifest.yaml": "name: weather\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(providers.map((p) => p.dir)).toEqual([join(dir, "a")]);
    expect(problems.map((p) => p.code)).toEqual(["weather"]);
  });

  test("discoverProviders passes on unknown-key warnings with the provider's code", () => {
    const dir = providersDir({ "w/manifest.yaml": "code: w\nnamspace: /x\n" });
    const { providers, problems } = discoverProviders(dir);
    expect(providers).toHaveLength(1);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ level: "warn", code: "w", file: join(dir, "w", "manifest.yaml") });
    expect(problems[0]!.message).toContain('"namespace"');
  });

  test("discoverProviders ignores hidden directories and plain files", () => {
    const dir = providersDir({
      ".cache/manifest.yaml": "code: hidden\n",
      "registry.yaml": "version: 1\nproviders: []\n",
      "runtimes.yaml": "runtimes: {}\n",
      "real/manifest.yaml": "code: real\n",
    });
    const { providers, problems } = discoverProviders(dir);
    expect(providers.map((p) => p.manifest.code)).toEqual(["real"]);
    expect(problems).toEqual([]);
  });

  test("discoverProviders returns nothing and no problem for an empty providers dir", () => {
    expect(discoverProviders(providersDir({}))).toEqual({ providers: [], problems: [], broken: new Set() });
  });

  test("discoverProviders reports a providers dir it cannot read instead of throwing", () => {
    const missing = join(root, "does-not-exist");
    const { providers, problems } = discoverProviders(missing);
    expect(providers).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.level).toBe("error");
    expect(problems[0]!.dir).toBe(missing);
    expect(problems[0]!.message).toContain(missing);
  });

  test("discoverProviders reports a providers dir that is a file instead of throwing", () => {
    const file = join(root, "not-a-dir");
    writeFileSync(file, "");
    const { providers, problems } = discoverProviders(file);
    expect(providers).toEqual([]);
    expect(problems.map((p) => p.level)).toEqual(["error"]);
  });
});

describe("findManifest and discoverProvider", () => {
  test("findManifest finds nothing in a directory without a manifest", () => {
    const dir = providersDir({ "README.md": "" });
    expect(findManifest(dir)).toEqual({});
  });

  test("discoverProvider reports a manifest.yaml that is a directory as an error", () => {
    const dir = providersDir({ "manifest.yaml/inner": "code: x\n" });
    const { providers, problems } = discoverProvider(dir);
    expect(providers).toEqual([]);
    expect(problems.map((p) => p.level)).toEqual(["error"]);
  });

  test("discoverProvider loads one provider directory", () => {
    const dir = providersDir({ ".core/manifest.yaml": "code: solo\nentry: ./server.ts\n" });
    const { providers, problems } = discoverProvider(dir);
    expect(problems).toEqual([]);
    expect(providers.map((p) => [p.manifest.code, p.manifest.runtime])).toEqual([["solo", "bun"]]);
  });
});
