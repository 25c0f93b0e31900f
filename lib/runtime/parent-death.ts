import { accessSync, constants, existsSync } from "node:fs";
import { resolve } from "node:path";
import { findOnPath } from "./executables.ts";
import type { SpawnOptions } from "./types.ts";

const SETPRIV = "/usr/bin/setpriv";
const PREFIX = [SETPRIV, "--pdeathsig", "SIGKILL", "--"];
const PROBE = [...PREFIX, SETPRIV, "--version"];
let deathPrefix: string[] | undefined;
let probing: Promise<void> | undefined;

/** Whether setpriv could be there at all; false settles the prefix as none, with no probe. */
function worthProbing(): boolean {
  return process.platform === "linux" && existsSync(SETPRIV);
}

/**
 * `setpriv --pdeathsig SIGKILL --` (util-linux) where it works, else nothing. The kernel then
 * kills a provider the moment the gateway dies, even by SIGKILL (prctl PR_SET_PDEATHSIG; the flag
 * survives exec). prctl(2) ties the signal to the thread that forked, not to the process: Bun
 * spawns from the JavaScript thread (vfork from the main thread, seen with strace -f on Bun
 * 1.4.5), and Deno's child stays up well past the 10 s after which an idle worker thread of its
 * runtime would end (seen on Deno 2.9.6), so no provider dies while the gateway lives. Only the
 * group leader gets it; the process ledger still ends its children on the next start. Probed
 * once with `runs` (the runtime's synchronous spawn: true when the command exits 0), so a setpriv
 * too old for the flag (util-linux < 2.33) or a sandbox that refuses prctl costs the safety net,
 * never the providers.
 */
export function parentDeathPrefix(runs: (cmd: string[]) => boolean): string[] {
  if (deathPrefix) return deathPrefix;
  deathPrefix = worthProbing() && runs(PROBE) ? PREFIX : [];
  return deathPrefix;
}

/**
 * Runs the probe of {@link parentDeathPrefix} without waiting for it, with `runs` the runtime's
 * asynchronous spawn: done synchronously at the first spawn it holds up the gateway for two
 * exec's (1.7–2.9 ms measured on Bun), while started early it runs on the other core as the
 * gateway loads its manifests and opens its listener. A spawn before it settles probes
 * synchronously and the late answer is dropped, so the prefix is decided once.
 */
export function probeParentDeathAhead(runs: (cmd: string[]) => Promise<boolean>): Promise<void> {
  if (deathPrefix) return Promise.resolve();
  if (!worthProbing()) {
    deathPrefix = [];
    return Promise.resolve();
  }
  probing ??= runs(PROBE).then(
    (works) => {
      deathPrefix ??= works ? PREFIX : [];
    },
    () => {
      deathPrefix ??= [];
    },
  );
  return probing;
}

/**
 * Throws as a plain spawn would for a program that cannot run. Behind setpriv the spawn itself
 * always succeeds and only setpriv's exit code (127) tells, which would turn "cannot start" into
 * a crash loop.
 */
export function requireExecutable(options: SpawnOptions): void {
  const program = options.cmd[0] ?? "";
  if (program.includes("/")) accessSync(resolve(options.cwd, program), constants.X_OK);
  else if (!findOnPath(program, options.env.PATH ?? "", options.cwd)) {
    throw new Error(`Executable not found in $PATH: "${program}"`);
  }
}
