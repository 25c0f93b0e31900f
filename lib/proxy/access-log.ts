import type { Logger } from "../logger.ts";

/** One proxied request, as `--access-log` writes it. */
export interface AccessEntry {
  /** Milliseconds since the epoch, when the response ended. */
  time: number;
  provider: string;
  method: string;
  /** The request target as the client sent it (path and query). */
  path: string;
  status: number;
  /** Response bytes sent to the client. */
  bytes: number;
  durationMs: number;
  requestId: string;
}

/**
 * `--access-log`: one line per proxied request through the gateway's logger (JSON with
 * `--log-format json`: time, provider, method, path, status, bytes, duration_ms, request_id).
 * The request path only hands an entry over; lines are formatted and written after the current
 * turn of the event loop, many at a time, so a slow log never delays a response.
 */
export class AccessLog {
  readonly #log: Logger;
  #pending: AccessEntry[] = [];
  #scheduled = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  readonly add = (entry: AccessEntry): void => {
    this.#pending.push(entry);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  };

  #flush(): void {
    const entries = this.#pending;
    this.#pending = [];
    this.#scheduled = false;
    const json = this.#log.format === "json";
    for (const e of entries) {
      const time = new Date(e.time).toISOString();
      const ms = Math.round(e.durationMs * 1000) / 1000;
      if (json) {
        this.#log.info("access", {
          access_time: time,
          provider: e.provider,
          method: e.method,
          path: e.path,
          status: e.status,
          bytes: e.bytes,
          duration_ms: ms,
          request_id: e.requestId,
        });
      } else {
        this.#log.info(`${e.method} ${e.path} ${e.status} ${e.bytes} B ${ms} ms`, {
          provider: e.provider,
          request_id: e.requestId,
        });
      }
    }
  }
}
