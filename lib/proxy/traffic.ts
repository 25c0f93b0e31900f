/**
 * One provider's traffic through the byte-level front: the exchanges in flight (what a restart or
 * stop the gateway chooses waits for, so a request in flight is let finish before its provider
 * is signalled) and the counters `GET /metrics` reads (lib/metrics/). The front bumps
 * preallocated numbers here, no label hashing and no allocation per request; the metrics
 * library reads them only when scraped.
 */

/** `method` label values; any other method counts as `other`. */
export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"] as const;
/** `code` label values. */
export const CODE_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
/** Upper bounds (seconds) of `gateway_request_duration_seconds`: from a fast proxied answer to a slow upstream. */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** `kind` of `gateway_upstream_errors_total` (lib/proxy/answers.ts's causes). */
export const UPSTREAM_FAILURES = ["refused", "reset", "timeout"] as const;
/** `outcome` of `gateway_held_requests_total`. */
export const HOLD_OUTCOMES = ["forwarded", "timeout", "dropped"] as const;

export type UpstreamFailure = (typeof UPSTREAM_FAILURES)[number];
export type HoldOutcome = (typeof HOLD_OUTCOMES)[number];

/** The index of `method` in {@link METHODS}. */
export function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "PATCH":
      return 4;
    case "DELETE":
      return 5;
    case "OPTIONS":
      return 6;
    default:
      return 7;
  }
}

export class Traffic {
  /** Exchanges forwarded to the provider and not finished yet (a tunnel counts until it closes). */
  inFlight = 0;
  #whenIdle: Array<() => void> = [];
  /** Requests by method and status class: `requests[method * CODE_CLASSES.length + class]`. */
  readonly requests = new Float64Array(METHODS.length * CODE_CLASSES.length);
  /** Requests by duration bucket, not cumulative; the last slot is past the last bound. */
  readonly durations = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSum = 0;
  requestBytes = 0;
  responseBytes = 0;
  /** By {@link UPSTREAM_FAILURES} index. */
  readonly upstreamErrors = new Float64Array(UPSTREAM_FAILURES.length);
  /** By {@link HOLD_OUTCOMES} index. */
  readonly held = new Float64Array(HOLD_OUTCOMES.length);

  begin(): void {
    this.inFlight++;
  }

  end(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.#whenIdle.length > 0)
      for (const resolve of this.#whenIdle.splice(0)) resolve();
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs` with something still is. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#whenIdle = this.#whenIdle.filter((waiter) => waiter !== done);
        resolve(false);
      }, timeoutMs);
      this.#whenIdle.push(done);
    });
  }

  /** One finished request: its method ({@link methodIndex}), status, duration and bytes each way. */
  record(method: number, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    const codeClass = status < 200 ? 0 : status < 300 ? 1 : status < 400 ? 2 : status < 500 ? 3 : 4;
    this.requests[method * 5 + codeClass]!++;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    this.durations[bucket]!++;
    this.durationSum += seconds;
    this.requestBytes += bytesIn;
    this.responseBytes += bytesOut;
  }

  upstreamError(kind: UpstreamFailure): void {
    this.upstreamErrors[kind === "refused" ? 0 : kind === "reset" ? 1 : 2]!++;
  }

  heldOutcome(outcome: HoldOutcome): void {
    this.held[outcome === "forwarded" ? 0 : outcome === "timeout" ? 1 : 2]!++;
  }
}
