import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { readProcStat } from "./supervisor/ledger.ts";

/** A running `gateway serve`, as it announces itself beside its registry. */
export interface GatewayInstance {
  pid: number;
  /** /proc start time, which tells the gateway apart from a later process with its pid. */
  startTime: string;
  url: string;
  registry: string;
  /** Whether it watches the registry (false with --no-watch: it applies edits on SIGHUP). */
  watching: boolean;
}

/** `.gateway-instance.json` beside the registry file. */
export function instanceFile(registryFile: string): string {
  return join(dirname(registryFile), ".gateway-instance.json");
}

/**
 * Records this gateway as the one serving `registry`, so `gateway providers` can tell whether a
 * running gateway took its change. Best effort: a read-only dir only costs that message.
 */
export function announceInstance(registry: string, url: string, watching: boolean): () => void {
  const file = instanceFile(registry);
  const body: GatewayInstance = {
    pid: process.pid,
    startTime: readProcStat(process.pid)?.startTime ?? "",
    url,
    registry,
    watching,
  };
  try {
    writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(body));
    renameSync(`${file}.${process.pid}.tmp`, file);
  } catch {
    return () => {};
  }
  return () => {
    // Only our own record: a newer gateway may have announced itself since.
    if (findInstance(registry)?.pid !== process.pid) return;
    try {
      unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
}

/** The gateway serving `registry`, if one is running (its pid alive with the recorded start time). */
export function findInstance(registry: string): GatewayInstance | undefined {
  let record: GatewayInstance;
  try {
    record = JSON.parse(readFileSync(instanceFile(registry), "utf8")) as GatewayInstance;
  } catch {
    return undefined;
  }
  if (record.registry !== registry) return undefined;
  const stat = readProcStat(record.pid);
  if (!stat || stat.state === "Z" || stat.startTime !== record.startTime) return undefined;
  return record;
}
