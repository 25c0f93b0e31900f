/**
 * Edits that break a manifest never stop what runs: invalid YAML, a field that fails validation
 * and a namespace that now collides all keep the running provider serving, with the problem
 * reported, until the file is fixed; an editor's save (rename over, truncate then write, a
 * half-written file) never restarts a provider with a half-written manifest. Real gateway
 * subprocesses, real file operations, requests flowing throughout.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Problem } from "../lib/problems.ts";
import {
  addEchoProvider,
  cleanup,
  echoManifest,
  getProvider,
  getProviders,
  makeSpace,
  manifestYaml,
  request,
  serveArgs,
  spawnGateway,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

/** GETs `path` in a loop until stopped; returns every status seen. */
function steadyLoad(url: string): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        statuses.push(response.status);
      } catch {
        statuses.push(0);
      }
      await Bun.sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return statuses;
    },
  };
}

async function problems(url: string): Promise<Problem[]> {
  return (await request<{ problems: Problem[] }>(`${url}/_gateway/problems`)).body.problems;
}

describe("a manifest that no longer loads", () => {
  test("invalid YAML keeps the running provider serving and reports it; the fix is applied as any change", async () => {
    const space = makeSpace();
    const dir = addEchoProvider(space, "kept");
    const gw = await spawnGateway(serveArgs(space));
    const before = await waitForStatus(gw.url, "kept", "ready");
    const load = steadyLoad(`${gw.url}/api/v1/kept/items`);

    const file = join(dir, "manifest.yaml");
    writeFileSync(file, "code: kept\nruntime: [bun\n  entry: ./echo.ts\n");
    const reported = await waitFor("the problem to be reported", async () => {
      const view = await getProvider(gw.url, "kept");
      return view.manifest_error !== null && view;
    });
    expect(reported.manifest_error).toContain(file);
    expect(reported.manifest_error).toContain("keeping the running version");
    expect(reported.status).toBe("ready");
    expect(reported.pid).toBe(before.pid);
    const listed = (await problems(gw.url)).find((p) => p.file === file);
    expect(listed).toMatchObject({ level: "error", code: "kept", file });
    // Still serving a moment later: nothing was stopped.
    await Bun.sleep(800);
    expect((await getProvider(gw.url, "kept")).pid).toBe(before.pid);

    writeFileSync(file, manifestYaml(space, echoManifest("kept", { env: { FIXTURE_FLAVOUR: "fixed" } })));
    const fixed = await waitFor("the fixed manifest to be applied", async () => {
      const { body } = await request<{ env: Record<string, string> }>(`${gw.url}/api/v1/kept/env`);
      return body.env?.FIXTURE_FLAVOUR === "fixed" && body;
    });
    expect(fixed.env.FIXTURE_FLAVOUR).toBe("fixed");
    const after = await getProvider(gw.url, "kept");
    expect(after.manifest_error).toBeNull();
    expect((await problems(gw.url)).filter((p) => p.file === file)).toEqual([]);

    const statuses = await load.stop();
    // Only the restart that applied the fix may have answered 503 for a moment.
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(10);
  });

  test("a field that fails validation keeps the running version, as does a namespace that now collides", async () => {
    const space = makeSpace();
    const dir = addEchoProvider(space, "alpha");
    addEchoProvider(space, "beta");
    const gw = await spawnGateway(serveArgs(space));
    const alpha = await waitForStatus(gw.url, "alpha", "ready");
    const beta = await waitForStatus(gw.url, "beta", "ready");
    const file = join(dir, "manifest.yaml");

    writeFileSync(file, manifestYaml(space, echoManifest("alpha", { port: "not a port" })));
    const invalid = await waitFor("the invalid field to be reported", async () => {
      const view = await getProvider(gw.url, "alpha");
      return view.manifest_error !== null && view;
    });
    expect(invalid.manifest_error).toContain('field "port"');
    expect((await problems(gw.url)).find((p) => p.file === file)?.field).toBe("port");

    // alpha comes first in code order: taken as new, it would disable beta. It must not.
    writeFileSync(file, manifestYaml(space, echoManifest("alpha", { namespace: "/api/v1/beta" })));
    const collides = await waitFor("the collision to be reported", async () => {
      const view = await getProvider(gw.url, "alpha");
      return view.manifest_error?.includes("namespace") && view;
    });
    expect(collides.manifest_error).toContain("keeping the running version");
    expect((await problems(gw.url)).find((p) => p.code === "alpha")?.field).toBe("namespace");
    for (const [code, view] of [
      ["alpha", alpha],
      ["beta", beta],
    ] as const) {
      const now = await getProvider(gw.url, code);
      expect(now.status).toBe("ready");
      expect(now.pid).toBe(view.pid);
      expect((await request<{ provider: string }>(`${gw.url}/api/v1/${code}/x`)).body.provider).toBe(code);
    }
  });

  test("with --no-watch, SIGHUP keeps the running version too, also of a provider that was not running", async () => {
    const space = makeSpace();
    const runningDir = addEchoProvider(space, "up");
    const stoppedDir = addEchoProvider(space, "down");
    const gw = await spawnGateway(serveArgs(space, "--no-watch"));
    const up = await waitForStatus(gw.url, "up", "ready");
    await waitForStatus(gw.url, "down", "ready");
    await request(`${gw.url}/_gateway/providers/down/stop`, { method: "POST" });
    await waitForStatus(gw.url, "down", "stopped");

    writeFileSync(join(runningDir, "manifest.yaml"), "{ not yaml");
    writeFileSync(join(stoppedDir, "manifest.yaml"), "code: down\nhealth: 5\n");
    gw.proc.kill("SIGHUP");
    await waitFor("both problems to be reported", async () => {
      const views = await getProviders(gw.url);
      return views.every((v) => v.manifest_error !== null) && views;
    });
    expect(await getProvider(gw.url, "up")).toMatchObject({ status: "ready", pid: up.pid });
    expect((await getProvider(gw.url, "down")).status).toBe("stopped");
    expect((await problems(gw.url)).filter((p) => p.level === "error").map((p) => p.code)).toEqual([
      "down",
      "up",
    ]);
  });

  test("removing the manifest file, or the directory, stops the provider", async () => {
    const space = makeSpace();
    const fileGone = addEchoProvider(space, "nofile");
    const dirGone = addEchoProvider(space, "nodir");
    const gw = await spawnGateway(serveArgs(space));
    await waitForStatus(gw.url, "nofile", "ready");
    await waitForStatus(gw.url, "nodir", "ready");
    rmSync(join(fileGone, "manifest.yaml"));
    rmSync(dirGone, { recursive: true, force: true });
    await waitFor("both to leave the list", async () => (await getProviders(gw.url)).length === 0);
  });
});

