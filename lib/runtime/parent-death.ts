import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import type { SpawnOptions } from "./types.ts";

const SETPRIV = "/usr/bin/setpriv";
let deathPrefix: string[] | undefined;

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
  deathPrefix = [];
  if (process.platform === "linux" && existsSync(SETPRIV)) {
    if (runs([SETPRIV, "--pdeathsig", "SIGKILL", "--", SETPRIV, "--version"])) {
      deathPrefix = [SETPRIV, "--pdeathsig", "SIGKILL", "--"];
    }
  }
  return deathPrefix;
}

/** The first executable `program` on `path` (a `PATH` value), resolved against `cwd`; null if none. */
export function findOnPath(program: string, path: string, cwd: string): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = resolve(cwd, join(dir, program));
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here: the next entry.
    }
  }
  return null;
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
