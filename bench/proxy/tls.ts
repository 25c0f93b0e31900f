/**
 * The proxy over TLS, against nginx over TLS, in one run: the same self-signed certificate (made
 * with openssl), the same plain upstream (nginx, one worker, a small JSON answer), nginx as a TLS
 * proxy (one worker, upstream keepalive) and the gateway with --tls-cert/--tls-key; `wrk -t1`
 * at 32 and 1 keep-alive connections, rounds interleaved.
 *
 *   node_modules/.bin/bun bench/proxy/tls.ts      (ROUNDS, default 5; SECONDS, default 4; GATEWAY)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunAdapter } from "../../lib/runtime/bun.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 4);
const GATEWAY = resolve(process.env.GATEWAY ?? "./gateway");
const work = mkdtempSync(join(tmpdir(), "gateway-tls-bench-"));
const cert = join(work, "tls.crt");
const key = join(work, "tls.key");
Bun.spawnSync(
  [
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-keyout",
    key,
    "-out",
    cert,
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ],
  { stdout: "ignore", stderr: "ignore" },
);
const children: Array<{ kill(): void }> = [];
const start = (cmd: string[]) => {
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore", cwd: work });
  children.push(proc);
  return proc;
};

const upPort = bunAdapter.freePort();
const ngxPort = bunAdapter.freePort();
writeFileSync(
  join(work, "nginx.conf"),
  `worker_processes 1; error_log stderr; pid ${work}/nginx.pid; daemon off;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${work}; proxy_temp_path ${work};
  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${upPort};
    location / { default_type application/json; return 200 '{"ok":true,"items":[1,2,3],"name":"bench"}'; } }
  server { listen 127.0.0.1:${ngxPort} ssl; ssl_certificate ${cert}; ssl_certificate_key ${key};
    location /api/v1/bench/ { proxy_pass http://up/; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}`,
);
start(["nginx", "-c", join(work, "nginx.conf")]);
const dir = join(work, "providers", "bench");
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, "manifest.yaml"),
  `code: bench\nruntime: exec\nbinary: sleep\nargs: ["infinity"]\nport: ${upPort}\nrestart: { policy: never }\nhealth: { interval: 1h, timeout: 5s }\n`,
);
const gwPort = bunAdapter.freePort();
start([
  GATEWAY,
  "--providers-dir",
  join(work, "providers"),
  "--port",
  String(gwPort),
  "--log-level",
  "warn",
  "--tls-cert",
  cert,
  "--tls-key",
  key,
]);

const targets: Record<string, string> = {
  gateway: `https://127.0.0.1:${gwPort}/api/v1/bench/items`,
  nginx: `https://127.0.0.1:${ngxPort}/api/v1/bench/items`,
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  for (const url of Object.values(targets)) {
    for (let i = 0; ; i++) {
      const ok =
        Bun.spawnSync(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url]).stdout.toString() ===
        "200";
      if (ok) break;
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
    const gw = median(rps[`gateway c${connections}`]!);
    const ngx = median(rps[`nginx c${connections}`]!);
    console.log(
      `TLS, ${connections} connections: gateway ${gw.toFixed(0)} req/s, nginx ${ngx.toFixed(0)} req/s, ratio ${(gw / ngx).toFixed(2)}`,
    );
  }
} finally {
  for (const child of children) child.kill();
  await Bun.sleep(500);
  rmSync(work, { recursive: true, force: true });
}
