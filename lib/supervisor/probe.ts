/** What one health probe found: for the dashboard's "why is it down?" and the Provider object. */
export interface ProbeResult {
  ok: boolean;
  /** The URL probed, or `tcp://127.0.0.1:PORT` for a connect-only check. */
  target: string;
  /** The HTTP status it answered; null when it did not answer (or for a TCP check). */
  status: number | null;
  latencyMs: number;
  /** Why it failed, in words: "connection refused", "timed out after 2000 ms", "answered 500". */
  detail: string | null;
  /** When it ran (epoch ms). */
  time: number;
}

/** Whether `url` answers 2xx within `timeoutMs`, and what it answered. Never throws. */
export async function probeHttp(url: string, timeoutMs: number): Promise<ProbeResult> {
  const time = Date.now();
  const started = performance.now();
  const result = (ok: boolean, status: number | null, detail: string | null): ProbeResult => ({
    ok,
    target: url,
    status,
    latencyMs: Math.round((performance.now() - started) * 10) / 10,
    detail,
    time,
  });
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    // Read the (small) body rather than cancel it: a reset mid-write makes some servers log errors.
    await response.arrayBuffer();
    const ok = response.status >= 200 && response.status < 300;
    return result(ok, response.status, ok ? null : `answered ${response.status}`);
  } catch (error) {
    return result(false, null, failureDetail(error, timeoutMs));
  }
}

/** Whether 127.0.0.1:`port` accepts a TCP connection within `timeoutMs`. Never throws. */
export async function probeTcp(port: number, timeoutMs: number): Promise<ProbeResult> {
  // node:net is loaded on first use: most providers have a health path, and start-up is faster without it.
  const { connect } = await import("node:net");
  const time = Date.now();
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (detail: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({
        ok: detail === null,
        target: `tcp://127.0.0.1:${port}`,
        status: null,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
        detail,
        time,
      });
    };
    const timer = setTimeout(() => done(`timed out after ${timeoutMs} ms`), timeoutMs);
    socket.once("connect", () => done(null));
    socket.once("error", (error) => done(failureDetail(error, timeoutMs)));
  });
}

function failureDetail(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; code?: string; message?: string };
  if (e.name === "TimeoutError" || e.name === "AbortError") return `timed out after ${timeoutMs} ms`;
  if (e.code === "ECONNREFUSED" || e.code === "ConnectionRefused") return "connection refused";
  if (e.code === "ECONNRESET") return "connection reset";
  return e.message ?? String(error);
}
