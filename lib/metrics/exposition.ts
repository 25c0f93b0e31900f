/**
 * `GET /metrics`: the Prometheus text format, or OpenMetrics when the scraper asks for it, with
 * the names of contract §8. prom-client (loaded on the first scrape) keeps the registry and
 * writes the exposition, escaping included; the values come from the counters the byte-level
 * front bumps (lib/proxy/traffic.ts) and from the supervisors, read only now. Every series is
 * built afresh per scrape from the providers that exist, so a removed provider's series are gone.
 * prom-client's default collectors are not used: under Bun they fail; the process's memory, CPU
 * and open files are read here instead.
 */
import { readdirSync } from "node:fs";
import type { RegistryContentType } from "prom-client";
import {
  CODE_CLASSES,
  DURATION_BUCKETS,
  HOLD_OUTCOMES,
  METHODS,
  type Traffic,
  UPSTREAM_FAILURES,
} from "../proxy/traffic.ts";

/** One provider as the metrics see it. */
export interface ProviderMetrics {
  code: string;
  /** A process runs for it. */
  up: boolean;
  ready: boolean;
  restarts: number;
  traffic: Traffic;
}

/** Where the figures come from. */
export interface MetricsSource {
  version: string;
  providers(): ProviderMetrics[];
  /** Client connections open now; undefined where the front does not run (Deno). */
  openConnections(): number | undefined;
  /** The soft open-file limit, when known. */
  maxFiles?: number;
}

type Labels = Record<string, string | number>;
interface Sample {
  labels?: Labels;
  value: number;
  metricName?: string;
}
type MetricType = "counter" | "gauge" | "histogram";

/** A metric whose values are read at scrape time: the shape prom-client's Registry takes. */
class Collected {
  readonly aggregator = "sum";
  constructor(
    public name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly read: () => Sample[],
  ) {}

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.read(),
      aggregator: this.aggregator,
    };
  }
}

function definitions(source: MetricsSource): Collected[] {
  const perProvider = (pick: (p: ProviderMetrics) => number) => () =>
    source.providers().map((p) => ({ labels: { provider: p.code }, value: pick(p) }));
  return [
    new Collected(
      "gateway_requests_total",
      "Requests to providers, by method and status class",
      "counter",
      () =>
        source.providers().flatMap(({ code, traffic }) => {
          const samples: Sample[] = [];
          for (let m = 0; m < METHODS.length; m++) {
            for (let c = 0; c < CODE_CLASSES.length; c++) {
              const value = traffic.requests[m * CODE_CLASSES.length + c]!;
              if (value > 0)
                samples.push({
                  labels: { provider: code, method: METHODS[m]!, code: CODE_CLASSES[c]! },
                  value,
                });
            }
          }
          return samples;
        }),
    ),
    new Collected(
      "gateway_request_duration_seconds",
      "Time from a request's complete head to its response's end, time held for a restarting provider included",
      "histogram",
      () =>
        source.providers().flatMap(({ code, traffic }) => {
          const samples: Sample[] = [];
          let cumulative = 0;
          for (let b = 0; b < DURATION_BUCKETS.length; b++) {
            cumulative += traffic.durations[b]!;
            samples.push({
              metricName: "gateway_request_duration_seconds_bucket",
              labels: { provider: code, le: DURATION_BUCKETS[b]! },
              value: cumulative,
            });
          }
          cumulative += traffic.durations[DURATION_BUCKETS.length]!;
          samples.push({
            metricName: "gateway_request_duration_seconds_bucket",
            labels: { provider: code, le: "+Inf" },
            value: cumulative,
          });
          samples.push({
            metricName: "gateway_request_duration_seconds_sum",
            labels: { provider: code },
            value: traffic.durationSum,
          });
          samples.push({
            metricName: "gateway_request_duration_seconds_count",
            labels: { provider: code },
            value: cumulative,
          });
          return samples;
        }),
    ),
    new Collected(
      "gateway_request_bytes_total",
      "Request bytes from clients (heads and bodies)",
      "counter",
      perProvider((p) => p.traffic.requestBytes),
    ),
    new Collected(
      "gateway_response_bytes_total",
      "Response bytes to clients (heads and bodies)",
      "counter",
      perProvider((p) => p.traffic.responseBytes),
    ),
    new Collected(
      "gateway_upstream_errors_total",
      "Provider connections refused, reset or timed out",
      "counter",
      () =>
        source.providers().flatMap(({ code, traffic }) =>
          UPSTREAM_FAILURES.map((kind, i) => ({
            labels: { provider: code, kind },
            value: traffic.upstreamErrors[i]!,
          })),
        ),
    ),
    new Collected(
      "gateway_held_requests_total",
      "Requests that waited for a starting or restarting provider, by how the wait ended",
      "counter",
      () =>
        source.providers().flatMap(({ code, traffic }) =>
          HOLD_OUTCOMES.map((outcome, i) => ({
            labels: { provider: code, outcome },
            value: traffic.held[i]!,
          })),
        ),
    ),
    new Collected(
      "gateway_provider_up",
      "1 while a process runs for the provider",
      "gauge",
      perProvider((p) => (p.up ? 1 : 0)),
    ),
    new Collected(
      "gateway_provider_ready",
      "1 while the provider is ready",
      "gauge",
      perProvider((p) => (p.ready ? 1 : 0)),
    ),
    new Collected(
      "gateway_provider_restarts_total",
      "Restarts of the provider's process",
      "counter",
      perProvider((p) => p.restarts),
    ),
    new Collected("gateway_open_connections", "Client connections open", "gauge", () => {
      const open = source.openConnections();
      return open === undefined ? [] : [{ value: open }];
    }),
    new Collected("gateway_build_info", "The gateway's version", "gauge", () => [
      { labels: { version: source.version }, value: 1 },
    ]),
    new Collected(
      "gateway_process_resident_memory_bytes",
      "Resident memory of the gateway process",
      "gauge",
      () => [{ value: process.memoryUsage().rss }],
    ),
    new Collected(
      "gateway_process_cpu_seconds_total",
      "CPU time of the gateway process, user and system",
      "counter",
      () => {
        const { user, system } = process.cpuUsage();
        return [{ value: (user + system) / 1e6 }];
      },
    ),
    new Collected("gateway_process_open_fds", "Open file descriptors of the gateway process", "gauge", () => {
      try {
        return [{ value: readdirSync("/proc/self/fd").length - 1 }];
      } catch {
        // Not Linux, or no descriptor left to read the directory with.
        return [];
      }
    }),
    new Collected("gateway_process_max_fds", "The gateway process's open-file limit", "gauge", () =>
      source.maxFiles === undefined ? [] : [{ value: source.maxFiles }],
    ),
  ];
}

export const OPENMETRICS = "application/openmetrics-text";

/**
 * Renders the metrics: OpenMetrics when `accept` names `application/openmetrics-text`, else the
 * Prometheus text format. Returns the body and its content type.
 */
export async function renderMetrics(
  source: MetricsSource,
  accept: string,
): Promise<{ body: string; contentType: string }> {
  const { Registry } = await import("prom-client");
  const open = accept.includes(OPENMETRICS);
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(open ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
  // A fresh registry (and metric objects) per scrape: the OpenMetrics writer renames counter
  // families in place, and only providers that exist now may have series.
  for (const metric of definitions(source)) registry.registerMetric(metric as never);
  return { body: await registry.metrics(), contentType: registry.contentType };
}
