/**
 * Supervisor benchmark (figures, not a timed test). Three measurements:
 *
 * 1. Start-up overhead: N (default 50) fast providers (bench/supervisor/fixture.ts); time from
 *    starting the gateway to `/readyz` 200, against floor.sh, a plain shell script that starts the
 *    same N the same way and polls their health in parallel. Rounds interleaved; medians; ratio.
 *    Target: at most 1.15× the floor.
 * 2. Recovery: SIGKILL a ready provider while the gateway proxies light load to it; time until it
 *    is ready again, against the provider's own start time plus the restart delay the gateway
 *    chose (first backoff: 100 ms ±20%, read from its status event). Target: within 50 ms of that.
 * 3. The gateway's resident memory with N ready providers. Target: under 80 MB.
 *
 * Run: `node_modules/.bin/bun bench/supervisor/run.ts`. Environment: N (50), ROUNDS (9),
 * RECOVERIES (10), GATEWAY (a compiled gateway; default: one built from this checkout into a temp
 * dir), COMPARE (another compiled gateway, say an older build, measured in the same rounds).
 * Writes bench/supervisor/last-results.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { buildGateway } from "../../scripts/build.ts";
import { fixtureProviders, gatewayCommand, status, until200 } from "./fixtures.ts";

const N = Number(process.env.N ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const RECOVERIES = Number(process.env.RECOVERIES ?? 10);
const FIXTURE = join(import.meta.dir, "fixture.ts");
const FLOOR = join(import.meta.dir, "floor.sh");
const COMPARE = process.env.COMPARE ? resolve(process.env.COMPARE) : undefined;
const work = mkdtempSync(join(tmpdir(), "gateway-bench-supervisor-"));
const running = new Set<Subprocess>();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function statusOf(pid: number, field: "VmRSS" | "VmHWM"): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) / 1024;
}

function freePorts(count: number): number[] {
  const listeners = Array.from({ length: count }, () =>
    Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }),
  );
  const ports = listeners.map((l) => l.port);
  for (const l of listeners) l.stop(true);
  return ports;
}

async function gatewayUnderTest(): Promise<string> {
  if (process.env.GATEWAY) return resolve(process.env.GATEWAY);
  const out = join(work, "gateway");
  await buildGateway(out);
  return out;
}

/** A providers dir of `count` fixture providers (runtime bun, health /health). */
function providersDir(name: string, count: number): string {
  return fixtureProviders(join(work, name), count);
}

function spawnGateway(gateway: string, dir: string, port: number): Subprocess<"ignore", "pipe", "pipe"> {
  const proc = Bun.spawn({
    cmd: gatewayCommand(gateway, dir, port),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  running.add(proc);
  // Drain its output so a full pipe never slows it down.
  void new Response(proc.stdout).arrayBuffer();
  void new Response(proc.stderr).arrayBuffer();
  return proc;
}

async function stopGateway(proc: Subprocess): Promise<void> {
  proc.kill("SIGTERM");
  const code = await Promise.race([proc.exited, Bun.sleep(30_000).then(() => "hung")]);
  if (code === "hung") proc.kill("SIGKILL");
  running.delete(proc);
}

async function floorRun(bunCmd: string, env: Record<string, string>): Promise<number> {
  const ports = freePorts(N);
  const fixtureDir = join(work, "floor-fixture");
  mkdirSync(fixtureDir, { recursive: true });
  writeFileSync(join(fixtureDir, "fixture.ts"), readFileSync(FIXTURE));
  const started = performance.now();
  const proc = Bun.spawn({
    cmd: ["bash", FLOOR, bunCmd, fixtureDir, ...ports.map(String)],
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "ignore",
  });
  running.add(proc);
  let text = "";
  let took = 0;
  const decoder = new TextDecoder();
  for await (const chunk of proc.stdout) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("\nready")) {
      took = performance.now() - started;
      break;
    }
  }
  const pids = /^pids (.*)$/m.exec(text)?.[1]?.split(" ").map(Number) ?? [];
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  proc.kill("SIGKILL");
  await proc.exited;
  running.delete(proc);
  return took;
}

