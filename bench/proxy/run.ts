/**
 * Proxy benchmark, one run, everything interleaved: the upstream direct, through the gateway,
 * through nginx (1 worker, upstream keepalive) and through Caddy (reverse_proxy), each stripping
 * the same namespace prefix; plus a gateway with 1,000 namespaces, 1 GiB down and up through the
 * gateway with its peak memory. Run with `bash bench/proxy/run.sh` (installs wrk, nginx, caddy).
 *
 * Environment: ROUNDS (default 5), SECONDS (per wrk run, default 4), GATEWAY (binary, default
 * ./gateway); GATEWAY_BEFORE (another build, say of the last commit) adds a target
 * "gateway-before", interleaved with the rest, for a before/after figure from one run; TARGETS (a
 * comma list such as "gateway,gateway-before,nginx") runs only those wrk targets.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunAdapter } from "../../lib/runtime/bun.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 4);
const GATEWAY = resolve(process.env.GATEWAY ?? "./gateway");
const GATEWAY_BEFORE = process.env.GATEWAY_BEFORE ? resolve(process.env.GATEWAY_BEFORE) : undefined;
const ONLY = process.env.TARGETS?.split(",").map((name) => name.trim());
/** Whether target `name` runs (nginx, every ratio's denominator, always does). */
const runs = (name: string) => !ONLY || name === "nginx" || ONLY.includes(name);
const work = mkdtempSync(join(tmpdir(), "gateway-bench-"));
// nginx workers run as nobody: they must be able to read the 1 GiB file in here.
chmodSync(work, 0o755);
const children: Array<{ kill(signal?: number | NodeJS.Signals): void; pid: number }> = [];

async function waitFor(url: string, seconds = 60): Promise<void> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // not yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`${url} did not answer within ${seconds} s`);
}

