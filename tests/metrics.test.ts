/**
 * `GET /metrics` after real traffic, parsed by the Prometheus project's own parsers (its Python
 * client, Debian's python3-prometheus-client, through tests/fixtures/parse_metrics.py): requests by
 * method and status class, durations, bytes, upstream errors by kind, held requests, provider
 * state and restarts, the process; OpenMetrics when asked; a removed provider's series gone.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  addEchoProvider,
  cleanup,
  FIXTURES,
  getProvider,
  makeSpace,
  request,
  startInProcess,
  startUnderTest,
  waitFor,
  waitForStatus,
  wireExchange,
} from "./helpers.ts";

setDefaultTimeout(60_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

interface Family {
  name: string;
  type: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

/** Parses an exposition with the Prometheus client's parser; fails the test if it does not parse. */
async function parse(text: string, format: "text" | "openmetrics"): Promise<Map<string, Family>> {
  const proc = Bun.spawn(["/usr/bin/python3", join(FIXTURES, "parse_metrics.py"), format], {
    stdin: new TextEncoder().encode(text),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`the Prometheus parser refused the exposition: ${err}\n${text}`);
  const families = JSON.parse(out) as Family[];
  return new Map(families.map((family) => [family.name, family]));
}

async function scrape(url: string): Promise<Map<string, Family>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return parse(await response.text(), "text");
}

