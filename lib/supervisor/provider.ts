import { elementUrl } from "../elements.ts";
import type { Logger } from "../logger.ts";
import type { Manifest } from "../manifest.ts";
import type { ChildProcess, ExitInfo, RuntimeAdapter } from "../runtime/index.ts";
import { buildLaunchCommand, LaunchError, type RuntimeRegistry } from "../runtimes.ts";
import { MAGIC_COOKIE, parseHandshake } from "./handshake.ts";
import type { ProcessLedger } from "./ledger.ts";
import { LineBudget, LogRing, readLines } from "./logs.ts";
import { type ProbeResult, probeHttp, probeTcp } from "./probe.ts";
import { sleep } from "./sleep.ts";
import { canTransition, type ProviderStatus, type ProviderView, type StatusEvent } from "./status.ts";
import type { Supervised } from "./supervised.ts";

export interface SupervisorDeps {
  adapter: RuntimeAdapter;
  runtimes: RuntimeRegistry;
  logger: Logger;
  /** The gateway's own URL, given to providers as CORE_GATEWAY_URL. */
  gatewayUrl: () => string;
  /** The environment every provider inherits (the gateway's own). */
  baseEnv: Readonly<Record<string, string>>;
  onStatus: (event: StatusEvent) => void;
  /** Records running process groups so a later run can end them if this gateway is SIGKILLed. */
  ledger?: ProcessLedger;
  /**
   * Resolves once no request is in flight to this provider (true), or after `timeoutMs` (false):
   * a restart or stop the gateway chooses waits for it before signalling the process.
   */
  drain?: (timeoutMs: number) => Promise<boolean>;
}

/** How one run of the process ended. */
type RunOutcome =
  | { kind: "exited"; exit: ExitInfo }
  | { kind: "fatal"; error: string }
  | { kind: "startup-timeout"; ms: number }
  | { kind: "unhealthy" }
  | { kind: "stopped" };

/**
 * Restart delays: 100 ms, doubled for each run in a row that did not serve for SERVED_MS (a
 * start that failed, or a death soon after becoming ready), up to 30 s, with ±20% jitter. A run
 * that served SERVED_MS or more resets it, so a provider killed while serving (the OOM killer, an
 * operator) is back after 100 ms plus its own start time, however often it happens; one that
 * dies as soon as it is up backs off to a restart every 30 s and never spins a core. The same
 * rule as supervisord's `startsecs` (1 s) and Docker's doubling delay, with supervisord's window.
 */
const BACKOFF_START_MS = 100;
const BACKOFF_CAP_MS = 30_000;
const SERVED_MS = 1000;
/**
 * Output read from each of a provider's pipes per second, at most: past it the gateway stops
 * reading for a moment and the provider's own writes block, so a flood costs a bounded share of
 * a core. A chatty provider is far below it (8 MiB/s is about 80,000 lines of 100 bytes).
 */
const OUTPUT_BYTES_PER_SECOND = 8 * 1024 * 1024;
/** Provider lines copied to the gateway's own log per second (bursts up to LOG_LINES_BURST); all stay in its log ring. */
const LOG_LINES_PER_SECOND = 1000;
const LOG_LINES_BURST = 5000;
/** The first readiness probe after spawn, unless output comes first. */
const FIRST_PROBE_MS = 10;
/** Readiness probes are at least this far apart, however much output wakes them. */
const MIN_PROBE_GAP_MS = 3;

/**
 * Owns one provider's process: starts it, gates it on its health check, watches liveness,
 * restarts it by its policy, and stops its whole process group. Every status change goes
 * through {@link #setStatus}, which logs and publishes it.
 */
export class ProviderSupervisor implements Supervised {
  readonly manifest: Manifest;
  readonly dir: string;
  readonly logs = new LogRing(1000);
  port: number | null = null;
  pid: number | null = null;
  restarts = 0;
  lastError: string | null = null;
  /** While `restarting`: when the next start is due and why. */
  nextRestart: { at: number; reason: string } | null = null;
  /** `http://127.0.0.1:PORT` while a process is up; read by the proxy. */
  upstream: string | null = null;