function start(cmd: string[], name: string) {
  const proc = Bun.spawn({ cmd, stdout: "ignore", stderr: Bun.file(join(work, `${name}.log`)), cwd: work });
  children.push(proc);
  return proc;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

// ---- a body sink that counts what it is sent (nginx answers uploads before reading them) -----
const sinkPort = bunAdapter.freePort();
writeFileSync(
  join(work, "sink.ts"),
  `Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  async fetch(request) {
    let bytes = 0;
    for await (const chunk of request.body ?? []) bytes += chunk.length;
    return Response.json({ bytes });
  } });`,
);
start([process.execPath, join(work, "sink.ts"), String(sinkPort)], "sink");

// ---- upstream: nginx, one worker, a small JSON answer, a 1 GiB file, uploads to the sink ---
const upPort = bunAdapter.freePort();
const bigFile = join(work, "big.bin");
Bun.spawnSync(["truncate", "-s", "1G", bigFile]);
mkdirSync(join(work, "up"), { recursive: true });
writeFileSync(
  join(work, "up", "nginx.conf"),
  `worker_processes 1; error_log stderr; pid ${work}/up/nginx.pid;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${work}/up;
  server { listen 127.0.0.1:${upPort};
    location / { default_type application/json; return 200 '{"ok":true,"items":[1,2,3],"name":"bench"}'; }
    location = /big { alias ${bigFile}; }
    location = /upload { client_max_body_size 0; proxy_request_buffering off; proxy_http_version 1.1; proxy_pass http://127.0.0.1:${sinkPort}; }
  }
}`,
);
start(["nginx", "-c", join(work, "up", "nginx.conf"), "-g", "daemon off;"], "upstream");

// ---- nginx as a proxy, one worker, upstream keepalive ---------------------------------------
const nginxPort = bunAdapter.freePort();
mkdirSync(join(work, "ngx"), { recursive: true });
writeFileSync(
  join(work, "ngx", "nginx.conf"),
  `worker_processes 1; error_log stderr; pid ${work}/ngx/nginx.pid;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${work}/ngx; proxy_temp_path ${work}/ngx;
  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${nginxPort};
    location /api/v1/bench/ { proxy_pass http://up/; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}`,
);
start(["nginx", "-c", join(work, "ngx", "nginx.conf"), "-g", "daemon off;"], "nginx");

// ---- Caddy reverse_proxy ---------------------------------------------------------------------
const caddyPort = bunAdapter.freePort();
writeFileSync(
  join(work, "Caddyfile"),
  `{
  admin off
  auto_https off
}
http://127.0.0.1:${caddyPort} {
  bind 127.0.0.1
  handle_path /api/v1/bench/* {
    reverse_proxy 127.0.0.1:${upPort}
  }
}
`,
);
start(["caddy", "run", "--config", join(work, "Caddyfile"), "--adapter", "caddyfile"], "caddy");

// ---- gateways: one namespace, and 1,000 ------------------------------------------------------
// The provider process is a placeholder (`sleep`) declaring the shared upstream's port, so every
// proxy in this benchmark talks to the very same nginx.
function providersDir(name: string, count: number): string {
  const dir = join(work, name);
  for (let i = 0; i < count; i++) {
    const code = count === 1 ? "bench" : `bench-${String(i).padStart(4, "0")}`;
    mkdirSync(join(dir, code), { recursive: true });
    writeFileSync(
      join(dir, code, "manifest.yaml"),
      `code: ${code}\nruntime: exec\nbinary: sleep\nargs: ["infinity"]\nport: ${upPort}\nrestart: { policy: never }\nhealth: { interval: 1h, timeout: 5s }\n`,
    );
  }
  return dir;
}
const gatewayPort = bunAdapter.freePort();
const gateway = start(
  [GATEWAY, "--providers-dir", providersDir("one", 1), "--port", String(gatewayPort), "--log-level", "warn"],
  "gateway",
);
const gateway1000Port = bunAdapter.freePort();
// Not started unless measured: its 1,000 providers starting would load the machine meanwhile.
const gateway1000 = runs("gateway-1000ns")
  ? start(
      [
        GATEWAY,
        "--providers-dir",
        providersDir("thousand", 1000),
        "--port",
        String(gateway1000Port),
        "--log-level",
        "warn",
      ],
      "gateway1000",
    )
  : undefined;

const gatewayBeforePort = bunAdapter.freePort();
if (GATEWAY_BEFORE) {
  start(
    [
      GATEWAY_BEFORE,
      "--providers-dir",
      providersDir("before", 1),
      "--port",
      String(gatewayBeforePort),
      "--log-level",
      "warn",
    ],
    "gateway-before",
  );
}

const allTargets: Record<string, string> = {
  direct: `http://127.0.0.1:${upPort}/items`,
  gateway: `http://127.0.0.1:${gatewayPort}/api/v1/bench/items`,
  ...(GATEWAY_BEFORE ? { "gateway-before": `http://127.0.0.1:${gatewayBeforePort}/api/v1/bench/items` } : {}),
  nginx: `http://127.0.0.1:${nginxPort}/api/v1/bench/items`,
  caddy: `http://127.0.0.1:${caddyPort}/api/v1/bench/items`,
  "gateway-1000ns": `http://127.0.0.1:${gateway1000Port}/api/v1/bench-0999/items`,
};
// nginx is every ratio's denominator: always measured.
const targets = Object.fromEntries(Object.entries(allTargets).filter(([name]) => runs(name)));

interface Sample {
  rps: number;
  p50: number;
  p99: number;
}

function toMs(text: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(text);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
}

function wrk(url: string, connections: number, close = false): Sample {
  const out = Bun.spawnSync([
    "wrk",
    "-t1",
    `-c${connections}`,
    `-d${SECONDS}s`,
    "--latency",
    // A new connection per request, as many health checkers and simple clients do.
    ...(close ? ["-H", "Connection: close"] : []),
    url,
  ]).stdout.toString();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "");
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "");
  if (/Non-2xx|Socket errors/.test(out)) console.error(`warning for ${url} c${connections}:\n${out}`);
  return { rps, p50, p99 };
}

