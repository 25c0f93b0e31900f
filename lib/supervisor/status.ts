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
  /**
   * Set while the manifest on disk cannot be applied (it does not load, or its namespace now
   * collides): the provider runs its last good version meanwhile.
   */
  manifest_error: string | null;
}
