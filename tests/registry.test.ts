import { afterAll, afterEach, describe, expect, setSystemTime, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Registry, RegistryCorruptError, type RegistryEntry } from "../lib/registry.ts";

const root = mkdtempSync(join(tmpdir(), "gateway-registry-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => setSystemTime());

let counter = 0;
/** A fresh empty directory for one test. */
function freshDir(): string {
  const dir = join(root, `case-${++counter}`);
  mkdirSync(dir);
  return dir;
}

function entry(code: string, extra: Partial<RegistryEntry> = {}): RegistryEntry {
  return { code, enabled: true, installed_at: "2025-01-02T03:04:05.000Z", ...extra };
}

/** Loads `file`, expecting a RegistryCorruptError, and returns it. */
function corruptError(registry: Registry): RegistryCorruptError {
  try {
    registry.load();
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryCorruptError);
    return error as RegistryCorruptError;
  }
  throw new Error("Registry.load accepted a corrupt file");
}

describe("Registry entries", () => {
  test("Registry starts empty", () => {
    const registry = new Registry(join(freshDir(), "registry.yaml"));
    expect(registry.list()).toEqual([]);
    expect(registry.get("x")).toBeUndefined();
  });

  test("Registry.put adds an entry that get returns", () => {
    const registry = new Registry(join(freshDir(), "registry.yaml"));
    registry.put(entry("weather", { version: "1.0.0", source: "/srv/providers/weather" }));
    expect(registry.get("weather")).toEqual(
      entry("weather", { version: "1.0.0", source: "/srv/providers/weather" }),
    );
  });

  test("Registry.put replaces the entry with the same code", () => {
    const registry = new Registry(join(freshDir(), "registry.yaml"));
    registry.put(entry("weather"));
    registry.put(entry("weather", { enabled: false }));
    expect(registry.list()).toHaveLength(1);
    expect(registry.get("weather")!.enabled).toBe(false);
  });

  test("Registry.list returns the entries sorted by code", () => {
    const registry = new Registry(join(freshDir(), "registry.yaml"));
    for (const code of ["mango", "apple", "zucchini", "banana"]) registry.put(entry(code));
    expect(registry.list().map((e) => e.code)).toEqual(["apple", "banana", "mango", "zucchini"]);
  });

  test("Registry.remove deletes an entry and says whether it existed", () => {
    const registry = new Registry(join(freshDir(), "registry.yaml"));
    registry.put(entry("a"));
    registry.put(entry("b"));
    expect(registry.remove("a")).toBe(true);
    expect(registry.remove("a")).toBe(false);
    expect(registry.get("a")).toBeUndefined();
    expect(registry.list().map((e) => e.code)).toEqual(["b"]);
  });

  test("Registry.put refuses an entry with an unknown field", () => {
    const registry = new Registry(join(freshDir(), "registry.yaml"));
    expect(() => registry.put({ ...entry("a"), colour: "blue" } as RegistryEntry)).toThrow();
    expect(registry.get("a")).toBeUndefined();
  });
});

describe("Registry load and save", () => {
  test("Registry.load treats a missing file as an empty registry and creates nothing", () => {
    const dir = freshDir();
    const registry = new Registry(join(dir, "registry.yaml"));
    registry.put(entry("stale"));
    registry.load();
    expect(registry.list()).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("Registry.load treats an empty file as an empty registry and keeps it in place", () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    writeFileSync(file, "");
    const registry = new Registry(file);
    registry.load();
    expect(registry.list()).toEqual([]);
    expect(readdirSync(dir)).toEqual(["registry.yaml"]);
  });

  test("Registry save and load round-trip every field, external details included", () => {
    const file = join(freshDir(), "registry.yaml");
    const saved = new Registry(file);
    const local = entry("weather", { version: "1.2.0", enabled: false, source: "/srv/providers/weather" });
    const external = entry("remote", {
      external: {
        token_sha256: "ab".repeat(32),
        url: "https://agent.example/base",
        namespace: "/r",
        name: "Remote",
      },
    });
    saved.put(local);
    saved.put(external);
    saved.save();

    const loaded = new Registry(file);
    loaded.load();
    expect(loaded.list()).toEqual([external, local]);
  });

  test("Registry.save writes version 1 and the providers as YAML", () => {
    const file = join(freshDir(), "registry.yaml");
    const registry = new Registry(file);
    registry.put(entry("a"));
    registry.save();
    const text = readFileSync(file, "utf8");
    expect(text).toStartWith("#");
    expect(text).toContain("version: 1\n");
    expect(text).toContain("code: a\n");
  });

  test("Registry.save leaves only the registry file behind, however often it runs", () => {
    const dir = freshDir();
    const registry = new Registry(join(dir, "registry.yaml"));
    for (let i = 0; i < 20; i++) {
      registry.put(entry(`p${i}`));
      registry.save();
    }
    expect(readdirSync(dir)).toEqual(["registry.yaml"]);
  });

  test("Registry.save replaces the file whole, so a concurrent reader sees the old or the new content only", async () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    const registry = new Registry(file);
    // Two states of different sizes, so a torn or truncated read cannot look like either.
    registry.put(entry("a"));
    registry.save();
    const small = readFileSync(file, "utf8");
    for (let i = 0; i < 40; i++) registry.put(entry(`bulk-${i}`, { source: `/srv/providers/bulk-${i}` }));
    registry.save();
    const large = readFileSync(file, "utf8");
    const smallState = new Registry(file);
    smallState.put(entry("a"));

    const reader = join(dir, "reader.ts");
    writeFileSync(
      reader,
      `import { readFileSync } from "node:fs";
const [file, a, b] = [process.argv[2], readFileSync(process.argv[3], "utf8"), readFileSync(process.argv[4], "utf8")];
const end = Date.now() + 700;
let reads = 0;
const odd = [];
while (Date.now() < end) {
  let text;
  try { text = readFileSync(file, "utf8"); } catch (error) { text = "<" + error.code + ">"; }
  reads++;
  if (text !== a && text !== b && odd.length < 5) odd.push(text.slice(0, 80));
}
console.log(JSON.stringify({ reads, odd }));
`,
    );
    writeFileSync(join(dir, "a.txt"), small);
    writeFileSync(join(dir, "b.txt"), large);
    const child = Bun.spawn([process.execPath, reader, file, join(dir, "a.txt"), join(dir, "b.txt")], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const full = new Registry(file);
    full.load();
    const until = Date.now() + 1000;
    let saves = 0;
    while (Date.now() < until) {
      (saves % 2 === 0 ? smallState : full).save();
      saves++;
    }
    const output = JSON.parse(await new Response(child.stdout).text()) as { reads: number; odd: string[] };
    expect(await child.exited).toBe(0);
    expect(saves).toBeGreaterThan(10);
    expect(output.reads).toBeGreaterThan(10);
    expect(output.odd).toEqual([]);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  test("Registry.save leaves the previous file intact when the disk refuses part of the write", () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    const before = new Registry(file);
    before.put(entry("kept"));
    before.save();
    const original = readFileSync(file, "utf8");
    expect(original.length).toBeLessThan(1024);

    // A child process whose files may not grow past 2 KiB (as on a full disk) saves a larger registry.
    const script = join(dir, "grow.ts");
    writeFileSync(
      script,
      `import { Registry } from ${JSON.stringify(resolve(import.meta.dir, "../lib/registry.ts"))};
const registry = new Registry(${JSON.stringify(file)});
registry.load();
for (let i = 0; i < 100; i++) {
  registry.put({ code: "bulk-" + i, enabled: true, installed_at: "2025-01-02T03:04:05.000Z", source: "/srv/providers/bulk-" + i });
}
try { registry.save(); console.log("saved"); } catch (error) { console.log("failed: " + error.message); }
`,
    );
    const run = Bun.spawnSync(["bash", "-c", `ulimit -f 2 && exec "${process.execPath}" "${script}"`], {
      stderr: "pipe",
    });
    expect(run.stderr.toString()).toBe("");
    const after = readFileSync(file, "utf8");
    // Either the old file or a complete new one: never a truncated mix.
    if (after !== original) {
      const reloaded = new Registry(file);
      reloaded.load();
      expect(reloaded.list()).toHaveLength(101);
    }
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  test("Registry.save cleans up its temp file when the rename fails", () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    // A directory in the registry's place makes the final rename fail.
    mkdirSync(join(file, "occupied"), { recursive: true });
    const registry = new Registry(file);
    registry.put(entry("a"));
    expect(() => registry.save()).toThrow();
    expect(readdirSync(dir)).toEqual(["registry.yaml"]);
  });
});

describe("Registry corrupt files", () => {
  test("Registry.load keeps a file that is not YAML aside and throws RegistryCorruptError", () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    const content = "version: 1\nproviders: [ {code: a\n";
    writeFileSync(file, content);
    const registry = new Registry(file);
    registry.put(entry("stale"));
    const error = corruptError(registry);
    expect(error.name).toBe("RegistryCorruptError");
    expect(error.file).toBe(file);
    expect(error.keptAs).toMatch(/\/registry\.yaml\.bad-\d{4}-\d{2}-\d{2}T[\d-]+Z$/);
    expect(error.reason).toContain("not valid YAML");
    expect(error.message).toContain(file);
    expect(error.message).toContain(error.keptAs);
    expect(readFileSync(error.keptAs, "utf8")).toBe(content);
    expect(existsSync(file)).toBe(false);
    expect(registry.list()).toEqual([]);
  });

  test("Registry.load keeps aside a YAML file that does not fit the schema and names the field", () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    const content = "version: 1\nproviders:\n  - code: a\n    enabled: yes please\n    installed_at: now\n";
    writeFileSync(file, content);
    const error = corruptError(new Registry(file));
    expect(error.reason).toContain('"providers.0.enabled"');
    expect(readFileSync(error.keptAs, "utf8")).toBe(content);
    expect(readdirSync(dir)).toEqual([error.keptAs.slice(dir.length + 1)]);
  });

  test("Registry.save after a corrupt load starts a new file and leaves the kept-aside one alone", () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    writeFileSync(file, "providers: 42\n");
    const registry = new Registry(file);
    const error = corruptError(registry);
    registry.put(entry("fresh"));
    registry.save();
    expect(readFileSync(error.keptAs, "utf8")).toBe("providers: 42\n");
    const reloaded = new Registry(file);
    reloaded.load();
    expect(reloaded.list().map((e) => e.code)).toEqual(["fresh"]);
  });

  test("Registry.load never overwrites a file kept aside earlier", () => {
    const dir = freshDir();
    const file = join(dir, "registry.yaml");
    // Two corrupt loads within the same clock tick.
    setSystemTime(new Date("2025-06-01T12:00:00.000Z"));
    writeFileSync(file, "first: [\n");
    const first = corruptError(new Registry(file));
    writeFileSync(file, "second: [\n");
    const second = corruptError(new Registry(file));
    expect(readFileSync(first.keptAs, "utf8")).toBe("first: [\n");
    expect(readFileSync(second.keptAs, "utf8")).toBe("second: [\n");
  });
});