async function gatewayRun(gateway: string, dir: string): Promise<{ ms: number; rss: number; hwm: number }> {
  const [port] = freePorts(1);
  const started = performance.now();
  const proc = spawnGateway(gateway, dir, port!);
  const ms = await until200(`http://127.0.0.1:${port}/readyz`, started, 5);
  await Bun.sleep(2000);
  const rss = statusOf(proc.pid, "VmRSS");
  const hwm = statusOf(proc.pid, "VmHWM");
  await stopGateway(proc);
  return { ms, rss, hwm };
}

/** The gateway alone: start to /healthz 200 with no providers (its own boot time). */
async function bootRun(gateway: string): Promise<number> {
  const [port] = freePorts(1);
  const empty = join(work, "empty");
  mkdirSync(empty, { recursive: true });
  const started = performance.now();
  const proc = spawnGateway(gateway, empty, port!);
  const ms = await until200(`http://127.0.0.1:${port}/healthz`, started, 2);
  await stopGateway(proc);
  return ms;
}

/** The fixture's own start time: spawn to first 200 on /health, polled every 1 ms. */
async function ownStart(bunCmd: string, env: Record<string, string>): Promise<number> {
  const [port] = freePorts(1);
  const started = performance.now();
  const proc = Bun.spawn({
    cmd: [bunCmd, "run", FIXTURE],
    env: { ...process.env, ...env, PORT: String(port) },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  const ms = await until200(`http://127.0.0.1:${port}/health`, started, 1);
  proc.kill("SIGKILL");
  await proc.exited;
  return ms;
}

interface Recovery {
  recoveryMs: number;
  delayMs: number;
}

async function recoveries(gateway: string, bunCmd: string, env: Record<string, string>) {
  const dir = providersDir("recovery", 1);
  const [port] = freePorts(1);
  const base = `http://127.0.0.1:${port}`;
  const proc = spawnGateway(gateway, dir, port!);
  await until200(`${base}/readyz`, performance.now(), 10);

  // Status events, timestamped on arrival.
  const events: Array<{ at: number; to: string; reason: string }> = [];
  const stream = await fetch(`${base}/_gateway/events`);
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream.body!) {
      const at = performance.now();
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        // Each event is `id: N`, `event: status`, `data: {...}`.
        if (block.includes("\nevent: status") || block.startsWith("event: status")) {
          const data = JSON.parse(block.slice(block.indexOf("data: ") + 6)) as { to: string; reason: string };
          events.push({ at, to: data.to, reason: data.reason });
        }
        end = buffer.indexOf("\n\n");
      }
    }
  })().catch(() => {});

  // Light load: one request every 20 ms through the gateway to the provider.
  let loading = true;
  let answered = 0;
  const load = (async () => {
    while (loading) {
      if ((await status(`${base}/api/v1/p000/x`)) === 200) answered++;
      await Bun.sleep(20);
    }
  })();

  const results: Recovery[] = [];
  const starts: number[] = [];
  for (let i = 0; i < RECOVERIES; i++) {
    starts.push(await ownStart(bunCmd, env));
    const view = (await (await fetch(`${base}/_gateway/providers/p000`)).json()) as { pid: number };
    await Bun.sleep(300);
    const seen = events.length;
    const killed = performance.now();
    process.kill(view.pid, "SIGKILL");
    for (;;) {
      const ready = events.slice(seen).find((e) => e.to === "ready");
      if (ready) {
        const restarting = events.slice(seen).find((e) => e.to === "restarting");
        const delayMs = Number(/restarting in (\d+) ms/.exec(restarting?.reason ?? "")?.[1] ?? Number.NaN);
        results.push({ recoveryMs: ready.at - killed, delayMs });
        break;
      }
      if (performance.now() - killed > 30_000) throw new Error("the provider did not come back");
      await Bun.sleep(1);
    }
    // A restart over the admin API starts the count of consecutive restarts afresh, so the next
    // kill again gets the first backoff (else it doubles, and max_restarts ends the run).
    const before = events.length;
    await fetch(`${base}/_gateway/providers/p000/restart`, { method: "POST" });
    while (!events.slice(before).some((e) => e.to === "ready")) await Bun.sleep(5);
  }
  loading = false;
  await load;
  await stopGateway(proc);
  return { results, starts, answered };
}

