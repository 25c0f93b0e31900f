/**
 * The last minutes of each provider's traffic, for the dashboard's sparklines: every
 * {@link SAMPLE_MS} the counters the front bumps (lib/proxy/traffic.ts) are read and the
 * difference since the last reading kept as one sample (requests per second, the share of 5xx
 * answers, p95 latency from the duration histogram). Nothing is added to the request path, and no
 * Prometheus is needed; {@link HISTORY_SAMPLES} samples per provider are kept.
 */
import { CODE_CLASSES, DURATION_BUCKETS, type Traffic } from "../proxy/traffic.ts";

export const SAMPLE_MS = 5_000;
export const HISTORY_SAMPLES = 60;

export interface TrafficSample {
  /** End of the interval (ISO time). */
  time: string;
  rps: number;
  /** 5xx answers over all answers in the interval; 0 without any. */
  error_rate: number;
  /** p95 latency in ms (the upper bound of the histogram bucket it falls in); null without requests. */
  p95_ms: number | null;
}

interface Reading {
  requests: number;
  errors: number;
  buckets: number[];
  at: number;
}

const FIVE_XX = CODE_CLASSES.indexOf("5xx");

function read(traffic: Traffic, at: number): Reading {
  let requests = 0;
  let errors = 0;
  for (let i = 0; i < traffic.requests.length; i++) {
    const n = traffic.requests[i]!;
    requests += n;
    if (i % CODE_CLASSES.length === FIVE_XX) errors += n;
  }
  return { requests, errors, buckets: Array.from(traffic.durations), at };
}

/** The p95 of the requests counted in `delta` (per-bucket counts), as a bucket's upper bound in ms. */
function p95(delta: number[], total: number): number | null {
  if (total <= 0) return null;
  const rank = Math.ceil(total * 0.95);
  let seen = 0;
  for (let i = 0; i < delta.length; i++) {
    seen += delta[i]!;
    if (seen >= rank) {
      const bound = DURATION_BUCKETS[i];
      // Past the last bound: say the last bound, the most the histogram can tell.
      return (bound ?? DURATION_BUCKETS.at(-1)!) * 1000;
    }
  }
  return DURATION_BUCKETS.at(-1)! * 1000;
}

export class TrafficHistory {
  readonly #last = new Map<string, Reading>();
  readonly #samples = new Map<string, TrafficSample[]>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** When {@link start} ran, until the first sample: every counter read then starts from zero. */
  #startedAt: number | undefined;

  constructor(readonly sources: () => Iterable<{ code: string; traffic: Traffic }>) {}

  /** Samples every {@link SAMPLE_MS} until {@link stop}; the timer does not keep the process alive. */
  start(): void {
    if (this.#timer) return;
    // No reading now: it would cost the start 1-2 ms before the first spawn (50 providers, JIT
    // held back). Counters are made at zero, so zero at start is the first sample's baseline.
    this.#startedAt = Date.now();
    this.#timer = setInterval(() => this.sample(), SAMPLE_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads every provider's counters once and keeps the difference since the last reading. */
  sample(now = Date.now()): void {
    const seen = new Set<string>();
    for (const { code, traffic } of this.sources()) {
      seen.add(code);
      const reading = read(traffic, now);
      const last = this.#last.get(code) ?? this.#zeroReading(traffic);
      this.#last.set(code, reading);
      // A provider made anew (a rescan) starts its counters again: no sample across that.
      if (!last || now <= last.at || reading.requests < last.requests) continue;
      const requests = reading.requests - last.requests;
      const seconds = (now - last.at) / 1000;
      const sample: TrafficSample = {
        time: new Date(now).toISOString(),
        rps: Math.round((requests / seconds) * 100) / 100,
        error_rate: requests > 0 ? Math.round(((reading.errors - last.errors) / requests) * 1000) / 1000 : 0,
        p95_ms: p95(
          reading.buckets.map((n, i) => n - last.buckets[i]!),
          requests,
        ),
      };
      const list = this.#samples.get(code) ?? [];
      list.push(sample);
      if (list.length > HISTORY_SAMPLES) list.shift();
      this.#samples.set(code, list);
    }
    // A provider that is gone takes its history with it.
    for (const code of this.#last.keys()) {
      if (!seen.has(code)) {
        this.#last.delete(code);
        this.#samples.delete(code);
      }
    }
    this.#startedAt = undefined;
  }

  /** The reading of a provider's counters at {@link start}, before its first sample; else none. */
  #zeroReading(traffic: Traffic): Reading | undefined {
    if (this.#startedAt === undefined) return undefined;
    return { requests: 0, errors: 0, buckets: Array.from(traffic.durations, () => 0), at: this.#startedAt };
  }

  /** Every provider's samples, oldest first. */
  snapshot(): Record<string, TrafficSample[]> {
    return Object.fromEntries([...this.#samples].map(([code, samples]) => [code, [...samples]]));
  }
}