  readonly #deps: SupervisorDeps;
  readonly #log: Logger;
  /** Changed only by {@link #setStatus}, which logs and publishes every change. */
  #status: ProviderStatus;
  #child: ChildProcess | null = null;
  #loop: Promise<void> | null = null;
  #abort = new AbortController();
  /** Starts in a row that failed before the first passing probe; more than `max_restarts` and it is failed. */
  #failedStarts = 0;
  /** Runs in a row that did not serve SERVED_MS: the exponent of the restart delay. */
  #crashLoop = 0;
  /** When the current run became ready; 0 before. */
  #readySince = 0;
  #statusSince = 0;
  #statusReason: string | null = null;
  #lastExit: ProviderView["last_exit"] = null;
  #lastProbe: ProbeResult | null = null;
  #lastStart: ProviderView["last_start"] = null;
  #settled: Array<() => void> = [];
  readonly #logBudget = new LineBudget(LOG_LINES_PER_SECOND, LOG_LINES_BURST);
  /** Provider lines not copied to the gateway's log since the budget ran out. */
  #heldBack = 0;
  /** While waiting for readiness: ends the pause before the next probe (output was seen). */
  #wake: (() => void) | null = null;
  #outputSeen = false;
  /** Counts stop() and restart() calls, so a restart does not start again after a later stop. */
  #stopRequests = 0;
  /** A start is on its way (the gateway will start it, maybe after its dependencies). */
  #startExpected = false;
  /** Stopping: requests in flight finish, new ones are refused. */
  #stopping = false;

  /**
   * @param options.initialStatus `stopped` (the default) for a provider the gateway starts,
   * `awaiting_agent` for an external one.
   */
  constructor(
    manifest: Manifest,
    dir: string,
    deps: SupervisorDeps,
    options: { initialStatus?: "stopped" | "awaiting_agent" } = {},
  ) {
    this.manifest = manifest;
    this.dir = dir;
    this.#deps = deps;
    this.#log = deps.logger.child({ provider: manifest.code });
    this.#status = options.initialStatus ?? "stopped";
  }

  get code(): string {
    return this.manifest.code;
  }

  get status(): ProviderStatus {
    return this.#status;
  }

  /** Adds a line from the gateway (not the provider) to this provider's log, as `stream: gateway`. */
  note(line: string): void {
    this.logs.push({ time: Date.now(), stream: "gateway", line });
  }

  /** Marks a provider that will not be started (disabled in the registry, or refused). */
  disable(reason: string, error?: string): void {
    if (error) this.lastError = error;
    this.#startExpected = false;
    this.#setStatus("disabled", reason);
  }

  /** Says a start is coming (the gateway will call {@link start}): requests wait for it meanwhile. */
  expectStart(): void {
    this.#startExpected = true;
  }

  /**
   * Whether a request that finds the provider not ready should wait for it: it is starting or
   * restarting, or a start is expected.
   */
  get holds(): boolean {
    const status = this.#status;
    return status === "starting" || status === "restarting" || (status === "stopped" && this.#startExpected);
  }

  /** True while a stop lets requests in flight finish: the proxy refuses new ones. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Starts supervising. Resolves at once; use {@link settled} to wait for ready or failure. */
  start(): void {
    this.#startExpected = false;
    if (this.#loop) return;
    this.#abort = new AbortController();
    this.#failedStarts = 0;
    this.#crashLoop = 0;
    this.lastError = null;
    this.#loop = this.#run().finally(() => {
      this.#loop = null;
    });
  }