async function main(): Promise<void> {
  const gateway = await gatewayUnderTest();
  // The gateway runs `bun` providers with its own executable as the bun CLI; the floor does the same.
  const bunEnv = { BUN_BE_BUN: "1" };
  console.log(`gateway ${gateway}; N=${N}; rounds ${ROUNDS}; work dir ${work}`);

  const dir = providersDir("startup", N);
  // One warm-up of each (page cache, bun's transpiler cache), not counted.
  await floorRun(gateway, bunEnv);
  await gatewayRun(gateway, dir);
  const floors: number[] = [];
  const gateways: number[] = [];
  const rss: number[] = [];
  const hwm: number[] = [];
  const boots: number[] = [];
  const compared: number[] = [];
  const comparedRss: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Floor and gateway take turns going first, so neither always meets the machine as the other left it.
    let floor = 0;
    let run: Awaited<ReturnType<typeof gatewayRun>>;
    if (round % 2 === 0) {
      floor = await floorRun(gateway, bunEnv);
      run = await gatewayRun(gateway, dir);
    } else {
      run = await gatewayRun(gateway, dir);
      floor = await floorRun(gateway, bunEnv);
    }
    ratios.push(run.ms / floor);
    const boot = await bootRun(gateway);
    floors.push(floor);
    gateways.push(run.ms);
    rss.push(run.rss);
    hwm.push(run.hwm);
    boots.push(boot);
    let line = `round ${round + 1}: floor ${floor.toFixed(0)} ms, gateway ${run.ms.toFixed(0)} ms (${(run.ms / floor).toFixed(2)}×), gateway boot ${boot.toFixed(0)} ms, RSS ${run.rss.toFixed(1)} MB`;
    if (COMPARE) {
      const other = await gatewayRun(COMPARE, dir);
      compared.push(other.ms);
      comparedRss.push(other.rss);
      line += `; compared ${other.ms.toFixed(0)} ms (${(other.ms / floor).toFixed(2)}×), RSS ${other.rss.toFixed(1)} MB`;
    }
    console.log(line);
  }
  const startup = {
    n: N,
    floor_ms: round1(median(floors)),
    gateway_ms: round1(median(gateways)),
    ratio: Math.round((median(gateways) / median(floors)) * 100) / 100,
    // Each round's gateway against that round's floor: the machine's drift between rounds cancels out.
    ratio_median_of_rounds: Math.round(median(ratios) * 100) / 100,
    rounds_within_target: `${ratios.filter((r) => r <= 1.15).length} of ${ratios.length}`,
    gateway_boot_ms: round1(median(boots)),
    // What supervising costs beyond the floor once the gateway itself is up.
    ratio_without_boot: Math.round(((median(gateways) - median(boots)) / median(floors)) * 100) / 100,
    target_ratio: 1.15,
    ...(COMPARE
      ? {
          compared_ms: round1(median(compared)),
          compared_ratio: Math.round((median(compared) / median(floors)) * 100) / 100,
        }
      : {}),
  };
  const memory = {
    providers: N,
    rss_mb: round1(median(rss)),
    peak_rss_mb: round1(median(hwm)),
    target_mb: 80,
    ...(COMPARE ? { compared_rss_mb: round1(median(comparedRss)) } : {}),
  };

  const recovery = summarizeRecovery(await recoveries(gateway, gateway, bunEnv));
  const comparedRecovery = COMPARE
    ? summarizeRecovery(await recoveries(COMPARE, COMPARE, bunEnv))
    : undefined;
  const out = {
    date: new Date().toISOString(),
    gateway: COMPARE ? gateway : undefined,
    compare: COMPARE,
    startup,
    recovery,
    ...(comparedRecovery ? { compared_recovery: comparedRecovery } : {}),
    memory,
  };
  console.log(JSON.stringify(out, null, 2));
  writeFileSync(join(import.meta.dir, "last-results.json"), `${JSON.stringify(out, null, 2)}\n`);
}

function summarizeRecovery({ results, starts, answered }: Awaited<ReturnType<typeof recoveries>>) {
  const own = median(starts);
  const overheads = results.map((r) => r.recoveryMs - r.delayMs - own);
  return {
    runs: results.length,
    recovery_ms: round1(median(results.map((r) => r.recoveryMs))),
    own_start_ms: round1(own),
    restart_delay_ms: round1(median(results.map((r) => r.delayMs))),
    overhead_ms: round1(median(overheads)),
    overhead_max_ms: round1(Math.max(...overheads)),
    requests_answered_meanwhile: answered,
    target_overhead_ms: 50,
  };
}

try {
  await main();
} finally {
  for (const proc of running) proc.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
