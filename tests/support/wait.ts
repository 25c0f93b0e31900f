/**
 * Bounded waits: polling until something holds ({@link waitFor}) and a subprocess' exit
 * ({@link exitCode}). Every wait in the tests has a bound, so a hang fails a test instead of the suite.
 */

/** Generous bound for anything a slow machine may take a while to do. */
export const WAIT_MS = 20_000;

/**
 * Calls `probe` every `intervalMs` until it returns something other than `undefined`, `null` or
 * `false`, and returns that. Throws after `timeoutMs` (default {@link WAIT_MS}), saying what was
 * awaited and what was last seen. `intervalMs` defaults to 50.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs ?? WAIT_MS} ms waiting for ${what}; last: ${inspect(last)}`,
      );
    }
    await Bun.sleep(options.intervalMs ?? 50);
  }
}

function inspect(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Waits for a subprocess (a `Bun.spawn` result or a `GatewayProcess`) to exit and returns its exit
 * code, or `"still running"` once `timeoutMs` (default 30 s) has passed; it never kills it.
 */
export function exitCode(
  proc: { exited: Promise<number> },
  timeoutMs = 30_000,
): Promise<number | "still running"> {
  return Promise.race([proc.exited, Bun.sleep(timeoutMs).then(() => "still running" as const)]);
}