  /** Resolves once the provider is ready, failed, stopped or disabled. */
  settled(): Promise<void> {
    if (!this.#loop || this.status === "ready" || this.status === "failed") return Promise.resolve();
    return new Promise((resolve) => this.#settled.push(resolve));
  }

  /** Stops the provider and its whole process tree: SIGTERM, then SIGKILL after `stop_timeout`. */
  async stop(reason = "stop requested"): Promise<void> {
    this.#stopRequests++;
    this.#startExpected = false;
    if (this.#status === "ready" || this.#status === "unhealthy") {
      // New requests are refused while those in flight finish (bounded by stop_timeout).
      this.#stopping = true;
      await this.#drain(reason);
    }
    try {
      await this.#stopNow(reason, true);
    } finally {
      this.#stopping = false;
    }
  }

  /**
   * Stops, then starts again, unless another stop was asked for meanwhile (say, the gateway's
   * shutdown): that one wins. A running provider goes `restarting` first, so new requests wait
   * for the new process (see `hold`) while those in flight finish, and only then is it signalled.
   */
  async restart(): Promise<void> {
    const stopRequests = ++this.#stopRequests;
    const status = this.#status;
    if (status === "ready" || status === "unhealthy" || status === "starting") {
      this.#setStatus("restarting", "restart requested; requests in flight finish first");
      await this.#drain("restart requested");
    }
    await this.#stopNow("restart requested", false);
    if (this.#stopRequests === stopRequests) this.start();
  }

  /** Waits for the requests in flight to finish, at most `stop_timeout`. */
  async #drain(reason: string): Promise<void> {
    if (!this.#deps.drain || !this.upstream) return;
    if (!(await this.#deps.drain(this.manifest.stopTimeoutMs))) {
      this.#log.warn(
        `Requests still in flight after stop_timeout (${this.manifest.stopTimeoutMs} ms); stopping anyway`,
        {
          reason,
        },
      );
    }
  }

  /** Ends the process and the loop; `final`: the provider is `stopped` after (not for a restart). */
  async #stopNow(reason: string, final: boolean): Promise<void> {
    this.#abort.abort();
    await this.#terminate(reason);
    await this.#loop;
    if (final && this.#status !== "disabled") this.#setStatus("stopped", reason);
  }

  /** The Provider view, but for what only the gateway knows (its manifest's state on disk). */
  view(): Omit<ProviderView, "manifest_error"> {
    const m = this.manifest;
    return {
      code: m.code,
      name: m.name,
      namespace: m.namespace,
      runtime: m.runtime ?? null,
      status: this.status,
      upstream: this.upstream,
      pid: this.pid,
      port: this.port,
      restarts: this.restarts,
      next_restart_at: this.nextRestart ? new Date(this.nextRestart.at).toISOString() : null,
      next_restart_reason: this.nextRestart?.reason ?? null,
      version: m.version ?? null,
      element: m.element ? { tag: m.element.tag, url: elementUrl(m.code, m.element.source) } : null,
      last_error: this.lastError,
      status_since: this.#statusSince ? new Date(this.#statusSince).toISOString() : null,
      status_reason: this.#statusReason,
      last_exit: this.#lastExit,
      last_probe: this.#lastProbe && {
        target: this.#lastProbe.target,
        ok: this.#lastProbe.ok,
        status: this.#lastProbe.status,
        latency_ms: this.#lastProbe.latencyMs,
        detail: this.#lastProbe.detail,
        time: new Date(this.#lastProbe.time).toISOString(),
      },
      last_start: this.#lastStart,
    };
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      for (;;) {
        this.nextRestart = null;
        this.#setStatus(
          "starting",
          this.#failedStarts > 0 ? `start attempt ${this.#failedStarts + 1}` : "starting",
        );
        // Each run has its own signal so its probe loops end with it, not only on stop().
        const run = new AbortController();
        const onStop = () => run.abort();
        signal.addEventListener("abort", onStop, { once: true });
        this.#readySince = 0;
        const outcome = await this.#runOnce(run.signal).finally(() => {
          signal.removeEventListener("abort", onStop);
          run.abort();
        });
        if (signal.aborted || outcome.kind === "stopped") return;
        const served = this.#readySince === 0 ? null : Date.now() - this.#readySince;
        const reason =
          served === null
            ? describeOutcome(outcome)
            : `${describeOutcome(outcome)} after serving ${formatMs(served)}`;
        this.lastError = this.#withRecentLogs(reason);
        if (outcome.kind === "fatal") {
          this.#setStatus("failed", reason);
          return;
        }
        const cleanExit = outcome.kind === "exited" && outcome.exit.code === 0;
        const { policy, maxRestarts } = this.manifest.restart;
        if (policy === "never" || (policy === "on-failure" && cleanExit)) {
          this.#setStatus(cleanExit ? "stopped" : "failed", reason);
          return;
        }
        // Only starts that never became ready spend the budget: a provider that proved healthy
        // and then died (killed, out of memory) is restarted for as long as the gateway runs.
        if (served === null) this.#failedStarts++;
        else this.#failedStarts = 0;
        if (this.#failedStarts > maxRestarts) {
          this.lastError = this.#withRecentLogs(`${reason}; gave up after ${maxRestarts} restarts`);
          this.#setStatus("failed", `${reason}; restart budget of ${maxRestarts} spent`);
          return;
        }
        if (served !== null && served >= SERVED_MS) this.#crashLoop = 0;
        const delay = backoffDelay(this.#crashLoop);
        this.#crashLoop++;
        this.restarts++;
        const why =
          served === null
            ? `${reason} (failed start ${this.#failedStarts} of at most ${maxRestarts + 1})`
            : served < SERVED_MS
              ? `${reason}, under ${SERVED_MS} ms: delay doubled (${this.#crashLoop} such runs in a row)`
              : reason;
        this.nextRestart = { at: Date.now() + delay, reason: why };
        this.#setStatus("restarting", `${why}; restarting in ${delay} ms`);
        if (!(await sleep(delay, signal))) return;
      }
    } finally {
      this.nextRestart = null;
    }
  }

