/**
 * A start-up wave of N providers (default 300, the supervisor bench's Bun fixture): how soon after
 * the gateway's spawn `/healthz` first answers, how slow it is while the wave runs, and when
 * `/readyz` answers 200. `COMPARE` (another build) is measured after, on the same providers.
 *
 *   node_modules/.bin/bun bench/supervisor/wave.ts      (N, GATEWAY, COMPARE)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunAdapter } from "../../lib/runtime/bun.ts";

const N = Number(process.env.N ?? 300);
const GATEWAY = resolve(process.env.GATEWAY ?? "./gateway");
const COMPARE = process.env.COMPARE ? resolve(process.env.COMPARE) : undefined;
const work = mkdtempSync(join(tmpdir(), "gateway-wave-"));
const fixture = readFileSync(join(import.meta.dir, "fixture.ts"));
for (let i = 0; i < N; i++) {
  const code = `p${String(i).padStart(3, "0")}`;
  mkdirSync(join(work, "providers", code), { recursive: true });
  writeFileSync(join(work, "providers", code, "fixture.ts"), fixture);
  writeFileSync(
    join(work, "providers", code, "manifest.yaml"),
    `code: ${code}\nruntime: bun\nentry: ./fixture.ts\nhealth: { path: /health }\nstop_timeout: 2s\n`,
  );
}

async function wave(binary: string, label: string): Promise<void> {
  const port = bunAdapter.freePort();
  const base = `http://127.0.0.1:${port}`;
  const spawned = performance.now();
  const proc = Bun.spawn(
    [
      binary,
      "--providers-dir",
      join(work, "providers"),
      "--port",
      String(port),
      "--no-watch",
      "--log-level",
      "error",
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  try {
    let firstHealthz = 0;
    let ready = 0;
    const healthz: number[] = [];
    while (ready === 0) {
      const t = performance.now();
      const ok = await fetch(`${base}/healthz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) {
        if (firstHealthz === 0) firstHealthz = t - spawned;
        healthz.push(performance.now() - t);
        const readyz = await fetch(`${base}/readyz`).then((r) => r.status);
        if (readyz === 200) ready = performance.now() - spawned;
      }
      await Bun.sleep(5);
    }
    healthz.sort((a, b) => a - b);
    console.log(
      `${label}: ${N} providers; /healthz first answered ${firstHealthz.toFixed(0)} ms after the spawn, ` +
        `${healthz.length} answers during the wave (median ${healthz[Math.floor(healthz.length / 2)]!.toFixed(1)} ms, ` +
        `slowest ${healthz.at(-1)!.toFixed(1)} ms); /readyz 200 at ${ready.toFixed(0)} ms`,
    );
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

try {
  await wave(GATEWAY, "this build");
  if (COMPARE) await wave(COMPARE, "compared");
  await wave(GATEWAY, "this build, again");
  if (COMPARE) await wave(COMPARE, "compared, again");
} finally {
  rmSync(work, { recursive: true, force: true });
}
