import { afterEach, describe, expect, test } from "bun:test";
import { SAMPLE_MS, TrafficHistory } from "../lib/metrics/history.ts";
import { Traffic } from "../lib/proxy/traffic.ts";

describe("the dashboard's traffic history", () => {
  let history: TrafficHistory | undefined;
  afterEach(() => history?.stop());

  test("the first sample counts every request since the start, though nothing was read at the start", () => {
    const traffic = new Traffic();
    history = new TrafficHistory(() => [{ code: "p", traffic }]);
    history.start();
    // Requests between start and the first tick: 9 answered 200 and 1 answered 502.
    for (let i = 0; i < 9; i++) traffic.record(0, 200, 0.004, 10, 100);
    traffic.record(0, 502, 0.004, 10, 100);
    history.sample(Date.now() + SAMPLE_MS);
    const [sample] = history.snapshot().p!;
    expect(sample!.rps).toBeCloseTo(10 / (SAMPLE_MS / 1000), 1);
    expect(sample!.error_rate).toBe(0.1);
    expect(sample!.p95_ms).toBe(5);
  });

  test("a provider that appears after the first sample gets its first sample one interval after it is seen", () => {
    const first = new Traffic();
    const later = new Traffic();
    const sources = [{ code: "first", traffic: first }];
    history = new TrafficHistory(() => sources);
    history.start();
    const t0 = Date.now() + SAMPLE_MS;
    history.sample(t0);
    later.record(0, 200, 0.004, 10, 100);
    sources.push({ code: "later", traffic: later });
    // Seen for the first time: its counters so far are the baseline, not a sample.
    history.sample(t0 + SAMPLE_MS);
    expect(history.snapshot().later).toBeUndefined();
    later.record(0, 200, 0.004, 10, 100);
    history.sample(t0 + 2 * SAMPLE_MS);
    expect(history.snapshot().later!.map((s) => s.rps)).toEqual([1 / (SAMPLE_MS / 1000)]);
  });
});