/** `count` clients that each send one keep-alive request, then sit idle on their connection. */
function idleClients(port: number, count: number) {
  let sockets: Array<{ end(): void }> = [];
  return {
    count,
    async open() {
      sockets = await Promise.all(
        Array.from(
          { length: count },
          () =>
            new Promise<{ end(): void }>((resolve, reject) => {
              Bun.connect({
                hostname: "127.0.0.1",
                port,
                socket: {
                  open(socket) {
                    socket.write("GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n");
                  },
                  data(socket) {
                    resolve(socket);
                  },
                  error(_socket, error) {
                    reject(error);
                  },
                },
              }).catch(reject);
            }),
        ),
      );
    },
    close() {
      for (const socket of sockets) socket.end();
      sockets = [];
    },
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main() {
  for (const url of Object.values(targets)) await waitFor(url, 120);
  console.log(`rounds ${ROUNDS}, ${SECONDS} s per run, wrk -t1; work dir ${work}`);
  const samples: Record<string, Sample[]> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const connections of [32, 1, 256, "close"] as const) {
      for (const [name, url] of Object.entries(targets)) {
        // Connection: close only against the proxies that matter for it.
        // Connection: close and 256 connections only against the proxies that matter for them.
        if (
          (connections === "close" || connections === 256) &&
          !["gateway", "nginx", "gateway-before"].includes(name)
        )
          continue;
        const key = connections === "close" ? `${name} close32` : `${name} c${connections}`;
        const sample = connections === "close" ? wrk(url, 32, true) : wrk(url, connections);
        samples[key] ??= [];
        samples[key].push(sample);
        console.log(
          `round ${round} ${key.padEnd(22)} ${sample.rps.toFixed(0).padStart(7)} req/s  p50 ${sample.p50.toFixed(3)} ms  p99 ${sample.p99.toFixed(3)} ms`,
        );
      }
    }
  }
  const summary: Record<string, { rps: number; p50: number; p99: number }> = {};
  for (const [key, list] of Object.entries(samples)) {
    summary[key] = {
      rps: median(list.map((s) => s.rps)),
      p50: median(list.map((s) => s.p50)),
      p99: median(list.map((s) => s.p99)),
    };
  }
  console.log("\nmedians");
  console.log("| target | conns | req/s | p50 ms | p99 ms | req/s ÷ nginx | p99 ÷ nginx |");
  console.log("|---|---|---|---|---|---|---|");
  for (const connections of [32, 1]) {
    const ngx = summary[`nginx c${connections}`]!;
    for (const name of Object.keys(targets)) {
      const s = summary[`${name} c${connections}`]!;
      console.log(
        `| ${name} | ${connections} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${(s.rps / ngx.rps).toFixed(2)} | ${(s.p99 / ngx.p99).toFixed(2)} |`,
      );
    }
  }
  for (const name of ["gateway", "gateway-before", "nginx"]) {
    const wide = summary[`${name} c256`];
    const ngx = summary["nginx c256"];
    if (wide && ngx)
      console.log(
        `| ${name} | 256 | ${wide.rps.toFixed(0)} | ${wide.p50.toFixed(3)} | ${wide.p99.toFixed(3)} | ${(wide.rps / ngx.rps).toFixed(2)} | ${(wide.p99 / ngx.p99).toFixed(2)} |`,
      );
  }
  for (const name of ["gateway", "gateway-before"]) {
    const closeRun = summary[`${name} close32`];
    const ngx = summary["nginx close32"];
    if (closeRun && ngx)
      console.log(
        `| ${name} | 32, Connection: close | ${closeRun.rps.toFixed(0)} | ${closeRun.p50.toFixed(3)} | ${closeRun.p99.toFixed(3)} | ${(closeRun.rps / ngx.rps).toFixed(2)} | ${(closeRun.p99 / ngx.p99).toFixed(2)} |`,
      );
  }
  if (summary["nginx close32"])
    console.log(
      `| nginx | 32, Connection: close | ${summary["nginx close32"].rps.toFixed(0)} | | | 1.00 | 1.00 |`,
    );
  const g32 = summary["gateway c32"]!;
  const ratio = (key: string) => (summary[key] ? (g32.rps / summary[key].rps).toFixed(3) : "not run");
  console.log(`\ngateway ÷ caddy at 32 connections: ${ratio("caddy c32")}`);
  console.log(
    `1000 namespaces ÷ 1 at 32 connections: ${summary["gateway-1000ns c32"] ? (summary["gateway-1000ns c32"].rps / g32.rps).toFixed(3) : "not run"}`,
  );
  if (GATEWAY_BEFORE) {
    for (const connections of [32, 1]) {
      const after = summary[`gateway c${connections}`]!;
      const before = summary[`gateway-before c${connections}`]!;
      console.log(
        `gateway ÷ gateway-before at ${connections} connections: req/s ${(after.rps / before.rps).toFixed(3)}, p99 ${(after.p99 / before.p99).toFixed(3)}`,
      );
    }
  }

  // ---- 1,000 idle keep-alive clients held open under the 32-connection load --------------------
  if (runs("gateway")) {
    const idle = idleClients(gatewayPort, 1000);
    const rssBefore = rssMb(gateway.pid);
    await idle.open();
    await Bun.sleep(500);
    const perClientKb = ((rssMb(gateway.pid) - rssBefore) * 1024) / idle.count;
    const withIdle: number[] = [];
    const without: number[] = [];
    for (let round = 0; round < 3; round++) {
      withIdle.push(wrk(targets.gateway!, 32).rps);
      idle.close();
      await Bun.sleep(200);
      without.push(wrk(targets.gateway!, 32).rps);
      await idle.open();
    }
    idle.close();
    const ratio = median(withIdle) / median(without);
    console.log(
      `
${idle.count} idle keep-alive clients: 32-connection load ${median(withIdle).toFixed(0)} req/s with them, ` +
        `${median(without).toFixed(0)} without (${((ratio - 1) * 100).toFixed(1)}%); ${perClientKb.toFixed(1)} KiB of gateway RSS per idle client`,
    );
  }

  // ---- 1 GiB down and up through the gateway ------------------------------------------------
  const before = rssMb(gateway.pid);
  const down = Bun.spawnSync([
    "curl",
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{time_total} %{size_download}",
    `http://127.0.0.1:${gatewayPort}/api/v1/bench/big`,
  ])
    .stdout.toString()
    .split(" ");
  const up = Bun.spawnSync([
    "curl",
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{time_total} %{size_upload} %{http_code}",
    "-X",
    "POST",
    "-H",
    "content-type: application/octet-stream",
    "-T",
    bigFile,
    `http://127.0.0.1:${gatewayPort}/api/v1/bench/upload`,
  ])
    .stdout.toString()
    .split(" ");
  const gib = 1024 ** 3;
  console.log(
    `\n1 GiB download: ${(Number(down[1]) / gib).toFixed(2)} GiB in ${Number(down[0]).toFixed(2)} s = ${(Number(down[1]) / 1024 ** 2 / Number(down[0])).toFixed(0)} MiB/s`,
  );
  console.log(
    `1 GiB upload: ${(Number(up[1]) / gib).toFixed(2)} GiB in ${Number(up[0]).toFixed(2)} s = ${(Number(up[1]) / 1024 ** 2 / Number(up[0])).toFixed(0)} MiB/s (status ${up[2]})`,
  );
  console.log(
    `gateway resident memory: ${before.toFixed(1)} MB before the transfers, peak ${peakRssMb(gateway.pid).toFixed(1)} MB (VmHWM over the whole run)`,
  );
  if (gateway1000)
    console.log(`gateway with 1,000 namespaces: ${rssMb(gateway1000.pid).toFixed(1)} MB resident`);
  writeFileSync(
    join(import.meta.dir, "last-results.json"),
    `${JSON.stringify({ summary, down, up }, null, 2)}\n`,
  );
}

try {
  await main();
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Bun.sleep(1500);
  rmSync(work, { recursive: true, force: true });
}
