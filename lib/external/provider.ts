/**
 * An external provider's keeper: it runs nothing, it follows an agent on another machine. The
 * agent registers its URL (checked and pinned: ./addresses.ts), is probed before it counts as
 * ready (./probe.ts), and keeps itself alive with heartbeats. One timer rule, for every external
 * provider: no heartbeat (nor register) for 3 intervals makes it `unhealthy` (503), for 10
 * `awaiting_agent`; the next heartbeat or register brings it back. A connection the proxy could
 * not open to the agent counts too: it is `unhealthy` at once, so an agent that died is noticed
 * before its heartbeats run out.
 */
import type { Logger } from "../logger.ts";
import type { Manifest } from "../manifest.ts";
import type { TunnelAddress } from "../proxy/front/reverse.ts";
import type { ExternalRecord } from "../registry.ts";
import { LogRing } from "../supervisor/logs.ts";
import {
  canTransition,
  type ProviderStatus,
  type ProviderView,
  type StatusEvent,
} from "../supervisor/status.ts";
import type { Supervised } from "../supervisor/supervised.ts";
import { type AgentAddress, type AllowRules, checkAgentUrl, type Resolve } from "./addresses.ts";
import { probeAgent } from "./probe.ts";

/** Missed intervals before `unhealthy`, and before `awaiting_agent`. */
export const UNHEALTHY_AFTER = 3;
export const AWAY_AFTER = 10;
/** The heartbeat interval when none is given. */
export const DEFAULT_HEARTBEAT_MS = 10_000;
const PROBE_TIMEOUT_MS = 5000;

export interface ExternalDeps {
  logger: Logger;
  onStatus: (event: StatusEvent) => void;
  /** The allow rules of --external-allow, as they are now. */
  rules: () => AllowRules;
  resolve: Resolve;
  /** Records a change of the agent's registration in the registry (its URL, its health path). */
  save: (patch: Partial<ExternalRecord>) => void;
}

/** A register's outcome: ready, or the status to answer and why. */
export type RegisterOutcome = { ok: true } | { ok: false; status: 409 | 422; message: string };

/** Where the proxy connects for this agent (a RawAddress, plus what the heads need). */
export interface AgentEndpoint {
  hostname: string;
  port: number;
  /** The pool's key: scheme, pinned address and port. */
  key: string;
  /** The `Host` the agent sees: its URL's. */
  host: string;
  /** The agent's origin, for redirects to rewrite under the namespace. */
  origin: string;
  /** Prefixed to every request path (the URL's path). */
  basePath: string;
  tls?: { serverName: string };
}

export class ExternalProvider implements Supervised {
  readonly manifest: Manifest;
  readonly logs = new LogRing(1000);
  readonly pid = null;
  readonly restarts = 0;
  readonly stopping = false;
  lastError: string | null = null;
  heartbeatIntervalMs: number;
  healthPath: string | undefined;
  /** The registered agent, its URL checked and its address pinned; null before any. */
  #agent: AgentAddress | null = null;
  #endpoint: AgentEndpoint | null = null;
  /** While a dial-out agent's tunnel is up: where its requests go (lib/external/tunnels.ts); it wins over a URL. */
  #tunnel: TunnelAddress | null = null;
  #tunnelFrom = "";
  #tunnelDraining = false;
  /** When the agent was last heard from (register, heartbeat, or a probe at start). */
  #lastSeen = 0;
  #status: ProviderStatus;
  #statusSince = 0;
  #statusReason: string | null = null;
  readonly #deps: ExternalDeps;
  readonly #log: Logger;
  #settled: Array<() => void> = [];

  constructor(
    manifest: Manifest,
    deps: ExternalDeps,
    record: { heartbeatIntervalMs?: number; healthPath?: string },
    options: { initialStatus?: "awaiting_agent" | "stopped" } = {},
  ) {
    this.manifest = manifest;
    this.#deps = deps;
    this.#log = deps.logger.child({ provider: manifest.code });
    this.heartbeatIntervalMs = record.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.healthPath = record.healthPath;
    this.#status = options.initialStatus ?? "awaiting_agent";
  }

  get code(): string {
    return this.manifest.code;
  }

  get status(): ProviderStatus {
    return this.#status;
  }

