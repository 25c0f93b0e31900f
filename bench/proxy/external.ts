/**
 * An external provider against a local one, in one gateway and one run: the same plain upstream
 * (nginx, one worker, a small JSON answer) is both a local provider (`runtime: exec` declaring
 * its port) and an external provider registered at its URL over the admin API (its address
 * checked and pinned, its heartbeat timer running). `wrk -t1` at 32 and 1 keep-alive
 * connections, rounds interleaved: what the external path costs on the hot path.
 *
 *   node_modules/.bin/bun bench/proxy/external.ts      (ROUNDS, default 5; SECONDS, default 4; GATEWAY)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunAdapter } from "../../lib/runtime/bun.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 4);
const GATEWAY = resolve(process.env.GATEWAY ?? "./gateway");
const work = mkdtempSync(join(tmpdir(), "gateway-external-bench-"));
const children: Array<{ kill(): void }> = [];
const start = (cmd: string[]) => {
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore", cwd: work });
  children.push(proc);
  return proc;
};

const upPort = bunAdapter.freePort();
writeFileSync(
  join(work, "nginx.conf"),
  `worker_processes 1; error_log stderr; pid ${work}/nginx.pid; daemon off;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${work}; proxy_temp_path ${work};
  server { listen 127.0.0.1:${upPort};
    location / { default_type application/json; return 200 '{"ok":true,"items":[1,2,3],"name":"bench"}'; } }
}`,
);
start(["nginx", "-c", join(work, "nginx.conf")]);
const dir = join(work, "providers", "near");
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, "manifest.yaml"),
  `code: near\nruntime: exec\nbinary: sleep\nargs: ["infinity"]\nport: ${upPort}\nrestart: { policy: never }\nhealth: { interval: 1h, timeout: 5s }\n`,
);
const gwPort = bunAdapter.freePort();
const base = `http://127.0.0.1:${gwPort}`;
start([GATEWAY, "--providers-dir", join(work, "providers"), "--port", String(gwPort), "--log-level", "warn"]);

const targets: Record<string, string> = {
  local: `${base}/api/v1/near/items`,
  external: `${base}/api/v1/far/items`,
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  for (let i = 0; ; i++) {
    const created = await fetch(`${base}/_gateway/providers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        code: "far",
        runtime: "external",
        url: `http://127.0.0.1:${upPort}`,
        heartbeat_interval: 3600,
      }),
    }).catch(() => undefined);
    if (created?.status === 201) break;
    if (i > 100)
      throw new Error(`the external provider was not created: ${created?.status} ${await created?.text()}`);
    await Bun.sleep(100);
  }
  for (const url of Object.values(targets)) {
    for (let i = 0; ; i++) {
      if ((await fetch(url).catch(() => undefined))?.status === 200) break;
      if (i > 100) throw new Error(`${url} never answered 200`);
      await Bun.sleep(100);
    }
  }
  const rps: Record<string, number[]> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const connections of [32, 1]) {
      for (const [name, url] of Object.entries(targets)) {
        const out = Bun.spawnSync(["wrk", "-t1", `-c${connections}`, `-d${SECONDS}s`, url]).stdout.toString();
        const value = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
        const key = `${name} c${connections}`;
        rps[key] = [...(rps[key] ?? []), value];
        console.log(`round ${round} ${key.padEnd(14)} ${value.toFixed(0).padStart(7)} req/s`);
      }
    }
  }
  for (const connections of [32, 1]) {
    const local = median(rps[`local c${connections}`]!);
    const external = median(rps[`external c${connections}`]!);
    console.log(
      `${connections} connections: local ${local.toFixed(0)} req/s, external ${external.toFixed(0)} req/s, ratio ${(external / local).toFixed(2)}`,
    );
  }
} finally {
  for (const child of children) child.kill();
  await Bun.sleep(500);
  rmSync(work, { recursive: true, force: true });
}
