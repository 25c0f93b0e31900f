/**
 * A/B of gateway builds by CPU time per proxied request: a figure that holds up on a machine
 * whose speed drifts (throughput through wrk moves ±30% with the neighbours; the gateway's own
 * CPU microseconds per request move far less). Each build serves one namespace in front of the
 * same nginx upstream; rounds interleave the builds, 32 and 1 connections, `wrk -t1 -d4s`.
 *
 *   node_modules/.bin/bun bench/proxy/ab.ts ./gateway /tmp/gateway-before [more builds…]
 *   node_modules/.bin/bun bench/proxy/ab.ts ./gateway "./gateway --no-metrics"
 *
 * A build may carry flags after its path (one argument, words split on spaces).
 * Environment: ROUNDS (default 7). Prints the median and every round, per build and load.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunAdapter } from "../../lib/runtime/bun.ts";

const builds = process.argv.slice(2).map((arg) => {
  const [bin, ...flags] = arg.split(" ").filter(Boolean);
  return { bin: resolve(bin!), flags, name: arg };
});
if (builds.length < 1) throw new Error("usage: bun bench/proxy/ab.ts GATEWAY [GATEWAY…]");
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const work = mkdtempSync(join(tmpdir(), "gateway-ab-"));
const upPort = bunAdapter.freePort();
writeFileSync(
  join(work, "nginx.conf"),
  `worker_processes 1; error_log stderr; pid ${work}/nginx.pid; daemon off;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:${upPort};
  location / { default_type application/json; return 200 '{"ok":true,"items":[1,2,3],"name":"bench"}'; } } }`,
);
const children: Array<{ kill(): void }> = [
  Bun.spawn(["nginx", "-c", join(work, "nginx.conf")], { stdout: "ignore", stderr: "ignore" }),
];
const gateways = builds.map(({ bin, flags, name }, i) => {
  const dir = join(work, `build-${i}`, "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "manifest.yaml"),
    `code: bench\nruntime: exec\nbinary: sleep\nargs: ["infinity"]\nport: ${upPort}\nrestart: { policy: never }\nhealth: { interval: 1h, timeout: 5s }\n`,
  );
  const port = bunAdapter.freePort();
  const proc = Bun.spawn(
    [
      bin,
      "--providers-dir",
      join(work, `build-${i}`),
      "--port",
      String(port),
      "--log-level",
      "warn",
      ...flags,
    ],
    {
      stdout: "ignore",
      stderr: "ignore",
    },
  );
  children.push(proc);
  return { bin: name, pid: proc.pid, url: `http://127.0.0.1:${port}/api/v1/bench/items` };
});

/** utime + stime of `pid`, in µs (clock ticks are 10 ms on Linux). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  for (const { url } of gateways) {
    for (let i = 0; ; i++) {
      const ok = await fetch(url).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 200) throw new Error(`${url} never answered 200`);
      await Bun.sleep(100);
    }
  }
  const cpu: Record<string, number[]> = {};
  const rps: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, gateway] of gateways.entries()) {
      for (const connections of [32, 1]) {
        const before = cpuMicros(gateway.pid);
        const out = Bun.spawnSync(["wrk", "-t1", `-c${connections}`, "-d4s", gateway.url]).stdout.toString();
        const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
        const key = `${i} c${connections}`;
        cpu[key] = [...(cpu[key] ?? []), (cpuMicros(gateway.pid) - before) / requests];
        rps[key] = [...(rps[key] ?? []), Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)];
      }
    }
  }
  for (const connections of [32, 1]) {
    for (const [i, gateway] of gateways.entries()) {
      const key = `${i} c${connections}`;
      console.log(
        `c${connections} ${gateway.bin}: ${median(cpu[key]!).toFixed(2)} µs CPU/request (rounds ${cpu[key]!.map((v) => v.toFixed(1)).join(", ")}), ${median(rps[key]!).toFixed(0)} req/s`,
      );
    }
  }
} finally {
  for (const child of children) child.kill();
  rmSync(work, { recursive: true, force: true });
}