/** The value of the sample `sample` (default: the family's name) whose labels include `labels`; 0 when none. */
function value(
  families: Map<string, Family>,
  family: string,
  labels: Record<string, string> = {},
  sample = family,
): number {
  const found = families
    .get(family)
    ?.samples.find((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

describe("GET /metrics", () => {
  test("counts requests, durations, bytes, upstream errors and held requests per provider, and the provider's state", async () => {
    const space = makeSpace();
    addEchoProvider(space, "alpha");
    addEchoProvider(space, "beta");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "alpha", "ready");
    const beta = await waitForStatus(gw.url, "beta", "ready");

    for (let i = 0; i < 5; i++)
      expect((await request(`${gw.url}/api/v1/alpha/items?i=${i}`)).status).toBe(200);
    expect(
      (await request(`${gw.url}/api/v1/alpha/upload`, { method: "POST", body: "x".repeat(1000) })).status,
    ).toBe(200);
    await wireExchange(gw.url, "PROPFIND /api/v1/alpha/dav HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    // A request held across a restart, answered by the new process.
    await request(`${gw.url}/_gateway/providers/alpha/restart`, { method: "POST" });
    expect((await request(`${gw.url}/api/v1/alpha/after-restart`)).status).toBe(200);
    // beta stops listening but lives on: its next request is refused, a 502.
    await request(`${beta.upstream}/close`);
    await waitFor("beta to refuse", async () => (await request(`${gw.url}/api/v1/beta/x`)).status === 502);

    const families = await scrape(gw.url);
    // The Python client names a counter family without its _total; its samples keep it.
    const requests = (labels: Record<string, string>) =>
      value(families, "gateway_requests", labels, "gateway_requests_total");
    expect(requests({ provider: "alpha", method: "GET", code: "2xx" })).toBe(6);
    expect(requests({ provider: "alpha", method: "POST", code: "2xx" })).toBe(1);
    expect(requests({ provider: "alpha", method: "other", code: "2xx" })).toBe(1);
    expect(requests({ provider: "beta", method: "GET", code: "5xx" })).toBeGreaterThanOrEqual(1);
    expect(families.get("gateway_requests")!.type).toBe("counter");

    const durations = families.get("gateway_request_duration_seconds")!;
    expect(durations.type).toBe("histogram");
    const alpha = durations.samples.filter((s) => s.labels.provider === "alpha");
    const count = alpha.find((s) => s.name === "gateway_request_duration_seconds_count")!.value;
    expect(count).toBe(8);
    expect(alpha.find((s) => s.name === "gateway_request_duration_seconds_sum")!.value).toBeGreaterThan(0);
    const buckets = alpha.filter((s) => s.name === "gateway_request_duration_seconds_bucket");
    expect(buckets.at(-1)).toMatchObject({ labels: { le: "+Inf" }, value: 8 });
    // Cumulative buckets, in order.
    const counts = buckets.map((s) => s.value);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);

    const counter = (name: string, labels: Record<string, string>) =>
      value(families, name.replace(/_total$/, ""), labels, name);
    expect(counter("gateway_request_bytes_total", { provider: "alpha" })).toBeGreaterThan(1000);
    expect(counter("gateway_response_bytes_total", { provider: "alpha" })).toBeGreaterThan(1000);
    expect(
      counter("gateway_upstream_errors_total", { provider: "beta", kind: "refused" }),
    ).toBeGreaterThanOrEqual(1);
    expect(counter("gateway_upstream_errors_total", { provider: "alpha", kind: "refused" })).toBe(0);
    expect(counter("gateway_held_requests_total", { provider: "alpha", outcome: "forwarded" })).toBe(1);
    expect(counter("gateway_provider_restarts_total", { provider: "alpha" })).toBe(
      (await getProvider(gw.url, "alpha")).restarts,
    );
    expect(value(families, "gateway_provider_up", { provider: "alpha" })).toBe(1);
    expect(value(families, "gateway_provider_ready", { provider: "alpha" })).toBe(1);
    expect(value(families, "gateway_open_connections")).toBeGreaterThanOrEqual(1);
    // One series, with the gateway's version (0.0.0-test in this process, package.json's when spawned).
    const buildInfo = families.get("gateway_build_info")!.samples;
    expect(buildInfo.map((s) => s.value)).toEqual([1]);
    expect(buildInfo[0]!.labels.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(value(families, "gateway_process_resident_memory_bytes")).toBeGreaterThan(1e6);
    expect(
      value(families, "gateway_process_cpu_seconds", {}, "gateway_process_cpu_seconds_total"),
    ).toBeGreaterThan(0);
    expect(value(families, "gateway_process_open_fds")).toBeGreaterThan(0);
    // Label values are provider codes and fixed sets only.
    for (const family of families.values()) {
      for (const sample of family.samples) {
        const labels = sample.labels;
        if (labels.provider) expect(["alpha", "beta"]).toContain(labels.provider);
        if (labels.method)
          expect(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"]).toContain(
            labels.method,
          );
        if (labels.code) expect(labels.code).toMatch(/^[1-5]xx$/);
      }
    }
  });

  test("answers OpenMetrics when the scraper asks, and drops a removed provider's series", async () => {
    const space = makeSpace();
    addEchoProvider(space, "kept");
    const goneDir = addEchoProvider(space, "gone");
    const gw = await startInProcess(space);
    await waitForStatus(gw.url, "kept", "ready");
    await waitForStatus(gw.url, "gone", "ready");
    await request(`${gw.url}/api/v1/gone/x`);

    const open = await fetch(`${gw.url}/metrics`, {
      headers: { accept: "application/openmetrics-text; version=1.0.0,text/plain;q=0.5" },
    });
    expect(open.headers.get("content-type")).toStartWith("application/openmetrics-text; version=1.0.0");
    // The OpenMetrics parser is strict: families, suffixes, the closing # EOF.
    const families = await parse(await open.text(), "openmetrics");
    expect(families.get("gateway_requests")!.type).toBe("counter");
    expect(
      value(
        families,
        "gateway_requests",
        { provider: "gone", method: "GET", code: "2xx" },
        "gateway_requests_total",
      ),
    ).toBe(1);

    rmSync(goneDir, { recursive: true, force: true });
    await gw.gateway.rescan();
    const after = await scrape(gw.url);
    for (const family of after.values()) {
      expect(family.samples.filter((s) => s.labels.provider === "gone")).toEqual([]);
    }
    expect(value(after, "gateway_provider_up", { provider: "kept" })).toBe(1);
  });
});
