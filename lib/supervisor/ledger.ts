import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import type { Logger } from "../logger.ts";
import { sleep } from "./sleep.ts";

/** One provider process the gateway started, identified beyond its pid. */
export interface ProcessRecord {
  code: string;
  pid: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a recycled pid apart. */
  startTime: string;
}

interface LedgerFile {
  gatewayPid: number;
  gatewayStartTime: string;
  processes: ProcessRecord[];
}

/** What /proc says of a pid, or `undefined` when there is no such process. */
export function readProcStat(
  pid: number,
): { state: string; ppid: number; pgid: number; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0]!, ppid: Number(fields[1]), pgid: Number(fields[2]), startTime: fields[19]! };
}

/**
 * A state file recording every provider process group the gateway has running, so that a gateway
 * killed with SIGKILL can, on its next start, end what it left behind. Every write is atomic.
 */
export class ProcessLedger {
  readonly file: string;
  readonly #records = new Map<number, ProcessRecord>();
  /** Spawned, start time not read yet (see {@link add}). */
  readonly #pending = new Map<number, string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ownStartTime: string | undefined;

  constructor(file: string) {
    this.file = file;
  }

  /**
   * Records a process just spawned. Its start time is read from /proc when the ledger is
   * written, not now: right after the spawn the child is still in exec and reading its
   * /proc/<pid>/stat waits for it (0.2–0.5 ms per provider, measured, against 0.013 ms later).
   */
  add(code: string, pid: number): void {
    this.#pending.set(pid, code);
    this.#schedule();
  }

  remove(pid: number): void {
    // A pid still pending was never written: forgetting it is enough.
    this.#pending.delete(pid);
    if (this.#records.delete(pid)) this.#schedule();
  }

  /** Removes the file (clean stop: nothing is left running). */
  clear(): void {
    this.#records.clear();
    this.#pending.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone.
    }
  }

  /** Writes pending changes now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#write();
  }

  /**
   * Changes are written together, at most WRITE_DELAY_MS late: fifty providers starting at once
   * cost one write, not fifty (each about a millisecond of the gateway's start-up). A record
   * written late is only a risk if the gateway is SIGKILLed within those milliseconds, and then
   * the parent-death signal still ends the group leader; a stale record is harmless, as every
   * record is checked against /proc before anything is signalled.
   */
  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #write(): void {
    for (const [pid, code] of this.#pending) {
      const stat = readProcStat(pid);
      // Gone already, or not our child any more (its pid was reused): nothing to record.
      if (stat && stat.ppid === process.pid) this.#records.set(pid, { code, pid, startTime: stat.startTime });
    }
    this.#pending.clear();
    this.#ownStartTime ??= readProcStat(process.pid)?.startTime ?? "";
    const body: LedgerFile = {
      gatewayPid: process.pid,
      gatewayStartTime: this.#ownStartTime,
      processes: [...this.#records.values()],
    };
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify(body));
      renameSync(temp, this.file);
    } catch {
      // The ledger is a safety net; a read-only providers dir must not stop providers from running.
    }
  }
}

/** How late a change to the ledger may reach the disk. */
const WRITE_DELAY_MS = 10;

/**
 * Ends the provider process groups a previous gateway run left behind, per its state file.
 * Each recorded pid is checked in /proc first: gone, a zombie, a different process (start time
 * differs) or no longer a group leader means it is not signalled. Returns how many groups it ended.
 */
export async function reapOrphans(
  file: string,
  killGroup: (pid: number, signal: "SIGTERM" | "SIGKILL") => boolean,
  logger: Logger,
): Promise<number> {
  let ledger: LedgerFile;
  try {
    ledger = JSON.parse(readFileSync(file, "utf8")) as LedgerFile;
  } catch {
    return 0;
  }
  const owner = readProcStat(ledger.gatewayPid);
  if (
    ledger.gatewayPid !== process.pid &&
    owner &&
    owner.state !== "Z" &&
    owner.startTime === ledger.gatewayStartTime
  ) {
    logger.warn(
      `Another gateway (pid ${ledger.gatewayPid}) is running on ${file}; leaving its providers alone`,
    );
    return 0;
  }
  const orphans = (ledger.processes ?? []).filter((record) => groupMembers(record).length > 0);
  for (const record of orphans) {
    logger.warn(
      `Ending provider "${record.code}" (process group ${record.pid}) left running by a previous gateway`,
    );
    killGroup(record.pid, "SIGTERM");
  }
  const left = () => orphans.filter((record) => groupMembers(record).length > 0);
  for (let waited = 0; waited < 3000 && left().length > 0; waited += 50) await sleep(50);
  for (const record of left()) killGroup(record.pid, "SIGKILL");
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
  return orphans.length;
}

/**
 * Live processes of the group the record's leader started: same process group id, not zombies,
 * and started no earlier than the leader (so a recycled pid heading a new group is never hit).
 */
function groupMembers(record: ProcessRecord): number[] {
  const leader = readProcStat(record.pid);
  if (leader && leader.startTime !== record.startTime) return [];
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (
      stat &&
      stat.pgid === record.pid &&
      stat.state !== "Z" &&
      Number(stat.startTime) >= Number(record.startTime)
    ) {
      members.push(Number(entry));
    }
  }
  return members;
}
