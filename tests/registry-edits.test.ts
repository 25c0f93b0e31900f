/**
 * No registry edit is ever lost: concurrent `gateway providers` commands each hold the
 * registry's lock, a lock left by a killed process is recovered, a running gateway applies edits
 * made by the CLI or by hand (and not its own writes), and a write that fails for real (a full
 * file system) leaves the old file whole, keeps everything running, and is written again later.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Problem } from "../lib/problems.ts";
import {
  addEchoProvider,
  BUN,
  cleanup,
  getProvider,
  makeSpace,
  request,
  runCli,
  type Space,
  spawnGateway,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(120_000);

const unmounts: string[] = [];
afterEach(async () => {
  // Lazily: the gateway may still have files open there until cleanup stops it.
  for (const dir of unmounts.splice(0)) execFileSync("umount", ["-l", dir]);
  expect(await cleanup()).toEqual([]);
});

type RegistryFile = { providers: Array<{ code: string; enabled: boolean; source?: string }> };
const readRegistry = (file: string) => parseYaml(readFileSync(file, "utf8")) as RegistryFile;

describe("concurrent edits", () => {
  test("40 gateway providers disable commands at once (20 providers, and 20 more on one of them) are all recorded", async () => {
    const space = makeSpace();
    const codes = Array.from({ length: 20 }, (_, i) => `p${String(i).padStart(2, "0")}`);
    for (const code of codes) addEchoProvider(space, code);
    const dir = ["--providers-dir", space.providersDir];
    const runs = [
      ...codes.map((code) => runCli(["providers", "disable", code, ...dir])),
      ...codes.map(() => runCli(["providers", "disable", codes[7]!, ...dir])),
    ];
    const results = await Promise.all(runs);
    for (const result of results) {
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
    }
    const registry = readRegistry(join(space.providersDir, "registry.yaml"));
    expect(registry.providers.map((p) => p.code)).toEqual(codes);
    expect(registry.providers.filter((p) => p.enabled === false)).toHaveLength(20);
  });

  test("a lock held by a live process makes a command wait, then fail naming the file; one left by a killed process is recovered at once", async () => {
    const space = makeSpace();
    addEchoProvider(space, "solo");
    const lockFile = join(space.providersDir, "registry.yaml.lock");
    // A process that takes the registry's lock the way the gateway does, and holds it.
    const holder = Bun.spawn({
      cmd: [
        BUN,
        "-e",
        `const { withFileLock } = await import(${JSON.stringify(join(import.meta.dir, "..", "lib", "file-lock.ts"))});
         withFileLock(${JSON.stringify(lockFile)}, () => { console.log("holding"); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000); });`,
      ],
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("holding");
    const dir = ["--providers-dir", space.providersDir];

    const blocked = await runCli(["providers", "disable", "solo", ...dir]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(`Cannot lock ${lockFile}`);

    holder.kill("SIGKILL");
    await holder.exited;
    const started = Date.now();
    const after = await runCli(["providers", "disable", "solo", ...dir]);
    expect(after.code).toBe(0);
    // No staleness to wait out: the kernel released the lock with its holder.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(readRegistry(join(space.providersDir, "registry.yaml")).providers[0]?.enabled).toBe(false);
  });
});

describe("a running gateway and the registry", () => {
  test("applies CLI edits within a second and the CLI says it took them; a hand edit too; its own writes are no edits", async () => {
    const space = makeSpace();
    addEchoProvider(space, "one");
    addEchoProvider(space, "two");
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"]);
    const two = await waitForStatus(gw.url, "two", "ready");
    await waitForStatus(gw.url, "one", "ready");
    // The gateway wrote the registry (two new providers): that must not look like an edit.
    await Bun.sleep(1000);
    expect(gw.stderr()).not.toContain("rescanning");
    const dir = ["--providers-dir", space.providersDir];

    const disable = await runCli(["providers", "disable", "two", ...dir]);
    expect(disable.code).toBe(0);
    expect(disable.stdout).toContain(`took the change: "two" is disabled`);
    expect((await getProvider(gw.url, "two")).status).toBe("disabled");
    await waitFor("the disabled provider's process to end", () => {
      try {
        process.kill(two.pid!, 0);
        return false;
      } catch {
        return true;
      }
    });

    const enable = await runCli(["providers", "enable", "two", ...dir]);
    expect(enable.stdout).toContain(`took the change: "two" is`);
    await waitForStatus(gw.url, "two", "ready");

    // By hand, as an operator with an editor would.
    const file = join(space.providersDir, "registry.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(/(code: one\n(?:.*\n)*?\s+enabled: )true/, "$1false"),
    );
    await waitForStatus(gw.url, "one", "disabled", 5000);
    expect((await getProvider(gw.url, "two")).status).toBe("ready");
  });

  test("providers list shows the running gateway's live status, in the table and as --json", async () => {
    const space = makeSpace();
    addEchoProvider(space, "live");
    addEchoProvider(space, "off");
    const dir = ["--providers-dir", space.providersDir];
    expect((await runCli(["providers", "disable", "off", ...dir])).code).toBe(0);
    // No gateway yet: no status column, and null statuses in JSON.
    const before = JSON.parse((await runCli(["providers", "list", "--json", ...dir])).stdout) as Array<
      Record<string, unknown>
    >;
    expect(before.map((row) => row.status)).toEqual([null, null]);
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"]);
    await waitForStatus(gw.url, "live", "ready");
    const rows = JSON.parse((await runCli(["providers", "list", "--json", ...dir])).stdout) as Array<
      Record<string, unknown>
    >;
    expect(rows).toEqual([
      {
        code: "live",
        enabled: true,
        version: null,
        source: join(space.providersDir, "live"),
        status: "ready",
      },
      {
        code: "off",
        enabled: false,
        version: null,
        source: join(space.providersDir, "off"),
        status: "disabled",
      },
    ]);
    const table = (await runCli(["providers", "list", ...dir])).stdout;
    expect(table.split("\n")[0]).toMatch(/^CODE\s+ENABLED\s+STATUS\s+VERSION\s+SOURCE$/);
    expect(table).toMatch(/\nlive\s+yes\s+ready\s+/);
    expect(table).toMatch(/\noff\s+no\s+disabled\s+/);
  });

  test("without a running gateway the CLI says the change waits for one", async () => {
    const space = makeSpace();
    addEchoProvider(space, "idle");
    const result = await runCli(["providers", "disable", "idle", "--providers-dir", space.providersDir]);
    expect(result.stdout).toContain("No gateway is running on this registry");
  });
});

/**
 * A directory whose writes fail for real: a 64 KiB tmpfs filled to the brim (as root, where
 * permissions do not bind), else a read-only directory.
 */
