/**
 * Fault injection for supervision: providers that exit 0 or die of SIGSEGV at once, answer 500 or
 * hang their health check, turn unhealthy later on, close stdout, print binary junk, a 10 MB line
 * or a flood, announce a malformed handshake, or crash in a loop; and the gateway itself getting
 * SIGTERM twice, SIGHUP while providers start, and SIGKILL followed by a new start. Real
 * processes throughout; bounds are generous for a slow, loaded machine.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Logger } from "../lib/logger.ts";
import { runtime } from "../lib/runtime/index.ts";
import { ProcessLedger, readProcStat, reapOrphans } from "../lib/supervisor/ledger.ts";
import { LineBudget, LogRing, readLines } from "../lib/supervisor/logs.ts";
import { boundedLineWriter } from "../lib/supervisor/output.ts";
import {
  addEchoProvider,
  addGrandchildProvider,
  addProvider,
  BUN,
  cleanup,
  DENO_GATEWAY,
  exitCode,
  expectSiblingServes,
  fixtureManifest,
  getProvider,
  isAlive,
  leftoverProcesses,
  MARKER_VAR,
  makeSpace,
  markedProcesses,
  procStat,
  providerLogs,
  request,
  type Space,
  serveArgs,
  spawnGateway,
  startUnderTest,
  startUnderTestWithSibling,
  transitionsOf,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(120_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

/** A control fixture provider (tests/fixtures/control.ts), run through `noisy.sh` when `noise` is given. */
function addControlProvider(
  space: Space,
  code: string,
  extra: Record<string, unknown> = {},
  noise?: "junk" | "long" | "flood",
): string {
  const env = { FIXTURE_BUN: BUN, ...((extra.env as Record<string, string>) ?? {}) };
  const manifest = fixtureManifest(code, noise ? { binary: "noisy.sh", args: [noise] } : "control.ts", {
    health: { path: "/health", interval: "200ms", timeout: "1s", startup_timeout: "20s" },
    ...extra,
    env,
  });
  return addProvider(space, code, manifest, { fixtures: ["control.ts", "noisy.sh"] });
}

/** Resident memory of `pid` in MiB, from /proc. */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time (user + system) `pid` has used, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = procStat(pid);
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Times GET /healthz; throws when it does not answer 200. */
async function healthzMs(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`/healthz answered ${response.status}`);
  return performance.now() - started;
}

