/**
 * Restart rules: a start that fails spends `max_restarts`; a provider that proved healthy and
 * later died is restarted for as long as the gateway runs, at once when it had served a second
 * or more, with a doubling delay when it keeps dying soon after becoming ready.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  addEchoProvider,
  cleanup,
  getProvider,
  makeSpace,
  providerLogs,
  request,
  startUnderTest,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(120_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

/** The delays the gateway chose, from its `-> restarting: …; restarting in N ms` lines. */
async function restartDelays(url: string, code: string): Promise<number[]> {
  return (await providerLogs(url, code))
    .map((l) => /-> restarting: .*restarting in (\d+) ms$/.exec(l.line)?.[1])
    .filter((d): d is string => d !== undefined)
    .map(Number);
}

describe("restarts after a provider was ready", () => {
  test("a provider killed after serving a second or more is restarted every time, past max_restarts, after about 100 ms", async () => {
    const space = makeSpace();
    addEchoProvider(space, "tough", { restart: { policy: "on-failure", max_restarts: 1 } });
    const gw = await startUnderTest(space);
    let view = await waitForStatus(gw.url, "tough", "ready");
    for (let kill = 1; kill <= 4; kill++) {
      await Bun.sleep(1100);
      const pid = view.pid!;
      process.kill(pid, "SIGKILL");
      view = await waitFor(`restart ${kill} of "tough"`, async () => {
        const now = await getProvider(gw.url, "tough");
        return now.status === "ready" && now.pid !== pid && now;
      });
      expect(view.restarts).toBe(kill);
      expect((await request(`${gw.url}/api/v1/tough/x`)).status).toBe(200);
    }
    const delays = await restartDelays(gw.url, "tough");
    expect(delays).toHaveLength(4);
    // 100 ms with ±20% jitter each time: never doubled, as every run served over a second.
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(79);
      expect(delay).toBeLessThanOrEqual(121);
    }
    expect(view.last_error).toContain("killed by SIGKILL after serving");
  });

  test("a provider that dies soon after becoming ready is never failed, but its delay doubles, with next_restart_at shown", async () => {
    const space = makeSpace();
    addEchoProvider(space, "fragile", {
      env: { EXIT_AFTER_MS: "250" },
      health: { path: "/health", interval: "1s", startup_timeout: "20s" },
      restart: { policy: "always", max_restarts: 0 },
    });
    const gw = await startUnderTest(space);
    // The fourth delay is 800 ms (±20%): long enough to read the view while it waits.
    const waiting = await waitFor("a restart with its due time", async () => {
      const view = await getProvider(gw.url, "fragile");
      expect(view.status).not.toBe("failed");
      return view.status === "restarting" && view.restarts >= 4 && view.next_restart_at !== null && view;
    });
    const due = Date.parse(waiting.next_restart_at!);
    expect(due).toBeGreaterThan(Date.now() - 1000);
    expect(due).toBeLessThan(Date.now() + 30_000);
    expect(waiting.next_restart_reason).toContain("exited with code 1 after serving");
    expect(waiting.next_restart_reason).toContain("delay doubled");

    const delays = await restartDelays(gw.url, "fragile");
    for (const [i, delay] of delays.entries()) {
      const base = Math.min(30_000, 100 * 2 ** i);
      expect(delay).toBeGreaterThanOrEqual(base * 0.8 - 1);
      expect(delay).toBeLessThanOrEqual(base * 1.2 + 1);
    }
    const ready = await waitForStatus(gw.url, "fragile", "ready");
    expect(ready.next_restart_at).toBeNull();
    expect(ready.next_restart_reason).toBeNull();
  });
});