describe("an editor's save", () => {
  test("rename over, truncate then write, and a half-written file each restart the provider once, with the whole manifest", async () => {
    const space = makeSpace();
    const dir = addEchoProvider(space, "edited");
    const gw = await spawnGateway(serveArgs(space));
    let view = await waitForStatus(gw.url, "edited", "ready");
    const file = join(dir, "manifest.yaml");
    const flavourIs = (flavour: string) =>
      waitFor(`flavour ${flavour}`, async () => {
        const { body } = await request<{ env: Record<string, string> }>(`${gw.url}/api/v1/edited/env`);
        return body.env?.FIXTURE_FLAVOUR === flavour && body;
      });
    const saves: Array<[string, (text: string) => Promise<void>]> = [
      [
        "rename",
        async (text) => {
          const temp = join(dir, ".manifest.yaml.swp");
          writeFileSync(temp, text);
          renameSync(temp, file);
        },
      ],
      [
        "truncate",
        async (text) => {
          writeFileSync(file, "");
          await Bun.sleep(60);
          writeFileSync(file, text);
        },
      ],
      [
        "half",
        async (text) => {
          // The first half parses and validates: a manifest with no entry, so nothing to run.
          const cut = text.indexOf("entry:");
          writeFileSync(file, text.slice(0, cut));
          await Bun.sleep(60);
          writeFileSync(file, text);
        },
      ],
    ];
    for (const [flavour, save] of saves) {
      const restarts = view.restarts;
      const pid = view.pid;
      await save(manifestYaml(space, echoManifest("edited", { env: { FIXTURE_FLAVOUR: flavour } })));
      await flavourIs(flavour);
      // Settle: a second, late application would show as another new pid.
      await Bun.sleep(700);
      view = await waitForStatus(gw.url, "edited", "ready");
      expect(view.runtime).toBe("bun");
      expect(view.pid).not.toBe(pid);
      expect(view.restarts).toBe(restarts);
      const { body } = await request<{ pid: number }>(`${gw.url}/api/v1/edited/env`);
      expect(body.pid).toBe(view.pid!);
      const transitions = gw
        .stderr()
        .split("\n")
        .filter((l) => l.includes("[edited]") && l.includes("starting: starting"));
      // One start for the first load, then exactly one per save so far.
      expect(transitions.length).toBe(1 + saves.findIndex(([f]) => f === flavour) + 1);
    }
  });
});
