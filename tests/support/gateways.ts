/**
 * Gateways for the tests: one started in this process on port 0 ({@link startInProcess}), or the
 * real command line run as a subprocess ({@link spawnGateway}, {@link runCli}); each one started
 * is registered with the sandbox's cleanup, which stops it.
 */
import { expect } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type RunningGateway, startGateway } from "../../lib/commands/serve.ts";
import type { Config } from "../../lib/config.ts";
import { Logger } from "../../lib/logger.ts";
import { type RuntimeAdapter, runtime } from "../../lib/runtime/index.ts";
import { getProvider, request, waitForStatus } from "./http.ts";
import { addEchoProvider } from "./providers.ts";
import { BUN, onCleanup, REPO_ROOT, type Space } from "./sandbox.ts";
import { exitCode, WAIT_MS, waitFor } from "./wait.ts";

export interface TestGateway extends RunningGateway {
  url: string;
  /** Every log line the gateway wrote (JSON records). */
  logs: string[];
}

/** A gateway config for a space: loopback, port 0, its own registry file. */
export function testConfig(space: Space, overrides: Partial<Config> = {}): Config {
  return {
    providersDir: space.providersDir,
    host: "127.0.0.1",
    port: 0,
    registryFile: join(space.providersDir, "registry.yaml"),
    logFormat: "json",
    logLevel: "debug",
    maxHeaderSize: 64 * 1024,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 75_000,
    metrics: true,
    accessLog: false,
    externalAllow: [],
    watch: false,
    ...overrides,
  };
}

/** Starts a gateway in this process on an ephemeral port; `cleanup` shuts it down. */
export async function startInProcess(
  space: Space,
  overrides: Partial<Config> = {},
  adapter: RuntimeAdapter = runtime,
): Promise<TestGateway> {
  const logs: string[] = [];
  const config = testConfig(space, overrides);
  const logger = new Logger({ level: "debug", format: "json", write: (line) => logs.push(line) });
  const running = await startGateway(config, adapter, { version: "0.0.0-test", logger });
  onCleanup(() => running.shutdown());
  return { ...running, url: running.gateway.url, logs };
}

/** A gateway as the black-box tests see it: its URL, what it logged, and a way to stop it as SIGTERM does. */
export interface BlackBoxGateway {
  url: string;
  /** Every log line the gateway wrote so far (JSON records). */
  readonly logs: string[];
  /** Stops it gracefully (its providers too) and waits until it has. */
  shutdown(): Promise<unknown>;
}

/** The settings the black-box tests change, as `serve` flags. */
type BlackBoxSettings = Partial<Pick<Config, "adminToken" | "host" | "maxBodySize" | "watch">>;

function blackBoxArgs(space: Space, settings: BlackBoxSettings): string[] {
  const config = testConfig(space, settings);
  return [
    ...serveArgs(space, "--host", config.host, "--log-format", "json", "--log-level", "debug"),
    ...["--registry", config.registryFile, "--max-header-size", String(config.maxHeaderSize)],
    ...["--header-timeout", `${config.headerTimeoutMs}ms`, "--idle-timeout", `${config.idleTimeoutMs}ms`],
    ...(config.watch ? [] : ["--no-watch"]),
    ...(config.adminToken ? ["--admin-token", config.adminToken] : []),
    ...(config.maxBodySize === undefined ? [] : ["--max-body-size", String(config.maxBodySize)]),
  ];
}

/**
 * Starts the gateway under test for a black-box test, which talks to it only over HTTP, sockets
 * and signals. `GATEWAY_UNDER_TEST` chooses it: unset, one in this process (fast); `deno`,
 * `deno run main.ts` as a subprocess; `binary`, the compiled `./gateway`. `.ci/run` runs these
 * tests the first way and the second.
 */
export async function startUnderTest(
  space: Space,
  settings: BlackBoxSettings = {},
): Promise<BlackBoxGateway> {
  const under = process.env.GATEWAY_UNDER_TEST;
  if (!under) return startInProcess(space, settings);
  if (under !== "deno" && under !== "binary")
    throw new Error(`GATEWAY_UNDER_TEST=${under}: use deno or binary, or leave it unset`);
  const cmd = under === "deno" ? DENO_GATEWAY : [join(REPO_ROOT, "gateway")];
  const gw = await spawnGateway(blackBoxArgs(space, settings), { cmd, urlFrom: "json" });
  return {
    url: gw.url,
    get logs() {
      return `${gw.stdout()}${gw.stderr()}`.split("\n").filter((line) => line.startsWith("{"));
    },
    async shutdown() {
      gw.proc.kill("SIGTERM");
      return gw.exited;
    },
  };
}

/** Starts the gateway under test with an extra echo provider, "sibling", and waits until it is ready. */
export async function startUnderTestWithSibling(space: Space): Promise<BlackBoxGateway> {
  addEchoProvider(space, "sibling");
  const gw = await startUnderTest(space);
  await waitForStatus(gw.url, "sibling", "ready");
  return gw;
}

/** Starts a gateway in this process with an extra echo provider, "sibling", and waits until it is ready. */
export async function startWithSibling(space: Space): Promise<TestGateway> {
  addEchoProvider(space, "sibling");
  const gw = await startInProcess(space);
  await waitForStatus(gw.url, "sibling", "ready");
  return gw;
}

