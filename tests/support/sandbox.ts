/**
 * One test's sandbox: a temp dir holding `providers/`, and a random marker that every process the
 * test starts carries in its environment. Also the one registry of what a test started: gateways
 * and subprocesses register a stopper with {@link onCleanup}, and {@link cleanup} stops them, checks
 * /proc for survivors and removes the sandboxes.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { stringify as stringifyYaml } from "yaml";
import { killMarked, leftoverProcesses, MARKER_VAR, type ProcessInfo } from "./procs.ts";

export const REPO_ROOT = resolve(import.meta.dir, "..", "..");
export const FIXTURES = join(REPO_ROOT, "tests", "fixtures");
/** The Bun running the tests; fixtures that need Bun outside the `bun` runtime get it from here. */
export const BUN = process.execPath;

/** One test's sandbox: a temp dir holding `providers/`, and the marker its processes carry. */
export interface Space {
  root: string;
  providersDir: string;
  marker: string;
}

/** Stops what a test started (gateways, subprocesses), run last-in first-out. */
const stoppers: Array<() => Promise<void> | void> = [];
/** Sandbox directories, removed once every process is gone. */
const sandboxes: string[] = [];
const markers = new Set<string>();

/** Creates a sandbox; {@link cleanup} removes it. */
export function makeSpace(): Space {
  const root = mkdtempSync(join(tmpdir(), "gateway-it-"));
  const providersDir = join(root, "providers");
  mkdirSync(providersDir);
  const marker = `gwtest-${crypto.randomUUID()}`;
  markers.add(marker);
  sandboxes.push(root);
  return { root, providersDir, marker };
}

export interface ProviderFiles {
  /** Files of tests/fixtures/ copied into the provider dir (executable bit kept). */
  fixtures?: string[];
  /** Extra files: relative path → content. */
  files?: Record<string, string>;
}

/**
 * Writes `<providersDir>/<dir>/manifest.yaml` from `manifest` (see {@link manifestYaml}) and the
 * given files. Returns the provider dir.
 */
export function addProvider(
  space: Space,
  dir: string,
  manifest: Record<string, unknown>,
  content: ProviderFiles = {},
): string {
  const providerDir = join(space.providersDir, dir);
  mkdirSync(providerDir, { recursive: true });
  for (const fixture of content.fixtures ?? []) {
    const target = join(providerDir, basename(fixture));
    copyFileSync(join(FIXTURES, fixture), target);
    if (/\.(sh|py)$/.test(fixture)) chmodSync(target, 0o755);
  }
  for (const [path, text] of Object.entries(content.files ?? {})) {
    const target = join(providerDir, path);
    mkdirSync(resolve(target, ".."), { recursive: true });
    writeFileSync(target, text);
  }
  writeFileSync(join(providerDir, "manifest.yaml"), manifestYaml(space, manifest));
  return providerDir;
}

/**
 * The YAML text of `manifest` with the space's marker added to its `env`, so the provider's
 * processes can be found in /proc: what {@link addProvider} writes, for a test that rewrites a
 * manifest itself.
 */
export function manifestYaml(space: Space, manifest: Record<string, unknown>): string {
  const env = { ...((manifest.env as Record<string, string> | undefined) ?? {}), [MARKER_VAR]: space.marker };
  return stringifyYaml({ ...manifest, env });
}

/** Registers `stop` to be run (bounded, last-in first-out) by the next {@link cleanup}. */
export function onCleanup(stop: () => Promise<void> | void): void {
  stoppers.push(stop);
}

/**
 * Stops every gateway and subprocess registered with {@link onCleanup}, then checks that no process
 * of any sandbox survived: returns the leftovers (after SIGKILLing them) and removes the sandboxes.
 * Call it from `afterEach` and assert the result is empty.
 */
export async function cleanup(): Promise<ProcessInfo[]> {
  for (const stop of stoppers.splice(0).reverse()) {
    // Bounded: a gateway that cannot stop must not hang the suite; the leftover check reports it.
    await Promise.race([Promise.resolve(stop()).catch(() => {}), Bun.sleep(30_000)]);
  }
  const leftovers: ProcessInfo[] = [];
  for (const marker of markers) {
    const found = await leftoverProcesses(marker);
    leftovers.push(...found);
    killMarked(marker);
  }
  markers.clear();
  for (const root of sandboxes.splice(0)) rmSync(root, { recursive: true, force: true });
  return leftovers;
}