describe("a provider that exits at once", () => {
  test("with code 0 and policy on-failure it is stopped, not restarted", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "done",
      { code: "done", runtime: "exec", binary: "./crash.sh", args: ["0"], restart: { policy: "on-failure" } },
      { fixtures: ["crash.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "done", "stopped");
    expect(view.restarts).toBe(0);
    expect(view.pid).toBeNull();
    expect(view.last_error).toContain("exited with code 0");
    // Still one run a while later: a clean exit is not a failure to retry.
    await Bun.sleep(1000);
    const runs = (await providerLogs(gw.url, "done")).filter((l) => l.line === "crash fixture starting");
    expect(runs).toHaveLength(1);
    expect((await getProvider(gw.url, "done")).status).toBe("stopped");
    // /readyz names it: a stopped provider is not ready.
    expect((await request(`${gw.url}/readyz`)).status).toBe(503);
    await expectSiblingServes(gw);
  });

  test("with code 0 and policy always it is restarted until max_restarts is spent", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "done",
      {
        code: "done",
        runtime: "exec",
        binary: "./crash.sh",
        args: ["0"],
        restart: { policy: "always", max_restarts: 2 },
      },
      { fixtures: ["crash.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "done", "failed");
    expect(view.restarts).toBe(2);
    expect(view.last_error).toContain("exited with code 0");
    expect(view.last_error).toContain("gave up after 2 restarts");
    const runs = (await providerLogs(gw.url, "done")).filter((l) => l.line === "crash fixture starting");
    expect(runs).toHaveLength(3);
    expect(markedProcesses(space.marker, "done")).toEqual([]);
    await expectSiblingServes(gw);
  });

  // Against a Deno gateway too (the second pass of npm test): its adapter puts setpriv in front
  // as well, so it must check the program first.
  test("whose runtime's program is not installed: failed at once with a clear error, not a crash loop", async () => {
    const space = makeSpace();
    writeFileSync(
      join(space.providersDir, "runtimes.yaml"),
      'runtimes:\n  ghostly:\n    requires: entry\n    command: [no-such-program-here, "{entry}"]\n',
    );
    addProvider(
      space,
      "ghostly",
      { code: "ghostly", runtime: "ghostly", entry: "./main.js", restart: { policy: "on-failure" } },
      { files: { "main.js": "" } },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "ghostly", "failed");
    expect(view.last_error).toContain("no-such-program-here");
    expect(view.restarts).toBe(0);
    await expectSiblingServes(gw);
  });

  test("killed by SIGSEGV: failed, and last_error names the signal", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "segv",
      { code: "segv", runtime: "exec", binary: "./segv.sh", restart: { policy: "never" } },
      { fixtures: ["segv.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "segv", "failed");
    expect(view.last_error).toContain("killed by SIGSEGV");
    expect(view.last_error).toContain("segv fixture starting");
    expect(view.restarts).toBe(0);
    expect(view.pid).toBeNull();
    await expectSiblingServes(gw);
  });

  test("killed by SIGSEGV with policy on-failure: restarted, the signal counts as a failure", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "segv",
      {
        code: "segv",
        runtime: "exec",
        binary: "./segv.sh",
        restart: { policy: "on-failure", max_restarts: 1 },
      },
      { fixtures: ["segv.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "segv", "failed");
    expect(view.restarts).toBe(1);
    expect(view.last_error).toContain("SIGSEGV");
  });
});

describe("health checks", () => {
  test("a health check that answers 500 never makes it ready: failed after startup_timeout, the sibling is fine", async () => {
    const space = makeSpace();
    addControlProvider(space, "five", {
      env: { HEALTH_MODE: "fail" },
      health: { path: "/health", interval: "200ms", timeout: "1s", startup_timeout: "1500ms" },
      restart: { policy: "never" },
    });
    const gw = await startUnderTestWithSibling(space);
    expect((await getProvider(gw.url, "five")).status).toBe("starting");
    // Its port is open and answering: only the health check keeps it out.
    expect((await request(`${gw.url}/api/v1/five/x`)).status).toBe(503);
    const view = await waitForStatus(gw.url, "five", "failed");
    expect(view.last_error).toContain("startup_timeout (1500 ms)");
    expect(view.pid).toBeNull();
    await waitFor("its process to end", () => markedProcesses(space.marker, "five").length === 0);
    await expectSiblingServes(gw);
    const readyz = await request<{ waiting: Array<{ code: string }> }>(`${gw.url}/readyz`);
    expect(readyz.body.waiting.map((w) => w.code)).toEqual(["five"]);
  });

  test("a health request that hangs is cut by the probe timeout, and the gateway stays responsive", async () => {
    const space = makeSpace();
    // One hangs from the start, one starts hanging once it is ready.
    addControlProvider(space, "stuck", {
      env: { HEALTH_MODE: "hang" },
      health: { path: "/health", interval: "200ms", timeout: "300ms", startup_timeout: "2s" },
      restart: { policy: "never" },
    });
    addControlProvider(space, "later", {
      health: { path: "/health", interval: "200ms", timeout: "300ms", failure_threshold: 2 },
      restart: { policy: "never" },
    });
    const gw = await startUnderTestWithSibling(space);
    const later = await waitForStatus(gw.url, "later", "ready");

    const slowest = { ms: 0 };
    const watch = (async () => {
      for (let i = 0; i < 30; i++) {
        slowest.ms = Math.max(slowest.ms, await healthzMs(gw.url));
        await Bun.sleep(50);
      }
    })();
    const switched = Date.now();
    expect((await request(`${later.upstream}/control/health?mode=hang`)).status).toBe(200);
    await waitForStatus(gw.url, "later", "unhealthy");
    // Two failures of at most interval + timeout each; without the timeout it would never turn.
    expect(Date.now() - switched).toBeLessThan(10_000);
    const stuck = await waitForStatus(gw.url, "stuck", "failed");
    expect(stuck.last_error).toContain("startup_timeout (2000 ms)");
    await watch;
    expect(slowest.ms).toBeLessThan(1000);
    // Policy never: unhealthy, not restarted, still the same process.
    const after = await getProvider(gw.url, "later");
    expect(after).toMatchObject({ status: "unhealthy", restarts: 0, pid: later.pid });
    await expectSiblingServes(gw);
  });

  test("turns unhealthy when its health check fails a while, and ready again once it passes, without a restart", async () => {
    const space = makeSpace();
    addControlProvider(space, "wobbly", {
      health: { path: "/health", interval: "200ms", timeout: "1s", failure_threshold: 2 },
      restart: { policy: "on-failure", max_restarts: 5 },
    });
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "wobbly", "ready");
    // Exactly two failing answers: unhealthy (threshold 2), never the four that mean a restart.
    await request(`${before.upstream}/control/health?mode=fail&count=2`);
    const transitions = await waitFor("unhealthy, then ready again", async () => {
      const lines = await transitionsOf(gw.url, "wobbly");
      const down = lines.findIndex((l) => l.startsWith("ready -> unhealthy"));
      return down !== -1 && lines.slice(down).some((l) => l.startsWith("unhealthy -> ready"))
        ? lines
        : undefined;
    });
    expect(transitions.some((l) => l.includes("restarting"))).toBe(false);
    const after = await getProvider(gw.url, "wobbly");
    expect(after).toMatchObject({ status: "ready", restarts: 0, pid: before.pid });
  });

  test("is restarted when its health check keeps failing, and ready again with a new process", async () => {
    const space = makeSpace();
    addControlProvider(space, "sinking", {
      health: { path: "/health", interval: "200ms", timeout: "1s", failure_threshold: 2 },
      restart: { policy: "on-failure", max_restarts: 5 },
    });
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "sinking", "ready");
    await request(`${before.upstream}/control/health?mode=fail`);
    const after = await waitFor("a new, ready process", async () => {
      const view = await getProvider(gw.url, "sinking");
      return view.status === "ready" && view.pid !== before.pid ? view : undefined;
    });
    expect(after.restarts).toBe(1);
    expect(isAlive(before.pid!)).toBe(false);
    const lines = await transitionsOf(gw.url, "sinking");
    const down = lines.findIndex((l) => l.startsWith("ready -> unhealthy"));
    expect(down).toBeGreaterThan(-1);
    expect(lines[down + 1]).toStartWith("unhealthy -> restarting: health check kept failing");
  });
});

describe("output", () => {
  test("a provider that closes its stdout keeps running and stays ready; its stderr is still logged", async () => {
    const space = makeSpace();
    addControlProvider(space, "mute", { env: { CLOSE_STDOUT: "1" } });
    const gw = await startUnderTest(space);
    const view = await waitForStatus(gw.url, "mute", "ready");
    await waitFor("its stderr line", async () =>
      (await providerLogs(gw.url, "mute")).some(
        (l) => l.stream === "stderr" && l.line === "control: stdout closed",
      ),
    );
    // Several liveness rounds later, still the same healthy process.
    await Bun.sleep(1500);
    expect(await getProvider(gw.url, "mute")).toMatchObject({ status: "ready", pid: view.pid, restarts: 0 });
    expect((await request(`${gw.url}/api/v1/mute/x`)).status).toBe(200);
    await request(`${view.upstream}/control/health?mode=ok`);
    await waitFor("a line printed after stdout closed", async () =>
      (await providerLogs(gw.url, "mute")).some((l) => l.line.startsWith("control: health mode ok")),
    );
  });

  test("binary junk and a 10 MB line without newline: the gateway answers, keeps lines bounded and its memory flat", async () => {
    const space = makeSpace();
    addEchoProvider(space, "sibling");
    const gw = await spawnGateway(serveArgs(space, "--log-format", "json"), { urlFrom: "json" });
    await waitForStatus(gw.url, "sibling", "ready");
    // Let the gateway's own start-up allocations settle before the baseline.
    await Bun.sleep(500);
    const baseline = rssMb(gw.proc.pid);

    addControlProvider(space, "junk", {}, "junk");
    addControlProvider(space, "long", {}, "long");
    gw.proc.kill("SIGHUP");
    let slowest = 0;
    await waitFor("both noisy providers to be ready", async () => {
      slowest = Math.max(slowest, await healthzMs(gw.url));
      const [junk, long] = await Promise.all([getProvider(gw.url, "junk"), getProvider(gw.url, "long")]);
      return junk.status === "ready" && long.status === "ready";
    });
    const peak = rssMb(gw.proc.pid);
    expect(slowest).toBeLessThan(2000);

    const junkLines = await providerLogs(gw.url, "junk");
    const longLines = await providerLogs(gw.url, "long");
    for (const line of [...junkLines, ...longLines]) expect(line.line.length).toBeLessThan(16 * 1024 + 64);
    // The 10 MiB line arrives as one line cut at the cap; the server's own first line was part of it.
    const cut = longLines.filter((l) => l.stream === "stdout" && l.line.includes("line cut at"));
    expect(cut).toHaveLength(1);
    expect(cut[0]!.line).toStartWith("x".repeat(16 * 1024));
    expect(junkLines.some((l) => l.stream === "stdout" && l.line.length > 0)).toBe(true);
    // A naive reader would hold the 10 MiB line (20 MiB as a JS string) and log it: far above this.
    expect(peak - baseline).toBeLessThan(40);
    await expectSiblingServes(gw);
    // The proxied namespaces of the noisy ones work too.
    expect((await request(`${gw.url}/api/v1/long/x`)).status).toBe(200);
  });

  test("a flood of output for seconds: /healthz answers quickly, memory stays bounded, the log is not flooded", async () => {
    const space = makeSpace();
    addEchoProvider(space, "sibling");
    addControlProvider(space, "flood", { env: { FLOOD_SECONDS: "5" } }, "flood");
    const gw = await spawnGateway(serveArgs(space, "--log-format", "json"), { urlFrom: "json" });
    await waitForStatus(gw.url, "flood", "ready");
    const cpuBefore = cpuSeconds(gw.proc.pid);
    const wallBefore = Date.now();
    const latencies: number[] = [];
    let peak = 0;
    while (Date.now() - wallBefore < 3000) {
      latencies.push(await healthzMs(gw.url));
      peak = Math.max(peak, rssMb(gw.proc.pid));
      await Bun.sleep(50);
    }
    const cpu = (cpuSeconds(gw.proc.pid) - cpuBefore) / ((Date.now() - wallBefore) / 1000);
    latencies.sort((a, b) => a - b);
    const p50 = latencies[latencies.length >> 1]!;
    expect(p50).toBeLessThan(200);
    expect(latencies.at(-1)!).toBeLessThan(2000);
    expect(peak).toBeLessThan(200);
    // Reading is capped per provider, so the flood is slowed down by its own pipe instead of
    // taking a core of the gateway (unthrottled, the gateway spends a whole core on it).
    expect(cpu).toBeLessThan(0.75);
    const lines = await providerLogs(gw.url, "flood");
    expect(lines.filter((l) => l.line.startsWith("flood line")).length).toBeGreaterThan(500);
    // The gateway's own log got a bounded share of it and said so.
    const logged = gw
      .stderr()
      .split("\n")
      .filter((l) => l.includes("flood line")).length;
    expect(logged).toBeLessThan(5000 + 1000 * 8);
    expect(gw.stderr()).toContain("not copying it to this log until it slows down");
    await expectSiblingServes(gw);
  });

  test("LogRing keeps at most maxChars characters, always the newest line", () => {
    const ring = new LogRing(100, 50);
    for (let i = 0; i < 10; i++) ring.push({ time: i, stream: "stdout", line: `${i}`.repeat(10) });
    expect(ring.tail().map((l) => l.time)).toEqual([5, 6, 7, 8, 9]);
    ring.push({ time: 99, stream: "stdout", line: "z".repeat(80) });
    expect(ring.tail().map((l) => l.time)).toEqual([99]);
  });

  test("readLines does not pin the chunks its lines came from", async () => {
    // 2,000 lines, each cut from its own 200 KB chunk: pinned chunks would hold 400 MB.
    const big = new TextEncoder().encode(`${"q".repeat(200_000)}\n`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 2000) controller.enqueue(big);
        else controller.close();
      },
    });
    const ring = new LogRing(1000, Number.POSITIVE_INFINITY);
    await readLines(stream, (line) => ring.push({ time: 0, stream: "stdout", line }));
    Bun.gc(true);
    const { heapSize } = (await import("bun:jsc")).heapStats();
    expect(ring.tail()).toHaveLength(1000);
    expect(heapSize / 1024 / 1024).toBeLessThan(150);
  });

  test("readLines with maxBytesPerSecond reads no faster than that", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    chunk[chunk.length - 1] = 0x0a;
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // 2 MiB in all.
        if (sent++ < 32) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const started = Date.now();
    let lines = 0;
    await readLines(stream, () => lines++, { maxBytesPerSecond: 4 * 1024 * 1024 });
    expect(lines).toBe(32);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  test("LineBudget lets a burst through, then its rate", () => {
    const budget = new LineBudget(10, 5, 0);
    const first = Array.from({ length: 8 }, () => budget.take(0));
    expect(first.filter(Boolean)).toHaveLength(5);
    expect(budget.take(50)).toBe(false);
    expect(budget.take(100)).toBe(true);
    expect(budget.take(10_000)).toBe(true);
  });

  test("boundedLineWriter drops lines while its stream is backed up, then says how many", () => {
    const written: string[] = [];
    let full = false;
    let drain: () => void = () => {};
    const stream = {
      write(text: string) {
        written.push(text);
        return !full;
      },
      once(_event: "drain", listener: () => void) {
        drain = listener;
      },
    };
    const dropped: number[] = [];
    const write = boundedLineWriter(stream, { maxBacklog: 20, onDropped: (n) => dropped.push(n) });
    write("one");
    full = true;
    write("two"); // accepted, but the stream says it is full now
    write("three-three"); // within the backlog
    write("four-four-four"); // the backlog is over 20 now
    write("five");
    write("six");
    expect(written).toEqual(["one\n", "two\n", "three-three\n", "four-four-four\n"]);
    full = false;
    drain();
    expect(dropped).toEqual([2]);
    write("seven");
    expect(written.at(-1)).toBe("seven\n");
  });
});

