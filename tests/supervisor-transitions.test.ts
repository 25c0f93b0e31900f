/**
 * The supervisor's status table (TRANSITIONS in lib/supervisor/status.ts) walked with real
 * providers: every change a run makes is one the table allows, and every change the table
 * allows is made by one of these runs.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ProviderStatus, TRANSITIONS } from "../lib/supervisor/status.ts";
import {
  addEchoProvider,
  addProvider,
  agentCall,
  BUN,
  cleanup,
  createExternal,
  getProvider,
  makeSpace,
  request,
  startAgent,
  startInProcess,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(120_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

const control = (code: string, extra: Record<string, unknown> = {}) => ({
  code,
  runtime: "bun",
  entry: "./control.ts",
  health: { path: "/health", interval: "150ms", timeout: "1s", startup_timeout: "20s", failure_threshold: 1 },
  stop_timeout: "5s",
  env: { FIXTURE_BUN: BUN },
  ...extra,
});

test("every status change real providers make is in the transition table, and every change in the table is made", async () => {
  const space = makeSpace();
  addProvider(space, "cycle", control("cycle", { restart: { policy: "on-failure", max_restarts: 5 } }), {
    fixtures: ["control.ts"],
  });
  addProvider(space, "never", control("never", { restart: { policy: "never" } }), {
    fixtures: ["control.ts"],
  });
  const crash = (code: string, arg: string, restart: Record<string, unknown>) =>
    addProvider(
      space,
      code,
      { code, runtime: "exec", binary: "./crash.sh", args: [arg], restart },
      {
        fixtures: ["crash.sh"],
      },
    );
  crash("crash", "3", { policy: "on-failure", max_restarts: 1 });
  crash("loop", "3", { policy: "always", max_restarts: 8 });
  crash("clean", "0", { policy: "on-failure" });
  addEchoProvider(space, "off");
  writeFileSync(
    join(space.providersDir, "registry.yaml"),
    `version: 1\nproviders:\n  - { code: off, enabled: false, installed_at: "2026-01-01T00:00:00.000Z" }\n`,
  );
  addProvider(space, "ext", { code: "ext", runtime: "external" });
  // An external provider whose namespace another (earlier in code order) holds.
  addProvider(space, "zext", { code: "zext", runtime: "external", namespace: "/api/v1/cycle" });

  const gw = await startInProcess(space);
  const post = (code: string, action: string) =>
    request(`${gw.url}/_gateway/providers/${code}/${action}`, { method: "POST" });
  const health = async (code: string, mode: string) => {
    const { upstream } = await getProvider(gw.url, code);
    await request(`${upstream}/control/health?mode=${mode}`);
  };

  // cycle: unhealthy and back; killed; restarted by its liveness probe; stopped while unhealthy and while ready.
  let view = await waitForStatus(gw.url, "cycle", "ready");
  await health("cycle", "fail&count=1");
  await waitFor("cycle to go unhealthy and come back", async () => {
    const lines = gw.gateway.providers
      .get("cycle")!
      .supervisor.logs.tail(1000)
      .map((l) => l.line);
    return lines.some((l) => l.startsWith("unhealthy -> ready"));
  });
  process.kill(view.pid!, "SIGKILL");
  view = await waitFor("cycle back after the kill", async () => {
    const now = await getProvider(gw.url, "cycle");
    return now.status === "ready" && now.pid !== view.pid && now;
  });
  await health("cycle", "fail");
  view = await waitFor("cycle restarted by its liveness probe", async () => {
    const now = await getProvider(gw.url, "cycle");
    return now.status === "ready" && now.pid !== view.pid && now;
  });
  await health("cycle", "hang");
  await waitForStatus(gw.url, "cycle", "unhealthy");
  await post("cycle", "stop");
  await waitForStatus(gw.url, "cycle", "stopped");
  await post("cycle", "start");
  await waitForStatus(gw.url, "cycle", "ready");
  await post("cycle", "stop");
  await waitForStatus(gw.url, "cycle", "stopped");

  // never: killed while ready and while unhealthy (failed both times), started again, stopped while failed.
  view = await waitForStatus(gw.url, "never", "ready");
  process.kill(view.pid!, "SIGKILL");
  await waitForStatus(gw.url, "never", "failed");
  await post("never", "start");
  view = await waitForStatus(gw.url, "never", "ready");
  await health("never", "fail");
  await waitForStatus(gw.url, "never", "unhealthy");
  process.kill(view.pid!, "SIGKILL");
  await waitForStatus(gw.url, "never", "failed");
  await post("never", "stop");
  await waitForStatus(gw.url, "never", "stopped");

  // crash: failed starts spend the budget; clean: exits 0 before ready; loop: stopped while it waits to restart.
  await waitForStatus(gw.url, "crash", "failed");
  await waitForStatus(gw.url, "clean", "stopped");
  await waitFor("loop to be waiting to restart after a few starts", async () => {
    const now = await getProvider(gw.url, "loop");
    return now.status === "restarting" && now.restarts >= 3 && now;
  });
  await post("loop", "stop");
  await waitForStatus(gw.url, "loop", "stopped");

  // far: an external provider's agent registers, falls silent (unhealthy, then away), beats again.
  const agent = await startAgent(space);
  const { connection } = (
    await createExternal(gw.url, { code: "far", runtime: "external", heartbeat_interval: 0.1 })
  ).body;
  expect(
    (await agentCall(connection.register_endpoint, connection.auth_token, { url: agent.url })).status,
  ).toBe(200);
  await waitForStatus(gw.url, "far", "awaiting_agent");
  expect((await agentCall(connection.heartbeat_endpoint, connection.auth_token)).status).toBe(200);
  expect((await getProvider(gw.url, "far")).status).toBe("ready");
  await gw.gateway.stop();

  const seen = new Set<string>();
  for (const entry of gw.gateway.providers.values()) {
    for (const { line } of entry.supervisor.logs.tail(1000)) {
      const change = /^(\w+) -> (\w+): /.exec(line);
      if (change) seen.add(`${change[1]} -> ${change[2]}`);
    }
  }
  const allowed = new Set(
    Object.entries(TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from} -> ${to}`)),
  );
  expect([...seen].filter((change) => !allowed.has(change))).toEqual([]);
  expect([...allowed].filter((change) => !seen.has(change)).sort()).toEqual([]);
  expect(gw.logs.filter((line) => line.includes("Unexpected status change"))).toEqual([]);
  // Both initial statuses were used.
  const initial = new Set<ProviderStatus>(["stopped", "awaiting_agent"]);
  for (const status of initial) expect([...seen].some((c) => c.startsWith(`${status} ->`))).toBe(true);
});