function failingDir(space: Space): { dir: string; fail(): void; heal(): void } {
  const dir = join(space.root, "state");
  mkdirSync(dir);
  const root = process.getuid?.() === 0;
  if (root) {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
    unmounts.push(dir);
  }
  const filler = join(dir, "filler");
  return {
    dir,
    fail() {
      if (!root) {
        execFileSync("chmod", ["0555", dir]);
        return;
      }
      try {
        writeFileSync(filler, Buffer.alloc(128 * 1024));
      } catch {
        // Full: what we wanted.
      }
    },
    heal() {
      if (root) rmSync(filler, { force: true });
      else execFileSync("chmod", ["0755", dir]);
    },
  };
}

describe("a registry write that fails", () => {
  test("on a full file system leaves the old file whole, keeps every provider running, says where and why, and is written again on the next change", async () => {
    const space = makeSpace();
    const state = failingDir(space);
    const registryFile = join(state.dir, "registry.yaml");
    addEchoProvider(space, "first");
    const gw = await spawnGateway([
      "--providers-dir",
      space.providersDir,
      "--registry",
      registryFile,
      "--port",
      "0",
    ]);
    await waitForStatus(gw.url, "first", "ready");
    const before = readFileSync(registryFile, "utf8");
    expect(readRegistry(registryFile).providers.map((p) => p.code)).toEqual(["first"]);

    state.fail();
    addEchoProvider(space, "second");
    await waitForStatus(gw.url, "second", "ready");
    const problems = (await request<{ problems: Problem[] }>(`${gw.url}/_gateway/problems`)).body.problems;
    const problem = problems.find((p) => p.file === registryFile);
    expect(problem?.level).toBe("error");
    expect(problem?.message).toContain(`Cannot save registry ${registryFile}`);
    expect(problem?.message).toMatch(/ENOSPC|no space|EACCES|permission/i);
    expect(problem?.message).toContain("the previous file is unchanged");
    expect(readFileSync(registryFile, "utf8")).toBe(before);
    expect((await getProvider(gw.url, "first")).status).toBe("ready");
    expect((await request(`${gw.url}/healthz`)).status).toBe(200);

    state.heal();
    addEchoProvider(space, "third");
    await waitForStatus(gw.url, "third", "ready");
    await waitFor(
      "the registry to be written again",
      () => readRegistry(registryFile).providers.length === 3,
    );
    expect(readRegistry(registryFile).providers.map((p) => p.code)).toEqual(["first", "second", "third"]);
    const after = (await request<{ problems: Problem[] }>(`${gw.url}/_gateway/problems`)).body.problems;
    expect(after.filter((p) => p.file === registryFile)).toEqual([]);
  });
});
