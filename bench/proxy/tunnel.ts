/**
 * A dial-out tunnel against the direct path, in one gateway and one run: the same plain upstream
 * (nginx, one worker, a small JSON answer) is an external provider registered at its URL ("far")
 * and one served by `gateway agent` through its tunnel ("tun"). Measures:
 *
 * - requests per second and p99 latency, `wrk -t1 --latency` at 32 and 1 keep-alive connections,
 *   rounds interleaved;
 * - 1 GiB downloaded and 1 GiB uploaded through each (curl), with the peak RSS of the gateway and
 *   of the agent while it runs;
 * - time to serve again after the agent is killed and started afresh, and after the gateway
 *   restarts (the agent reconnects by itself).
 *
 *   node_modules/.bin/bun bench/proxy/tunnel.ts      (ROUNDS, default 3; SECONDS, default 4; GATEWAY)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunAdapter } from "../../lib/runtime/bun.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 4);
const GATEWAY = resolve(process.env.GATEWAY ?? "./gateway");
const GIB = 1024 * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), "gateway-tunnel-bench-"));
const children: Array<{ kill(signal?: number | NodeJS.Signals): void; pid: number }> = [];
const start = (cmd: string[]) => {
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore", cwd: work });
  children.push(proc);
  return proc;
};

// A sink for uploads, read as a stream (nginx streams /upload to it, unbuffered).
const sink = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  maxRequestBodySize: 2 * GIB,
  async fetch(request) {
    let bytes = 0;
    for await (const chunk of request.body ?? []) bytes += chunk.length;
    return Response.json({ bytes });
  },
});
// nginx: a small JSON answer, a 1 GiB (sparse) file to download, and the way to the sink.
const upPort = bunAdapter.freePort();
const big = join(work, "big.bin");
Bun.spawnSync(["truncate", "-s", String(GIB), big]);
writeFileSync(
  join(work, "nginx.conf"),
  `worker_processes 1; error_log stderr; pid ${work}/nginx.pid; daemon off;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${work}; proxy_temp_path ${work}; client_max_body_size 0;
  client_body_buffer_size 1m; sendfile on;
  server { listen 127.0.0.1:${upPort};
    location = /big.bin { root ${work}; }
    location = /upload { proxy_pass http://127.0.0.1:${sink.port}; proxy_request_buffering off; proxy_http_version 1.1; }
    location / { default_type application/json; return 200 '{"ok":true,"items":[1,2,3],"name":"bench"}'; } }
}`,
);
start(["nginx", "-c", join(work, "nginx.conf")]);

const gwPort = bunAdapter.freePort();
const base = `http://127.0.0.1:${gwPort}`;
mkdirSync(join(work, "providers"), { recursive: true });
const gatewayCmd = [
  GATEWAY,
  "--providers-dir",
  join(work, "providers"),
  "--port",
  String(gwPort),
  "--log-level",
  "warn",
  // The 1 GiB upload is over the default limit.
  "--max-body-size",
  "none",
];
let gateway = start(gatewayCmd);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const rssMb = (pid: number) => {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
};
async function until(what: string, check: () => Promise<boolean>, limitMs = 20_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - started;
    if (performance.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await Bun.sleep(5);
  }
}
const answers = (url: string) => async () => (await fetch(url)).status === 200;

try {
  await until("the gateway", answers(`${base}/healthz`));
  const create = async (body: Record<string, unknown>) => {
    const response = await fetch(`${base}/_gateway/providers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
    return (await response.json()) as { connection: { agent_command: string; auth_token: string } };
  };
  await create({
    code: "far",
    runtime: "external",
    url: `http://127.0.0.1:${upPort}`,
    heartbeat_interval: 3600,
  });
  const { connection } = await create({ code: "tun", runtime: "external", heartbeat_interval: 3600 });
  const agentCmd = [
    GATEWAY,
    "agent",
    "--gateway",
    base,
    "--token",
    connection.auth_token,
    "--upstream",
    `http://127.0.0.1:${upPort}`,
    "--log-level",
    "warn",
  ];
  let agent = start(agentCmd);
  const targets: Record<string, string> = {
    direct: `${base}/api/v1/far/items`,
    tunnel: `${base}/api/v1/tun/items`,
  };
  for (const url of Object.values(targets)) await until(url, answers(url));

  // ---- requests per second and p99 ----
  const rps: Record<string, number[]> = {};
  const p99: Record<string, number[]> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const connections of [32, 1]) {
      for (const [name, url] of Object.entries(targets)) {
        const out = Bun.spawnSync([
          "wrk",
          "-t1",
          `-c${connections}`,
          `-d${SECONDS}s`,
          "--latency",
          url,
        ]).stdout.toString();
        const value = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
        const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
        const ms = m ? Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1) : 0;
        const key = `${name} c${connections}`;
        rps[key] = [...(rps[key] ?? []), value];
        p99[key] = [...(p99[key] ?? []), ms];
        console.log(
          `round ${round} ${key.padEnd(12)} ${value.toFixed(0).padStart(7)} req/s, p99 ${ms.toFixed(2)} ms`,
        );
      }
    }
  }
  for (const connections of [32, 1]) {
    const d = `direct c${connections}`;
    const t = `tunnel c${connections}`;
    console.log(
      `${connections} connections: direct ${median(rps[d]!).toFixed(0)} req/s (p99 ${median(p99[d]!).toFixed(2)} ms), tunnel ${median(rps[t]!).toFixed(0)} req/s (p99 ${median(p99[t]!).toFixed(2)} ms); tunnel/direct ${(median(rps[t]!) / median(rps[d]!)).toFixed(2)}`,
    );
  }

  // ---- 1 GiB each way, with peak RSS ----
  for (const [name, code] of [
    ["direct", "far"],
    ["tunnel", "tun"],
  ] as const) {
    for (const direction of ["download", "upload"] as const) {
      const before = { gateway: rssMb(gateway.pid), agent: rssMb(agent.pid) };
      const peak = { ...before };
      const sampler = setInterval(() => {
        peak.gateway = Math.max(peak.gateway, rssMb(gateway.pid));
        peak.agent = Math.max(peak.agent, rssMb(agent.pid));
      }, 50);
      const started = performance.now();
      const cmd =
        direction === "download"
          ? ["curl", "-sS", "-o", "/dev/null", `${base}/api/v1/${code}/big.bin`]
          : [
              "curl",
              "-sS",
              "-o",
              "/dev/null",
              "-w",
              "%{http_code}",
              "-X",
              "POST",
              "-H",
              "content-type: application/octet-stream",
              "-T",
              big,
              `${base}/api/v1/${code}/upload`,
            ];
      const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
      const code_ = await proc.exited;
      const status = await new Response(proc.stdout).text();
      if (direction === "upload" && status !== "200")
        throw new Error(
          `${name} upload answered ${status} (curl exit ${code_}): ${await new Response(proc.stderr).text()}`,
        );
      clearInterval(sampler);
      const seconds = (performance.now() - started) / 1000;
      if (code_ !== 0)
        throw new Error(`${name} ${direction}: curl failed: ${await new Response(proc.stderr).text()}`);
      console.log(
        `${name.padEnd(6)} 1 GiB ${direction.padEnd(8)} ${seconds.toFixed(2)} s (${(1024 / seconds).toFixed(0)} MiB/s); gateway RSS ${before.gateway} → peak ${peak.gateway} MB` +
          (name === "tunnel" ? `, agent RSS ${before.agent} → peak ${peak.agent} MB` : ""),
      );
    }
  }

  // ---- time to serve again ----
  const tunnelUrl = targets.tunnel!;
  agent.kill("SIGKILL");
  await until("the tunnel to go", async () => (await fetch(tunnelUrl)).status !== 200);
  agent = start(agentCmd);
  const afterAgent = await until("the tunnel back (new agent)", answers(tunnelUrl));
  console.log(
    `agent killed and started afresh: serving again ${afterAgent.toFixed(0)} ms after the new agent was spawned`,
  );

  gateway.kill("SIGTERM");
  await gateway.exited;
  gateway = start(gatewayCmd);
  const spawned = performance.now();
  await until("the gateway back", answers(`${base}/healthz`));
  const listening = performance.now() - spawned;
  const afterGateway = await until("the tunnel back (gateway restarted)", answers(tunnelUrl));
  console.log(
    `gateway restarted: listening ${listening.toFixed(0)} ms after its spawn, the tunnel serving ${afterGateway.toFixed(0)} ms after that (the agent's reconnect backoff)`,
  );
} finally {
  for (const child of children) child.kill();
  sink.stop(true);
  await Bun.sleep(500);
  rmSync(work, { recursive: true, force: true });
}
