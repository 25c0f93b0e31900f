/** A provider's lifecycle states, as the contract names them. */
export const PROVIDER_STATUSES = [
  "disabled",
  "starting",
  "ready",
  "unhealthy",
  "restarting",
  "failed",
  "stopped",
  "awaiting_agent",
] as const;
export type ProviderStatus = (typeof PROVIDER_STATUSES)[number];

/**
 * Every status change a provider may make, as the supervisor (lib/supervisor/provider.ts) makes
 * them; anything else is a bug, logged as one. A test walks this table against real runs.
 *
 * - `stopped`: not running (initial for a local provider, or after a stop or a clean exit);
 * - `awaiting_agent`: an external provider no agent serves (initial for those, and after 10
 *   heartbeat intervals of silence); a register (or a heartbeat of a known agent) makes it `ready`;
 * - `starting` → `ready` once a probe passes; `ready` ⇄ `unhealthy` with the liveness probes;
 * - `restarting`: waiting out the delay before the next start;
 * - `failed`: given up (a start budget spent, policy `never`, a fatal launch error);
 * - `disabled`: never started (the registry, a namespace conflict, an unknown runtime, a
 *   dependency that is not ready), and final for this definition of the provider.
 */
export const TRANSITIONS: Readonly<Record<ProviderStatus, readonly ProviderStatus[]>> = {
  stopped: ["starting", "disabled"],
  awaiting_agent: ["ready", "disabled", "stopped"],
  starting: ["ready", "restarting", "failed", "stopped"],
  ready: ["unhealthy", "restarting", "failed", "stopped"],
  unhealthy: ["ready", "restarting", "failed", "stopped", "awaiting_agent"],
  restarting: ["starting", "stopped"],
  failed: ["starting", "stopped"],
  disabled: [],
};

/** Whether the supervisor may go from `from` to `to` ({@link TRANSITIONS}). */
export function canTransition(from: ProviderStatus, to: ProviderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Published on every status change. */
export interface StatusEvent {
  code: string;
  from: ProviderStatus;
  to: ProviderStatus;
  reason: string;
  /** ISO time. */
  time: string;
}

/** The Provider object of the admin API. */
export interface ProviderView {
  code: string;
  name: string;
  namespace: string;
  runtime: string | null;
  status: ProviderStatus;
  upstream: string | null;
  pid: number | null;
  port: number | null;
  restarts: number;
  /** While `restarting`: when the next start is due (ISO time), else null. */
  next_restart_at: string | null;
  /** Why it is restarting, and how the delay was chosen. */
  next_restart_reason: string | null;
  version: string | null;
  element: { tag: string; url: string } | null;
  last_error: string | null;
  /** Since when it has had its status (ISO time), and why it changed to it. */
  status_since: string | null;
  status_reason: string | null;
  /** How its last process ended: exit code or signal, and when (ISO time). */
  last_exit: { code: number | null; signal: string | null; time: string } | null;
  /** The last health probe: what was probed, what it answered, how long it took. */
  last_probe: {
    target: string;
    ok: boolean;
    status: number | null;
    latency_ms: number;
    detail: string | null;
    time: string;
  } | null;
  /** The last start: when it was spawned (ISO time) and how long it took to become ready (null until it did). */
  last_start: { started_at: string; ready_ms: number | null } | null;
  /**
   * Set while the manifest on disk cannot be applied (it does not load, or its namespace now
   * collides): the provider runs its last good version meanwhile.
   */
  manifest_error: string | null;
}