  /** One process lifetime: spawn, health gate, liveness, until it ends. */
  async #runOnce(signal: AbortSignal): Promise<RunOutcome> {
    const m = this.manifest;
    let child: ChildProcess;
    try {
      const port = m.port || this.#deps.adapter.freePort();
      const env: Record<string, string> = {
        ...this.#deps.baseEnv,
        PORT: String(port),
        CORE_PROVIDER_NAME: m.code,
        CORE_PROVIDER_NAMESPACE: m.namespace,
        CORE_GATEWAY_URL: this.#deps.gatewayUrl(),
        CORE_PROVIDER_MAGIC_COOKIE: MAGIC_COOKIE,
        ...m.env,
      };
      const runtime = this.#deps.runtimes.resolve(m.runtime ?? "");
      const launch = buildLaunchCommand(runtime, {
        manifest: m,
        dir: this.dir,
        port,
        env,
        bun: this.#deps.adapter.bunCommand(),
      });
      this.#log.debug("spawning", { cmd: launch.cmd.join(" ") });
      child = this.#deps.adapter.spawn({
        cmd: launch.cmd,
        cwd: this.dir,
        env: launch.env,
        diesWithParent: launch.diesWithParent,
      });
      this.port = port;
    } catch (error) {
      const message =
        error instanceof LaunchError ? error.message : `Cannot start: ${(error as Error).message}`;
      return { kind: "fatal", error: message };
    }
    this.#child = child;
    this.pid = child.pid;
    this.upstream = null;
    this.#deps.ledger?.add(m.code, child.pid);
    if (!child.diesWithParent) {
      this.#log.debug(
        `process ${child.pid} does not die with the gateway (no /usr/bin/setpriv --pdeathsig here): if the gateway is killed with SIGKILL, the next start ends it`,
      );
    }

    let handshakeError: string | null = null;
    let handshakeSeen = false;
    const handshakeFailed = new Promise<void>((resolve) => {
      let first = true;
      void readLines(
        child.stdout,
        (line) => {
          if (first) {
            first = false;
            const handshake = parseHandshake(line);
            if (handshake) {
              handshakeSeen = true;
              if (handshake.ok) {
                this.port = handshake.port;
                this.#noticeOutput();
              } else {
                handshakeError = handshake.error;
                resolve();
              }
              return;
            }
          }
          this.#providerLine("stdout", line);
        },
        READ_OPTIONS,
      );
    });
    void readLines(child.stderr, (line) => this.#providerLine("stderr", line), READ_OPTIONS);

    const exited = child.exited.then((exit) => {
      this.#lastExit = {
        code: exit.code ?? null,
        signal: exit.signal ?? null,
        time: new Date().toISOString(),
      };
      return { kind: "exited" as const, exit };
    });
    const startedAt = Date.now();
    this.#lastStart = { started_at: new Date(startedAt).toISOString(), ready_ms: null };
    const ready = this.#waitReady(signal, startedAt);
    const first = await Promise.race([
      exited,
      ready,
      handshakeFailed.then(() => ({ kind: "handshake" as const })),
      aborted(signal),
    ]);
    if (first.kind !== "ready") {
      // Leave no process behind, whatever ended this run.
      await this.#terminate(first.kind === "exited" ? "process exited" : "run ended");
      this.#child = null;
      this.pid = null;
      if (first.kind === "exited") return first;
      if (first.kind === "handshake") return { kind: "fatal", error: handshakeError ?? "handshake failed" };
      if (first.kind === "timeout") return { kind: "startup-timeout", ms: m.health.startupTimeoutMs };
      return { kind: "stopped" };
    }
    this.upstream = `http://127.0.0.1:${this.port}`;
    this.#readySince = Date.now();
    this.#lastStart = { ...this.#lastStart!, ready_ms: this.#readySince - startedAt };
    this.#setStatus(
      "ready",
      `healthy after ${Date.now() - startedAt} ms on port ${this.port}${handshakeSeen ? " (handshake)" : ""}`,
    );
    const outcome = await Promise.race([exited, this.#watchLiveness(signal), aborted(signal)]);
    this.upstream = null;
    await this.#terminate("run ended");
    this.#child = null;
    this.pid = null;
    if (outcome.kind === "aborted") return { kind: "stopped" };
    return outcome;
  }

  /**
   * Polls the health check until it passes or `startup_timeout` runs out: fast at first (most
   * providers are up within tens of ms), then easing off; a line of output (often "listening
   * on …", or the handshake) cuts the wait short, so readiness is seen as soon as it is announced.
   */
  async #waitReady(signal: AbortSignal, startedAt: number): Promise<{ kind: "ready" } | { kind: "timeout" }> {
    const { health } = this.manifest;
    const deadline = startedAt + health.startupTimeoutMs;
    // Nothing listens the instant after spawn: the first probe waits for output or the first pause.
    let pause = FIRST_PROBE_MS;
    try {
      while (!signal.aborted) {
        await this.#napUntilOutput(Math.min(pause, Math.max(0, deadline - Date.now())), signal);
        if (signal.aborted) break;
        const left = deadline - Date.now();
        if (left <= 0) return { kind: "timeout" };
        if ((await this.#probe(Math.min(health.timeoutMs, left))).ok) return { kind: "ready" };
        pause = Math.min(Math.ceil(pause * 1.5), 250);
      }
      return { kind: "timeout" };
    } finally {
      this.#wake = null;
      this.#outputSeen = false;
    }
  }

  /** Waits `ms`, or less once the provider writes a line (but at least MIN_PROBE_GAP_MS), or until `signal` aborts. */
  async #napUntilOutput(ms: number, signal: AbortSignal): Promise<void> {
    const until = Date.now() + ms;
    if (!(await sleep(Math.min(MIN_PROBE_GAP_MS, ms), signal))) return;
    if (this.#outputSeen) {
      this.#outputSeen = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#wake = null;
        this.#outputSeen = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }

  /** Probes every `interval`; unhealthy after `failure_threshold` failures in a row, restart after as many more. */
  async #watchLiveness(signal: AbortSignal): Promise<{ kind: "unhealthy" }> {
    const { health } = this.manifest;
    let failures = 0;
    while (!signal.aborted) {
      if (!(await sleep(health.intervalMs, signal))) break;
      const probe = await this.#probe(health.timeoutMs);
      // The run may have ended while the probe was out (the process died): its result is stale,
      // and acting on it would turn a provider the run just marked failed back to unhealthy.
      if (signal.aborted) break;
      if (probe.ok) {
        if (failures >= health.failureThreshold) this.#setStatus("ready", "health check passes again");
        failures = 0;
        continue;
      }
      failures++;
      if (failures === health.failureThreshold) {
        this.#setStatus("unhealthy", `health check failed ${failures} times in a row`);
      } else if (failures >= 2 * health.failureThreshold && this.manifest.restart.policy !== "never") {
        return { kind: "unhealthy" };
      }
    }
    return new Promise(() => {});
  }

  async #probe(timeoutMs: number): Promise<ProbeResult> {
    const port = this.port ?? 0;
    const path = this.manifest.health.path;
    const result = await (path
      ? probeHttp(`http://127.0.0.1:${port}${path}`, timeoutMs)
      : probeTcp(port, timeoutMs));
    this.#lastProbe = result;
    return result;
  }

  /** Signals the process group: SIGTERM, then SIGKILL after the grace period. */
  async #terminate(reason: string): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const { adapter } = this.#deps;
    adapter.killGroup(child.pid, "SIGTERM");
    // The grace timer ends with the process: one that exits at once leaves no timer pending.
    const exitedFirst = new AbortController();
    const graceful = await Promise.race([
      child.exited.then(() => true),
      sleep(this.manifest.stopTimeoutMs, exitedFirst.signal).then(() => false),
    ]);
    exitedFirst.abort();
    if (!graceful) this.#log.warn("did not stop within stop_timeout; sending SIGKILL", { reason });
    // The leader may be gone while children it forked live on in its group: end them too.
    adapter.killGroup(child.pid, "SIGKILL");
    await child.exited;
    this.#deps.ledger?.remove(child.pid);
  }

  /** Output during start-up hints that the provider got somewhere: probe soon. */
  #noticeOutput(): void {
    this.#outputSeen = true;
    this.#wake?.();
  }

  #providerLine(stream: "stdout" | "stderr", line: string): void {
    this.#noticeOutput();
    const now = Date.now();
    this.logs.push({ time: now, stream, line });
    // A flood of output must not flood the gateway's own log (nor cost it a core to format).
    if (!this.#logBudget.take(now)) {
      if (this.#heldBack === 0) {
        this.#log.warn(
          `Output of more than ${LOG_LINES_PER_SECOND} lines/s: not copying it to this log until it slows down; the latest lines stay at /_gateway/providers/${this.code}/logs`,
        );
      }
      this.#heldBack++;
      return;
    }
    if (this.#heldBack > 0) {
      this.#log.warn(`${this.#heldBack} lines of output were not copied to this log`);
      this.#heldBack = 0;
    }
    this.#log.info(line, { stream });
  }

  #withRecentLogs(reason: string): string {
    const recent = this.logs
      .tail(5)
      .filter((entry) => entry.stream !== "gateway")
      .map((entry) => entry.line);
    return recent.length ? `${reason}; last output: ${recent.join(" | ")}` : reason;
  }

  #setStatus(to: ProviderStatus, reason: string): void {
    const from = this.#status;
    if (from === to) return;
    if (!canTransition(from, to)) {
      // A bug, not an operator's problem: say so loudly, but keep the truth (the new status).
      this.#log.error(`Unexpected status change ${from} -> ${to} (${reason}); please report it`);
    }
    this.#status = to;
    this.#statusSince = Date.now();
    this.#statusReason = reason;
    this.note(`${from} -> ${to}: ${reason}`);
    const level = to === "failed" || to === "unhealthy" ? "error" : to === "restarting" ? "warn" : "info";
    this.#log.log(level, `${to}: ${reason}`);
    this.#deps.onStatus({ code: this.code, from, to, reason, time: new Date().toISOString() });
    if (to === "ready" || to === "failed" || to === "stopped" || to === "disabled") {
      for (const resolve of this.#settled.splice(0)) resolve();
    }
  }
}

const READ_OPTIONS = { maxBytesPerSecond: OUTPUT_BYTES_PER_SECOND };

function aborted(signal: AbortSignal): Promise<{ kind: "aborted" }> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve({ kind: "aborted" });
    else signal.addEventListener("abort", () => resolve({ kind: "aborted" }), { once: true });
  });
}

function backoffDelay(attempt: number): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function describeOutcome(outcome: RunOutcome): string {
  switch (outcome.kind) {
    case "exited":
      return outcome.exit.signal
        ? `process was killed by ${outcome.exit.signal}`
        : `process exited with code ${outcome.exit.code}`;
    case "fatal":
      return outcome.error;
    case "startup-timeout":
      return `health check did not pass within startup_timeout (${outcome.ms} ms)`;
    case "unhealthy":
      return "health check kept failing";
    case "stopped":
      return "stopped";
  }
}
