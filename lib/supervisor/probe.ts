/** Resolves true when `url` answers 2xx within `timeoutMs`. Never throws. */
export async function probeHttp(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    // Read the (small) body rather than cancel it: a reset mid-write makes some servers log errors.
    await response.arrayBuffer();
    return response.status >= 200 && response.status < 300;
  } catch {
    return false;
  }
}

/** Resolves true when 127.0.0.1:`port` accepts a TCP connection within `timeoutMs`. Never throws. */
export async function probeTcp(port: number, timeoutMs: number): Promise<boolean> {
  // node:net is loaded on first use: most providers have a health path, and start-up is faster without it.
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
