import type { Manifest } from "../manifest.ts";
import type { LogRing } from "./logs.ts";
import type { ProviderStatus, ProviderView } from "./status.ts";

/**
 * What the gateway, its routes and its proxy need of a provider's keeper, whether it runs a local
 * process (ProviderSupervisor, lib/supervisor/provider.ts) or follows an external agent
 * (ExternalProvider, lib/external/provider.ts). Every status change goes through the keeper.
 */
export interface Supervised {
  readonly code: string;
  readonly manifest: Manifest;
  readonly status: ProviderStatus;
  /** The upstream's base URL while a process or agent is up; read by the proxy. */
  readonly upstream: string | null;
  readonly port: number | null;
  readonly pid: number | null;
  readonly restarts: number;
  readonly lastError: string | null;
  readonly logs: LogRing;
  /** Whether a request that finds it not ready should wait for it. */
  readonly holds: boolean;
  /** True while it stops: requests in flight finish, new ones are refused. */
  readonly stopping: boolean;
  view(): Omit<ProviderView, "manifest_error">;
  start(): void;
  stop(reason?: string): Promise<void>;
  restart(): Promise<void>;
  /** Resolves once it is ready, failed, stopped or disabled. */
  settled(): Promise<void>;
  disable(reason: string, error?: string): void;
  /** Adds a line from the gateway to its log. */
  note(line: string): void;
  /** A start is on its way. */
  expectStart(): void;
}
