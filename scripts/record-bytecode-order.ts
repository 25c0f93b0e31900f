/**
 * Records the profiles in `scripts/bytecode-order/` that `scripts/build.ts` lays the
 * executable's bytecode out by (`bun build --bytecode-order`): a gateway built without them is
 * run with BUN_BYTECODE_ORDER_OUT set, once per profile, then stopped. Bun places the bytecode
 * those runs used together at the front, in the order the files are listed (the first, the
 * most common start, first), so fewer of the executable's pages are read in.
 *
 * - `1-start.order`: 50 small providers of the bun runtime with a health path started, /readyz
 *   awaited, a second idle: the start every gateway makes, with the default log (what is not
 *   recorded lies scattered, and each page touched there reads in its neighbours: a profile
 *   recorded without the log lines of a start cost 4 MB more than one with them).
 * - `2-use.order`: the bundled examples (exec and core runtimes, a spec file, an element) and
 *   20 of the small providers, then what users ask of it: the proxy to each namespace, the
 *   merged document, the API reference, the dashboard, the providers list; a JSON log.
 *
 * Run: `node_modules/.bin/bun scripts/record-bytecode-order.ts`, then `npm run build`. A profile
 * of an older build still applies (changed functions are laid out as cold): record again when
 * start-up or the proxy path has changed much.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fixtureProviders, status, until200 } from "../bench/supervisor/fixtures.ts";
import { bunAdapter } from "../lib/runtime/bun.ts";
import { BYTECODE_ORDER_DIR, buildGateway } from "./build.ts";

const REPO = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "gateway-bytecode-order-"));

/** Runs `gateway` on `providers` until /readyz, then `use(get)`, then stops it; writes `out`. */
async function record(
  gateway: string,
  providers: string,
  out: string,
  flags: string[],
  use: (get: (path: string) => Promise<number>) => Promise<void>,
): Promise<void> {
  const port = bunAdapter.freePort();
  const proc = Bun.spawn({
    cmd: [gateway, "--providers-dir", providers, "--port", String(port), ...flags],
    env: { ...process.env, BUN_BYTECODE_ORDER_OUT: out },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const log = new Response(proc.stderr).text();
  const get = (path: string) => status(`http://127.0.0.1:${port}${path}`);
  try {
    await until200(`http://127.0.0.1:${port}/readyz`, performance.now(), 20, 60_000);
  } catch (error) {
    proc.kill("SIGKILL");
    throw new Error(`${(error as Error).message}:\n${await log}`);
  }
  await use(get);
  proc.kill("SIGTERM");
  if ((await proc.exited) !== 0) throw new Error(`the gateway exited with ${proc.exitCode}:\n${await log}`);
}

try {
  const gateway = join(work, "gateway");
  await buildGateway(gateway, process.execPath, { bytecodeOrder: false });
  mkdirSync(BYTECODE_ORDER_DIR, { recursive: true });

  const start = join(work, "start");
  fixtureProviders(start, 50);
  await record(gateway, start, join(BYTECODE_ORDER_DIR, "1-start.order"), [], () => Bun.sleep(1000));

  const use = join(work, "use");
  cpSync(join(REPO, "examples", "providers"), use, { recursive: true });
  fixtureProviders(use, 20);
  // Each folder is a provider whose code is its name (the examples' and the fixtures' alike).
  const codes = readdirSync(use);
  await record(
    gateway,
    use,
    join(BYTECODE_ORDER_DIR, "2-use.order"),
    ["--log-format", "json"],
    async (get) => {
      // A few rounds, so what runs on every request is what the profile sees most.
      for (let round = 0; round < 3; round++) {
        for (const code of codes) await get(`/api/v1/${code}/`);
        for (const path of [
          "/healthz",
          "/openapi.json",
          "/openapi.yaml",
          "/docs",
          "/_gateway/ui",
          "/_gateway/providers",
        ])
          await get(path);
      }
    },
  );
  console.log(`recorded the profiles in ${BYTECODE_ORDER_DIR}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