describe("handshake", () => {
  test("a malformed handshake line fails the provider with a clear error, not a restart loop", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "garbled",
      { code: "garbled", runtime: "exec", binary: "./badshake.sh", restart: { policy: "on-failure" } },
      { fixtures: ["badshake.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "garbled", "failed");
    expect(view.last_error).toContain("Malformed handshake");
    expect(view.last_error).toContain("CORE_PROVIDER|x");
    expect(view.restarts).toBe(0);
    await waitFor("its process to end", () => markedProcesses(space.marker, "garbled").length === 0);
    await expectSiblingServes(gw);
  });
});

describe("crash loop", () => {
  test("a provider that exits at once with policy always: backoff doubles, the gateway's CPU stays low, the log stays short", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "loop",
      { code: "loop", runtime: "exec", binary: "./crash.sh", restart: { policy: "always", max_restarts: 5 } },
      { fixtures: ["crash.sh"] },
    );
    const gw = await spawnGateway(serveArgs(space, "--log-format", "json"), { urlFrom: "json" });
    const cpuBefore = cpuSeconds(gw.proc.pid);
    const wallBefore = Date.now();
    const view = await waitForStatus(gw.url, "loop", "failed");
    const cpu = (cpuSeconds(gw.proc.pid) - cpuBefore) / ((Date.now() - wallBefore) / 1000);
    expect(view.restarts).toBe(5);

    const lines = await providerLogs(gw.url, "loop");
    const starts = lines.filter((l) => l.line === "crash fixture starting").map((l) => Date.parse(l.time));
    expect(starts).toHaveLength(6);
    const delays = lines
      .map((l) => /-> restarting: .*restarting in (\d+) ms$/.exec(l.line)?.[1])
      .filter((d): d is string => d !== undefined)
      .map(Number);
    expect(delays).toHaveLength(5);
    for (const [i, delay] of delays.entries()) {
      // 100 ms doubled each time, with ±20% jitter.
      const base = 100 * 2 ** i;
      expect(delay).toBeGreaterThanOrEqual(base * 0.8 - 1);
      expect(delay).toBeLessThanOrEqual(base * 1.2 + 1);
      // And the runs really were that far apart.
      expect(starts[i + 1]! - starts[i]!).toBeGreaterThanOrEqual(delay - 5);
    }
    // Waiting is sleeping: a spinning loop would use most of a core.
    expect(cpu).toBeLessThan(0.5);
    const logLines = gw
      .stderr()
      .split("\n")
      .filter((l) => l.includes('"provider":"loop"'));
    expect(logLines.length).toBeLessThan(60);
  });
});

