/**
 * One provider's exchanges through the proxy, counted by the byte-level front as they begin and
 * end: what a restart or stop the gateway chooses waits for (drain), so a request in flight is
 * let finish before its provider is signalled.
 */
export class Traffic {
  /** Exchanges forwarded to the provider and not finished yet (a tunnel counts until it closes). */
  inFlight = 0;
  #whenIdle: Array<() => void> = [];

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
}
