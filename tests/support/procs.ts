/**
 * /proc scans: every process a test started carries its sandbox's marker in its environment
 * ({@link MARKER_VAR}), so a test can find them all, whoever their parent, and prove none outlives
 * the gateway.
 */
import { readdirSync, readFileSync } from "node:fs";

/** The environment variable that carries a test's marker into every provider process. */
export const MARKER_VAR = "GW_TEST_MARKER";

export interface ProcessInfo {
  pid: number;
  state: string;
  cmdline: string;
  /** CORE_PROVIDER_NAME from its environment: which provider it belongs to. */
  provider?: string;
}

/**
 * The fields of `/proc/<pid>/stat` after the parenthesised command name (which may itself hold
 * ") "): `[0]` is the state (field 3 of proc(5)), `[11]` and `[12]` utime and stime, `[19]` the
 * start time. Throws when the process is gone.
 */
export function procStat(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * Every live (non-zombie) process whose environment or command line holds `marker`; with
 * `provider`, only those of that provider.
 */
export function markedProcesses(marker: string, provider?: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      if (!environ.includes(`${MARKER_VAR}=${marker}`) && !cmdline.includes(marker)) continue;
      const state = procStat(pid)[0]!;
      if (state === "Z" || state === "X") continue;
      const provider = /(?:^|\0)CORE_PROVIDER_NAME=([^\0]*)/.exec(environ)?.[1];
      found.push({ pid, state, cmdline: cmdline.replaceAll("\0", " ").trim(), provider });
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return provider === undefined ? found : found.filter((info) => info.provider === provider);
}

/** Whether `pid` is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const state = procStat(pid)[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/**
 * Waits (bounded) until no process carries `marker`; returns the ones still there when the time
 * ran out, so a test can `expect(...).toEqual([])` and see who survived.
 */
export async function leftoverProcesses(marker: string, timeoutMs = 5_000): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = markedProcesses(marker);
    if (found.length === 0 || Date.now() > deadline) return found;
    await Bun.sleep(50);
  }
}

/** SIGKILLs every process that carries `marker`: the survivors, once they have been reported. */
export function killMarked(marker: string): void {
  for (const { pid } of markedProcesses(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}