describe("the gateway's own signals", () => {
  test("SIGTERM twice: providers are stopped once, the gateway still exits 0 and leaves nothing behind", async () => {
    const space = makeSpace();
    addEchoProvider(space, "stubborn", { env: { IGNORE_SIGTERM: "1" }, stop_timeout: "2s" });
    addEchoProvider(space, "plain");
    const gw = await spawnGateway(serveArgs(space, "--log-format", "json"), { urlFrom: "json" });
    for (const code of ["stubborn", "plain"]) await waitForStatus(gw.url, code, "ready");
    gw.proc.kill("SIGTERM");
    await Bun.sleep(100);
    gw.proc.kill("SIGTERM");
    expect(await exitCode(gw.proc)).toBe(0);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
    expect(gw.stderr()).toContain("SIGTERM again");
    expect(
      gw
        .stderr()
        .split("\n")
        .filter((l) => l.includes('"msg":"SIGTERM: stopping"')),
    ).toHaveLength(1);
  });

  test("SIGHUP while providers are starting: each ends with exactly one process, a changed one is restarted, nothing is left", async () => {
    const space = makeSpace();
    const flag = join(space.root, "ready");
    const slow = {
      env: { READY_FLAG: flag },
      health: { path: "/health", interval: "1s", startup_timeout: "60s" },
    };
    addEchoProvider(space, "one", slow);
    addEchoProvider(space, "two", slow);
    const gw = await spawnGateway(serveArgs(space, "--log-format", "json"), { urlFrom: "json" });
    await waitFor("both providers' processes", () => markedProcesses(space.marker).length === 2);
    const onePid = (await getProvider(gw.url, "one")).pid;
    gw.proc.kill("SIGHUP");
    await Bun.sleep(100);
    // Change "two" while it is starting: the next rescan replaces it.
    addEchoProvider(space, "two", { ...slow, version: "2.0.0" });
    gw.proc.kill("SIGHUP");
    gw.proc.kill("SIGHUP");
    await waitFor("the rescans to be done", () => gw.stderr().split("rescan done").length - 1 >= 2);
    expect((await getProvider(gw.url, "one")).status).toBe("starting");
    writeFileSync(flag, "");
    const [one, two] = [
      await waitForStatus(gw.url, "one", "ready"),
      await waitForStatus(gw.url, "two", "ready"),
    ];
    expect(one.pid).toBe(onePid);
    expect(two.version).toBe("2.0.0");
    expect(markedProcesses(space.marker, "one").map((p) => p.pid)).toEqual([one.pid!]);
    expect(markedProcesses(space.marker, "two").map((p) => p.pid)).toEqual([two.pid!]);
    gw.proc.kill("SIGTERM");
    expect(await exitCode(gw.proc)).toBe(0);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("SIGKILL, then a new start on the same dir ends what the first left (grandchildren too) before its providers bind their ports", async () => {
    const space = makeSpace();
    const port = runtime.freePort();
    // The server is the shell's child: killing the shell alone leaves it holding the fixed port.
    addProvider(
      space,
      "held",
      {
        code: "held",
        runtime: "exec",
        binary: "./background.sh",
        port,
        env: { FIXTURE_BUN: BUN },
        health: { path: "/health", startup_timeout: "20s" },
        restart: { policy: "never" },
      },
      { fixtures: ["background.sh", "echo.ts"] },
    );
    addGrandchildProvider(space, "tree");
    const first = await spawnGateway(serveArgs(space, "--log-format", "json"), { urlFrom: "json" });
    for (const code of ["held", "tree"]) await waitForStatus(first.url, code, "ready");
    const before = markedProcesses(space.marker);
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect(existsSync(join(space.providersDir, ".gateway-processes.json"))).toBe(true);

    first.proc.kill("SIGKILL");
    await first.proc.exited;
    // Whatever parent-death signalling did, the grandchildren are still there: the server on the
    // fixed port among them.
    await Bun.sleep(300);
    const left = markedProcesses(space.marker);
    expect(left.some((p) => p.cmdline.startsWith("sleep 999"))).toBe(true);
    expect(left.some((p) => p.cmdline.includes("echo.ts") && p.provider === "held")).toBe(true);

    const second = await spawnGateway(serveArgs(space, "--log-format", "json"), { urlFrom: "json" });
    // The clean-up runs before the listener opens, so by now every old process is gone.
    for (const old of before)
      expect({ pid: old.pid, alive: isAlive(old.pid) }).toEqual({ pid: old.pid, alive: false });
    const held = await waitForStatus(second.url, "held", "ready");
    expect(held.port).toBe(port);
    expect(held.restarts).toBe(0);
    await waitForStatus(second.url, "tree", "ready");
    const records = second.stderr().split("\n");
    const ended = records.findIndex((l) => l.includes("left running by a previous gateway"));
    const spawned = records.findIndex((l) => l.includes('"msg":"starting: starting"'));
    expect(ended).toBeGreaterThan(-1);
    expect(ended).toBeLessThan(spawned);
    expect((await request(`${second.url}/api/v1/held/items`)).status).toBe(200);
  });

  test("the ledger records a spawned child with its /proc start time when it writes, and drops a pid that is gone or not its child", async () => {
    const space = makeSpace();
    const file = join(space.root, "ledger.json");
    const ledger = new ProcessLedger(file);
    const child = Bun.spawn({ cmd: ["sleep", "30"], detached: true, stdout: "ignore" });
    const gone = Bun.spawn({ cmd: ["true"], stdout: "ignore" });
    await gone.exited;
    try {
      ledger.add("child", child.pid);
      ledger.add("gone", gone.pid);
      // Not a child of this process: a pid someone else may own now.
      ledger.add("stranger", process.ppid);
      ledger.flush();
      const written = JSON.parse(readFileSync(file, "utf8")) as { processes: Array<Record<string, unknown>> };
      expect(written.processes).toEqual([
        { code: "child", pid: child.pid, startTime: readProcStat(child.pid)!.startTime },
      ]);
      ledger.remove(child.pid);
      // Added again and removed before any write (the process still runs): never written.
      ledger.add("child", child.pid);
      ledger.remove(child.pid);
      ledger.flush();
      expect(JSON.parse(readFileSync(file, "utf8")).processes).toEqual([]);
    } finally {
      child.kill("SIGKILL");
      ledger.clear();
    }
  });

  test("a ledger entry whose start time does not match is not signalled, one that matches is", async () => {
    const space = makeSpace();
    const env = { ...process.env, [MARKER_VAR]: space.marker };
    const bystander = Bun.spawn({ cmd: ["sleep", "999"], env, detached: true, stdout: "ignore" });
    const orphan = Bun.spawn({ cmd: ["sleep", "998"], env, detached: true, stdout: "ignore" });
    try {
      const startOf = (pid: number) => procStat(pid)[19]!;
      const ledger = {
        gatewayPid: 2 ** 22 + 1,
        gatewayStartTime: "1",
        processes: [
          // A recycled pid: same number, another process (its start time differs).
          { code: "ghost", pid: bystander.pid, startTime: String(Number(startOf(bystander.pid)) - 1) },
          { code: "real", pid: orphan.pid, startTime: startOf(orphan.pid) },
        ],
      };
      writeFileSync(join(space.providersDir, ".gateway-processes.json"), JSON.stringify(ledger));
      addEchoProvider(space, "fresh");
      const gw = await startUnderTest(space);
      await waitForStatus(gw.url, "fresh", "ready");
      expect(await exitCode(orphan, 10_000)).not.toBe("still running");
      expect(isAlive(bystander.pid)).toBe(true);
      expect(gw.logs.some((l) => l.includes('Ending provider \\"real\\"'))).toBe(true);
      expect(gw.logs.some((l) => l.includes("ghost"))).toBe(false);
    } finally {
      bystander.kill("SIGKILL");
      orphan.kill("SIGKILL");
    }
  });

  test("reapOrphans ends a recorded group whose leader still runs, and its children, SIGKILL for one that ignores SIGTERM", async () => {
    const space = makeSpace();
    const env = { ...process.env, [MARKER_VAR]: space.marker };
    // A leader that ignores SIGTERM, with a child in its group.
    const leader = Bun.spawn({
      cmd: ["sh", "-c", "trap '' TERM; sleep 997 & wait; sleep 997"],
      env,
      detached: true,
      stdout: "ignore",
    });
    await waitFor("the leader's child", () => markedProcesses(space.marker).length === 2);
    const startTime = procStat(leader.pid)[19]!;
    const file = join(space.root, "ledger.json");
    writeFileSync(
      file,
      JSON.stringify({
        gatewayPid: 2 ** 22 + 1,
        gatewayStartTime: "1",
        processes: [{ code: "x", pid: leader.pid, startTime }],
      }),
    );
    const lines: string[] = [];
    const killGroup = (pid: number, signal: "SIGTERM" | "SIGKILL") => {
      process.kill(-pid, signal);
      return true;
    };
    const ended = await reapOrphans(file, killGroup, new Logger({ write: (l) => lines.push(l) }));
    expect(ended).toBe(1);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
    expect(existsSync(file)).toBe(false);
    expect(lines.join("\n")).toContain('Ending provider "x"');
  });

  /** The echo fixture as an `exec` provider: the gateway wraps it in setpriv --pdeathsig. */
  const ECHO_UNDER_SETPRIV = { runtime: "exec", binary: BUN, args: ["run", "./echo.ts"], entry: undefined };

  // Two ways to die with the gateway: the Bun runtime runs `bun run --no-orphans` (the provider
  // arms the parent-death signal itself); any other command is wrapped in `setpriv --pdeathsig`.
  // The same under Deno: its adapter wraps non-bun commands in setpriv just as Bun's does.
  test.each([
    ["the bun runtime (--no-orphans, no wrapper)", "bun", "bun"],
    ["an exec runtime (setpriv --pdeathsig)", "exec", "bun"],
    ["the bun runtime under a Deno gateway", "bun", "deno"],
    ["an exec runtime under a Deno gateway", "exec", "deno"],
  ])(
    "a provider of %s dies with its gateway: SIGKILL the gateway and it is gone within a second",
    async (_, runtime, gatewayRuntime) => {
      if (runtime === "exec" && !existsSync("/usr/bin/setpriv")) {
        console.warn("skipped: no /usr/bin/setpriv on this machine");
        return;
      }
      const space = makeSpace();
      addEchoProvider(space, "bound", runtime === "bun" ? {} : ECHO_UNDER_SETPRIV);
      const gw = await spawnGateway(serveArgs(space, "--log-format", "json"), {
        urlFrom: "json",
        ...(gatewayRuntime === "deno" ? { cmd: DENO_GATEWAY } : {}),
      });
      const view = await waitForStatus(gw.url, "bound", "ready");
      // The provider's own process, not a wrapper that is still running.
      const cmdline = readFileSync(`/proc/${view.pid}/cmdline`, "utf8").split("\0");
      expect(cmdline.some((arg) => arg.endsWith("echo.ts"))).toBe(true);
      expect(cmdline.includes("--no-orphans")).toBe(runtime === "bun");
      gw.proc.kill("SIGKILL");
      await gw.proc.exited;
      const killed = Date.now();
      await waitFor("the provider to die with its gateway", () => !isAlive(view.pid!), {
        timeoutMs: 1000,
        intervalMs: 10,
      });
      expect(Date.now() - killed).toBeLessThan(1000);
    },
  );

  // Under Deno too: prctl ties the signal to the forking thread, so a spawn from a worker thread
  // that later ends would kill providers of a gateway that still runs.
  test.each([
    ["Bun", "bun"],
    ["Deno", "deno"],
  ])(
    "providers of a long-running %s gateway do not die while it lives, through restarts and probes",
    async (_, gatewayRuntime) => {
      const space = makeSpace();
      addEchoProvider(space, "steady", { health: { path: "/health", interval: "100ms" } });
      // One of each way of dying with the gateway: bun --no-orphans (steady), setpriv (bouncy).
      addEchoProvider(space, "bouncy", ECHO_UNDER_SETPRIV);
      const gw = await spawnGateway(serveArgs(space, "--log-format", "json"), {
        urlFrom: "json",
        ...(gatewayRuntime === "deno" ? { cmd: DENO_GATEWAY } : {}),
      });
      const steady = await waitForStatus(gw.url, "steady", "ready");
      await waitForStatus(gw.url, "bouncy", "ready");
      for (let i = 0; i < 5; i++) {
        expect(
          (await request(`${gw.url}/_gateway/providers/bouncy/restart`, { method: "POST" })).status,
        ).toBe(202);
        await waitFor("bouncy to come back", async () => {
          const lines = await transitionsOf(gw.url, "bouncy");
          return lines.filter((l) => l.endsWith("-> ready") || l.includes("-> ready:")).length >= i + 2;
        });
        // Proxy traffic in between, so the gateway's other threads have work too.
        expect((await request(`${gw.url}/api/v1/steady/items`)).status).toBe(200);
      }
      const bouncyPid = (await getProvider(gw.url, "bouncy")).pid;
      // Past the 10 s after which an idle worker thread of Deno's runtime ends.
      await Bun.sleep(gatewayRuntime === "deno" ? 12_000 : 1000);
      expect(await getProvider(gw.url, "steady")).toMatchObject({
        status: "ready",
        pid: steady.pid,
        restarts: 0,
      });
      expect(await getProvider(gw.url, "bouncy")).toMatchObject({ status: "ready", pid: bouncyPid });
      expect(isAlive(steady.pid!)).toBe(true);
    },
  );
});