/**
 * The sibling of {@link startWithSibling} still answers through the gateway and is ready. With
 * `readyz`, /readyz says so too: 200 for "all ready", else 503 naming only the provider it blames.
 */
export async function expectSiblingServes(
  gw: { url: string },
  readyz?: "all ready" | { blames: string },
): Promise<void> {
  const through = await request<{ provider: string }>(`${gw.url}/api/v1/sibling/items`);
  expect(through.status).toBe(200);
  expect(through.body.provider).toBe("sibling");
  expect((await getProvider(gw.url, "sibling")).status).toBe("ready");
  if (readyz === undefined) return;
  const answer = await request<{ waiting?: Array<{ code: string }> }>(`${gw.url}/readyz`);
  if (readyz === "all ready") expect(answer.status).toBe(200);
  else {
    expect(answer.status).toBe(503);
    expect(answer.body.waiting!.map((w) => w.code)).toEqual([readyz.blames]);
  }
}

export interface GatewayProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<number>;
}

/** The command that runs `main.ts` under the Deno that npm installed (a dev dependency). */
export const DENO_GATEWAY = [
  join(REPO_ROOT, "node_modules", ".bin", "deno"),
  "run",
  "--allow-all",
  "--unstable-no-legacy-abort",
  "--unstable-net",
  join(REPO_ROOT, "main.ts"),
];

/**
 * The command that runs the gateway from source: under Bun, or under Deno with
 * `GATEWAY_UNDER_TEST=deno`, or the compiled binary with `GATEWAY_UNDER_TEST=binary` (the one switch
 * for running the black-box tests another way; see {@link startUnderTest}).
 */
export const SOURCE_GATEWAY =
  process.env.GATEWAY_UNDER_TEST === "deno"
    ? DENO_GATEWAY
    : process.env.GATEWAY_UNDER_TEST === "binary"
      ? [join(REPO_ROOT, "gateway")]
      : [BUN, join(REPO_ROOT, "main.ts")];

/** The arguments of `serve` for a space, on port 0, then `more`. */
export function serveArgs(space: Space, ...more: string[]): string[] {
  return ["--providers-dir", space.providersDir, "--port", "0", ...more];
}

/** Runs `cmd` then `args` from the repository root (or `cwd`), stdout and stderr piped. */
function spawnCommand(
  args: string[],
  options: { cmd?: string[]; env?: Record<string, string>; cwd?: string },
) {
  return Bun.spawn({
    cmd: [...(options.cmd ?? SOURCE_GATEWAY), ...args],
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

/**
 * Runs the gateway as a subprocess (`cmd` then `args`) and waits for it to say where it listens:
 * the `gateway listening on URL` line on stdout, or with `urlFrom: "json"` the JSON log record
 * `{"msg":"listening","url":…}`. `cleanup` stops it if it is still running (SIGTERM, then
 * SIGKILL after 20 s).
 */
export async function spawnGateway(
  args: string[],
  options: { cmd?: string[]; env?: Record<string, string>; urlFrom?: "line" | "json"; cwd?: string } = {},
): Promise<GatewayProcess> {
  const proc = spawnCommand(args, options);
  onCleanup(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    // As an operator would: SIGTERM, so it stops its providers; SIGKILL only if it hangs.
    proc.kill("SIGTERM");
    if ((await exitCode(proc, 20_000)) === "still running") {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
  const out = collectText(proc.stdout);
  const err = collectText(proc.stderr);
  const exited = proc.exited;
  const url = await waitFor(
    "the gateway's listening line",
    () => {
      const url =
        options.urlFrom === "json"
          ? listeningRecordUrl(out.text() + err.text())
          : listeningLineUrl(out.text());
      if (url) return url;
      if (proc.exitCode !== null)
        throw new Error(`gateway exited with ${proc.exitCode}: ${err.text()} ${out.text()}`);
      return undefined;
    },
    { timeoutMs: WAIT_MS },
  );
  return { proc, url, stdout: out.text, stderr: err.text, exited };
}

function listeningLineUrl(text: string): string | undefined {
  return /^gateway listening on (https?:\/\/\S+)$/m.exec(text)?.[1];
}

function listeningRecordUrl(text: string): string | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const record = JSON.parse(line) as { msg?: string; url?: string };
      if (record.msg === "listening" && record.url) return record.url;
    } catch {
      // a line cut in the middle: read it again next time
    }
  }
  return undefined;
}

/** Runs a CLI command to completion (SIGKILLed after `timeoutMs`, default 60 s); its exit code and output. */
export async function runCli(
  args: string[],
  options: { cmd?: string[]; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawnCommand(args, options);
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Reads `stream` to its end in the background; `text()` is what arrived so far. */
export function collectText(stream: ReadableStream<Uint8Array>): { text: () => string } {
  let text = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return { text: () => text };
}

/** Whether the compiled binary at `path` exists and is newer than every source it is built from. */
export function isFreshBuild(path: string): boolean {
  if (!existsSync(path)) return false;
  const built = statSync(path).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
        const full = join(dir, entry.name);
        return entry.isDirectory() ? newest(full) : statSync(full).mtimeMs;
      }),
    );
  const sources = Math.max(
    statSync(join(REPO_ROOT, "main.ts")).mtimeMs,
    statSync(join(REPO_ROOT, "package.json")).mtimeMs,
    newest(join(REPO_ROOT, "lib")),
    newest(join(REPO_ROOT, "routes")),
  );
  return built >= sources;
}
