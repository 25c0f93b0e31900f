/**
 * The gateway's resident memory with N (default 50) ready fixture providers, 2 s after /readyz
 * 200, split into the executable's pages and anonymous memory (`/proc/PID/smaps`), for each
 * state the executable's pages can be in: the kernel maps up to 16 cached neighbours of each
 * page a fault reads, so the same binary's RSS depends on how its file came into the page cache.
 *
 * - `disk`: read from disk as it runs (the page cache dropped before; needs root, else skipped),
 * - `written`: all cached, the file just written (as after a build or an image pull),
 * - `read`: all cached, the file read whole after a drop (root only, like `disk`).
 *
 * Run: `node_modules/.bin/bun bench/supervisor/memory.ts [GATEWAY] [COMPARE]` (default: one
 * built from this checkout); ROUNDS (2), N (50). Builds are measured interleaved. Writes
 * bench/supervisor/memory-last-results.json.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunAdapter } from "../../lib/runtime/bun.ts";
import { buildGateway } from "../../scripts/build.ts";
import { fixtureProviders, gatewayCommand, until200 } from "./fixtures.ts";

const N = Number(process.env.N ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const work = mkdtempSync(join(tmpdir(), "gateway-bench-memory-"));
const ROOT = process.getuid?.() === 0;

function dropPageCache(): void {
  Bun.spawnSync(["bash", "-c", "sync; echo 1 > /proc/sys/vm/drop_caches"]);
}

/** Resident MB of the mappings of `exe` and of anonymous memory, and VmRSS. */
function residentOf(pid: number, exe: string): { rss: number; exe: number; anon: number } {
  let name = "";
  const kb = { exe: 0, anon: 0 };
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      name = mapping[1] ?? "";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    if (name === exe) kb.exe += Number(rss[1]);
    else if (name === "") kb.anon += Number(rss[1]);
  }
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const mb = (value: number) => Math.round(value / 102.4) / 10;
  return { rss: mb(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)), exe: mb(kb.exe), anon: mb(kb.anon) };
}

async function measure(exe: string, providers: string) {
  const port = bunAdapter.freePort();
  const proc = Bun.spawn({
    cmd: gatewayCommand(exe, providers, port),
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    await until200(`http://127.0.0.1:${port}/readyz`, performance.now(), 5, 60_000);
    await Bun.sleep(2000);
    return residentOf(proc.pid, exe);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

try {
  const builds: string[] = [];
  if (process.argv[2]) builds.push(resolve(process.argv[2]));
  else {
    builds.push(join(work, "gateway"));
    await buildGateway(builds[0]!);
  }
  if (process.argv[3]) builds.push(resolve(process.argv[3]));
  const providers = fixtureProviders(join(work, "providers"), N);
  const states = ROOT ? ["disk", "written", "read"] : ["written"];
  if (!ROOT)
    console.log("not root: the page cache cannot be dropped, so only the `written` state is measured");
  const results: Record<string, Record<string, string[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const state of states) {
      for (const build of builds) {
        let exe = build;
        if (state === "written") {
          exe = join(work, `written-${builds.indexOf(build)}`);
          rmSync(exe, { force: true });
          copyFileSync(build, exe);
        } else {
          dropPageCache();
          if (state === "read") readFileSync(exe);
        }
        const m = await measure(exe, providers);
        const line = `${m.rss} MB (executable ${m.exe}, anonymous ${m.anon})`;
        console.log(`round ${round + 1} ${state.padEnd(7)} ${build}: ${line}`);
        results[state] ??= {};
        results[state][build] ??= [];
        results[state][build].push(line);
      }
    }
  }
  const out = { date: new Date().toISOString(), providers: N, builds, results };
  console.log(JSON.stringify(out, null, 2));
  writeFileSync(join(import.meta.dir, "memory-last-results.json"), `${JSON.stringify(out, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