  get upstream(): string | null {
    if (this.#tunnel) return `tunnel from ${this.#tunnelFrom}`;
    return this.#agent?.url ?? null;
  }

  /** Whether a dial-out tunnel serves it now. */
  get tunnelled(): boolean {
    return this.#tunnel !== null;
  }

  get port(): number | null {
    return this.#agent?.port ?? null;
  }

  /** Where the proxy connects while the provider is ready: the checked address, never a new lookup. */
  get endpoint(): AgentEndpoint | TunnelAddress | null {
    if (this.#status !== "ready") return null;
    return this.#tunnel ?? this.#endpoint;
  }

  /** A dial-out agent's tunnel came up (from `remote`): ready, its requests go down it. */
  tunnelUp(address: TunnelAddress, remote: string): void {
    this.#tunnel = address;
    this.#tunnelDraining = false;
    this.#tunnelFrom = remote;
    this.lastError = null;
    this.#seen();
    this.#setStatus("ready", `tunnel up from ${remote || "?"}`, true);
  }

  /** The agent answered a ping (or sent one): it lives. */
  tunnelAlive(): void {
    this.#seen();
    if (this.#tunnel && !this.#tunnelDraining && this.#status === "unhealthy") {
      this.lastError = null;
      this.#setStatus("ready", "its tunnel answers again");
    }
  }

  /** Its tunnel ended: awaiting its agent again (503 meanwhile). */
  tunnelDown(address: TunnelAddress, reason: string): void {
    if (this.#tunnel !== address) return;
    this.#tunnel = null;
    this.lastError = `the tunnel closed: ${reason}`;
    // Always through unhealthy, as the heartbeat rule goes (the status machine has no shortcut).
    if (this.#status === "ready") this.#setStatus("unhealthy", this.lastError);
    if (this.#status === "unhealthy") this.#setStatus("awaiting_agent", this.lastError);
  }

  /** The agent is stopping: no new requests go down its tunnel (503), those in flight finish. */
  tunnelDraining(): void {
    this.#tunnelDraining = true;
    if (this.#status === "ready") this.#setStatus("unhealthy", "its agent is stopping");
  }

  /** An external provider is not waited for: its agent may come back any time, or never. */
  get holds(): boolean {
    return false;
  }

  /** `{interval, ttl}` (seconds) a heartbeat answers: when to beat next, and how long a silence is tolerated. */
  get heartbeatTerms(): { interval: number; ttl: number } {
    return {
      interval: this.heartbeatIntervalMs / 1000,
      ttl: (UNHEALTHY_AFTER * this.heartbeatIntervalMs) / 1000,
    };
  }

  /**
   * An agent announces its URL. The URL is checked (every address its host resolves to) and the
   * agent probed before this answers; a second register with another URL while the first agent is
   * healthy is refused unless `replace`.
   */
  async register(
    url: string,
    options: { replace?: boolean; healthPath?: string } = {},
  ): Promise<RegisterOutcome> {
    if (this.#status === "disabled" || this.#status === "stopped") {
      return { ok: false, status: 409, message: `Provider "${this.code}" is ${this.#status}` };
    }
    let agent: AgentAddress;
    try {
      agent = await checkAgentUrl(url, this.#deps.rules(), this.#deps.resolve);
    } catch (error) {
      return {
        ok: false,
        status: 422,
        message: `Cannot register ${url} for provider "${this.code}": ${(error as Error).message}`,
      };
    }
    const current = this.#agent;
    if (current && current.url !== agent.url && this.#status === "ready" && !options.replace) {
      return {
        ok: false,
        status: 409,
        message: `Provider "${this.code}" is served by a healthy agent at ${current.url}; register again with "replace": true to move it to ${agent.url}`,
      };
    }
    const healthPath = options.healthPath ?? this.healthPath;
    const failure = await probeAgent(agent, healthPath, PROBE_TIMEOUT_MS);
    if (failure) {
      this.note(`register of ${agent.url} refused: ${failure}`);
      return {
        ok: false,
        status: 422,
        message: `The agent at ${agent.url} did not answer the gateway's probe: ${failure}`,
      };
    }
    const replaced = current && current.url !== agent.url ? current.url : undefined;
    this.#use(agent);
    this.healthPath = healthPath;
    this.lastError = null;
    this.#deps.save({ url: agent.url, health_path: healthPath });
    this.#seen();
    this.#setStatus(
      "ready",
      replaced ? `registered ${agent.url}, replacing ${replaced}` : `registered ${agent.url}`,
      true,
    );
    return { ok: true };
  }

  /**
   * At the gateway's start: the agent last registered is checked and probed again at its URL, and
   * the provider resumes `ready` without a new register when it answers.
   */
  async resume(url: string): Promise<void> {
    try {
      const agent = await checkAgentUrl(url, this.#deps.rules(), this.#deps.resolve);
      const failure = await probeAgent(agent, this.healthPath, PROBE_TIMEOUT_MS);
      if (failure) throw new Error(failure);
      if (this.#status !== "awaiting_agent") return;
      this.#use(agent);
      this.#seen();
      this.#setStatus("ready", `resumed ${agent.url} (it answered after the gateway's restart)`);
    } catch (error) {
      this.lastError = `The agent last registered at ${url} does not answer: ${(error as Error).message}`;
      this.note(this.lastError);
    }
  }

  /** A heartbeat: the agent lives. Brings an unhealthy or away provider back when its agent is known. */
  heartbeat(): { interval: number; ttl: number } {
    this.#seen();
    if (this.#agent && (this.#status === "unhealthy" || this.#status === "awaiting_agent")) {
      this.lastError = null;
      this.#setStatus("ready", "heartbeat received");
    }
    return this.heartbeatTerms;
  }

  /**
   * The timer rule, applied at `now` (four times a second, by the gateway): unhealthy past
   * UNHEALTHY_AFTER intervals of silence, then awaiting_agent past AWAY_AFTER (always through
   * unhealthy, even when one check sees both).
   */
  check(now: number): void {
    if (this.#lastSeen === 0) return;
    const silent = now - this.#lastSeen;
    const interval = this.heartbeatIntervalMs;
    if (silent > UNHEALTHY_AFTER * interval && this.#status === "ready") {
      this.lastError = `no heartbeat for ${Math.round(silent)} ms (${UNHEALTHY_AFTER} intervals of ${interval} ms)`;
      this.#setStatus("unhealthy", this.lastError);
    }
    if (silent > AWAY_AFTER * interval && this.#status === "unhealthy") {
      this.lastError = `no heartbeat for ${Math.round(silent)} ms (${AWAY_AFTER} intervals)`;
      this.#setStatus("awaiting_agent", this.lastError);
    }
  }

  /** The proxy could not open a connection to the agent: it is unhealthy until it is heard from. */
  upstreamFailed(reason: string): void {
    // A tunnel's liveness is its pings (lib/external/tunnels.ts), not one request that waited.
    if (this.#tunnel || this.#status !== "ready") return;
    this.lastError = `the proxy could not reach the agent: ${reason}`;
    this.#setStatus("unhealthy", this.lastError);
  }

  start(): void {
    // Nothing to start: the agent comes to the gateway (the routes answer 501 before this).
  }

  async restart(): Promise<void> {
    // Likewise (501).
  }

  async stop(reason = "stop requested"): Promise<void> {
    if (this.#status !== "disabled") this.#setStatus("stopped", reason);
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  disable(reason: string, error?: string): void {
    if (error) this.lastError = error;
    this.#setStatus("disabled", reason);
  }

  note(line: string): void {
    this.logs.push({ time: Date.now(), stream: "gateway", line });
  }

  expectStart(): void {
    // Nothing is started.
  }

  view(): Omit<ProviderView, "manifest_error"> {
    const m = this.manifest;
    return {
      code: m.code,
      name: m.name,
      namespace: m.namespace,
      runtime: "external",
      status: this.#status,
      upstream: this.upstream,
      pid: null,
      port: this.port,
      restarts: 0,
      next_restart_at: null,
      next_restart_reason: null,
      version: m.version ?? null,
      element: null,
      last_error: this.lastError,
      status_since: this.#statusSince ? new Date(this.#statusSince).toISOString() : null,
      status_reason: this.#statusReason,
      last_exit: null,
      last_probe: null,
      last_start: null,
    };
  }

  #use(agent: AgentAddress): void {
    this.#agent = agent;
    const defaultPort = agent.protocol === "https" ? 443 : 80;
    const hostName = agent.host.includes(":") ? `[${agent.host}]` : agent.host;
    const host = agent.port === defaultPort ? hostName : `${hostName}:${agent.port}`;
    this.#endpoint = {
      hostname: agent.address,
      port: agent.port,
      key: `${agent.protocol}://${agent.address}:${agent.port}/${agent.host}`,
      host,
      origin: `${agent.protocol}://${host}`,
      basePath: agent.basePath,
      tls: agent.protocol === "https" ? { serverName: agent.host } : undefined,
    };
  }

  #seen(): void {
    this.#lastSeen = Date.now();
  }

  #setStatus(to: ProviderStatus, reason: string, always = false): void {
    const from = this.#status;
    if (from === to && !always) return;
    if (from !== to && !canTransition(from, to)) {
      this.#log.error(`Unexpected status change ${from} -> ${to} (${reason}); please report it`);
    }
    this.#status = to;
    this.#statusSince = Date.now();
    this.#statusReason = reason;
    this.note(`${from} -> ${to}: ${reason}`);
    const level = to === "unhealthy" ? "warn" : "info";
    this.#log.log(level, `${to}: ${reason}`);
    this.#deps.onStatus({ code: this.code, from, to, reason, time: new Date().toISOString() });
    for (const resolve of this.#settled.splice(0)) resolve();
  }
}
