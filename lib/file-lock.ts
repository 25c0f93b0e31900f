import { closeSync, openSync } from "node:fs";
import { runtime } from "./runtime/index.ts";

/** Raised when another process held the lock for longer than the caller would wait. */
export class LockTimeoutError extends Error {
  override name = "LockTimeoutError";
  constructor(
    readonly file: string,
    readonly waitedMs: number,
  ) {
    super(
      `Cannot lock ${file}: another gateway or \`gateway providers\` command has held it for ${waitedMs} ms; try again, or look for a process stuck holding it (fuser ${file})`,
    );
  }
}

/** A four-byte cell to wait on: Atomics.wait is the one synchronous sleep both Bun and Deno have. */
const pause = new Int32Array(new SharedArrayBuffer(4));
let warnedUnlocked = false;

/**
 * Runs `fn` holding an exclusive lock on `file`, an empty file beside the one it protects
 * (created when missing, and never deleted: a deleted lock file lets two processes lock two
 * different files). The lock is flock(2), so the kernel drops it when its holder exits, however
 * it exits: a lock left by a killed process is recovered at once, with no staleness guess.
 * Synchronous, as its callers (a CLI command, a rescan) hold it for milliseconds; waits at most
 * `timeoutMs`, polling with a short, growing pause, then throws {@link LockTimeoutError}.
 * @param options.timeoutMs default 5000
 */
export function withFileLock<T>(
  file: string,
  fn: () => T,
  options: { timeoutMs?: number; tryLock?: (fd: number) => boolean } = {},
): T {
  const tryLock = options.tryLock ?? runtime.tryLock;
  if (!tryLock) {
    if (!warnedUnlocked) {
      warnedUnlocked = true;
      process.stderr.write(
        `gateway: cannot lock ${file} on this platform (no FFI to libc): edits made at the same moment by several processes may overwrite each other\n`,
      );
    }
    return fn();
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  const fd = openSync(file, "a", 0o600);
  try {
    const started = Date.now();
    for (let wait = 2; !tryLock(fd); wait = Math.min(wait * 2, 50)) {
      const waited = Date.now() - started;
      if (waited >= timeoutMs) throw new LockTimeoutError(file, waited);
      // Jitter, so processes that queued together do not wake together.
      Atomics.wait(pause, 0, 0, wait * (0.5 + Math.random()));
    }
    return fn();
  } finally {
    // Closing the descriptor releases the lock.
    closeSync(fd);
  }
}
