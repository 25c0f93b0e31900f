/**
 * Shared helpers for the integration tests: temporary providers dirs built from the fixtures in
 * `tests/fixtures/`, a gateway started in-process (port 0) or as a subprocess, bounded polling,
 * and a /proc scan that finds every process a test started (by a random marker in its
 * environment) so a test can prove none outlives the gateway.
 */

import { expect } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { stringify as stringifyYaml } from "yaml";
import { type RunningGateway, startGateway } from "../lib/commands/serve.ts";
import type { Config } from "../lib/config.ts";
import { Logger } from "../lib/logger.ts";
import { type RuntimeAdapter, runtime } from "../lib/runtime/index.ts";
import type { ProviderView } from "../lib/supervisor/status.ts";

export const REPO_ROOT = resolve(import.meta.dir, "..");
export const FIXTURES = join(import.meta.dir, "fixtures");
/** The Bun running the tests; fixtures that need Bun outside the `bun` runtime get it from here. */
export const BUN = process.execPath;
/** The environment variable that carries a test's marker into every provider process. */
export const MARKER_VAR = "GW_TEST_MARKER";
/** Generous bound for anything a slow machine may take a while to do. */
export const WAIT_MS = 20_000;

/** One test's sandbox: a temp dir holding `providers/`, and the marker its processes carry. */
export interface Space {
  root: string;
  providersDir: string;
  marker: string;
}

/** Stops what a test started (gateways, subprocesses), run last-in first-out. */
const stoppers: Array<() => Promise<void> | void> = [];
/** Sandbox directories, removed once every process is gone. */
const sandboxes: string[] = [];
const markers = new Set<string>();

/** Creates a sandbox; {@link cleanup} removes it. */
export function makeSpace(): Space {
  const root = mkdtempSync(join(tmpdir(), "gateway-it-"));
  const providersDir = join(root, "providers");
  mkdirSync(providersDir);
  const marker = `gwtest-${crypto.randomUUID()}`;
  markers.add(marker);
  sandboxes.push(root);
  return { root, providersDir, marker };
}

export interface ProviderFiles {
  /** Files of tests/fixtures/ copied into the provider dir (executable bit kept). */
  fixtures?: string[];
  /** Extra files: relative path → content. */
  files?: Record<string, string>;
}

/**
 * Writes `<providersDir>/<dir>/manifest.yaml` from `manifest` (with the space's marker added to its
 * `env`) and the given files. Returns the provider dir.
 */
export function addProvider(
  space: Space,
  dir: string,
  manifest: Record<string, unknown>,
  content: ProviderFiles = {},
): string {
  const providerDir = join(space.providersDir, dir);
  mkdirSync(providerDir, { recursive: true });
  for (const fixture of content.fixtures ?? []) {
    const target = join(providerDir, basename(fixture));
    copyFileSync(join(FIXTURES, fixture), target);
    if (/\.(sh|py)$/.test(fixture)) chmodSync(target, 0o755);
  }
  for (const [path, text] of Object.entries(content.files ?? {})) {
    const target = join(providerDir, path);
    mkdirSync(resolve(target, ".."), { recursive: true });
    writeFileSync(target, text);
  }
  const env = { ...((manifest.env as Record<string, string> | undefined) ?? {}), [MARKER_VAR]: space.marker };
  writeFileSync(join(providerDir, "manifest.yaml"), stringifyYaml({ ...manifest, env }));
  return providerDir;
}

/** A manifest for the Bun echo fixture (tests/fixtures/echo.ts), merged with `extra`. */
export function echoManifest(code: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    code,
    name: `Echo ${code}`,
    runtime: "bun",
    entry: "./echo.ts",
    health: { path: "/health", interval: "1s", startup_timeout: "20s" },
    stop_timeout: "5s",
    ...extra,
  };
}

/** Adds an echo provider (Bun runtime). */
export function addEchoProvider(space: Space, code: string, extra: Record<string, unknown> = {}): string {
  return addProvider(space, code, echoManifest(code, extra), { fixtures: ["echo.ts"] });
}

/**
 * A provider whose process tree goes two deep: `grandchild.sh` leaves a background child and runs
 * the echo fixture (health `/health`), so stopping it must end the whole process group.
 */
export function addGrandchildProvider(
  space: Space,
  code: string,
  extra: Record<string, unknown> = {},
): string {
  return addProvider(
    space,
    code,
    {
      code,
      runtime: "exec",
      binary: "./grandchild.sh",
      env: { FIXTURE_BUN: BUN },
      health: { path: "/health" },
      ...extra,
    },
    { fixtures: ["grandchild.sh", "echo.ts"] },
  );
}

// ---------------------------------------------------------------------------------------------
// Waiting

/**
 * Calls `probe` every `intervalMs` until it returns something other than `undefined`, `null` or
 * `false`, and returns that. Throws after `timeoutMs`, saying what was awaited and what was last seen.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs ?? WAIT_MS} ms waiting for ${what}; last: ${inspect(last)}`,
      );
    }
    await Bun.sleep(options.intervalMs ?? 50);
  }
}

function inspect(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** `fetch` with a timeout, the body read as text and parsed as JSON when it is JSON. */
export async function request<T = unknown>(url: string, init: RequestInit = {}): Promise<JsonResponse<T>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: "manual", ...init });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: body as T, text };
}

export async function getProviders(url: string): Promise<ProviderView[]> {
  const { status, body } = await request<{ providers: ProviderView[] }>(`${url}/_gateway/providers`);
  if (status !== 200) throw new Error(`GET /_gateway/providers answered ${status}`);
  return body.providers;
}

export async function getProvider(url: string, code: string): Promise<ProviderView> {
  const { status, body, text } = await request<ProviderView>(`${url}/_gateway/providers/${code}`);
  if (status !== 200) throw new Error(`GET /_gateway/providers/${code} answered ${status}: ${text}`);
  return body;
}

/** Waits until `upstream` (`http://host:port`) refuses connections: the provider behind it is gone. */
export async function waitForRefused(upstream: string): Promise<void> {
  await waitFor(`${upstream} to refuse connections`, async () => {
    try {
      await fetch(`${upstream}/health`, { signal: AbortSignal.timeout(2000) });
      return false;
    } catch {
      return true;
    }
  });
}

/** Waits until provider `code` has one of `statuses`; returns its view. */
export function waitForStatus(
  url: string,
  code: string,
  statuses: string | string[],
  timeoutMs = WAIT_MS,
): Promise<ProviderView> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(
    `provider "${code}" to be ${wanted.join(" or ")}`,
    async () => {
      const view = await getProvider(url, code);
      if (wanted.includes(view.status)) return view;
      throw new Error(`status ${view.status}, last_error ${view.last_error}`);
    },
    { timeoutMs },
  );
}

/** Sends a raw HTTP/1.1 request line (no client-side normalization) and returns the status code. */
export async function rawStatus(url: string, target: string): Promise<{ status: number; response: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise, reject) => {
    let data = "";
    const timer = setTimeout(() => reject(new Error(`no answer to GET ${target}`)), 10_000);
    void Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open(socket) {
          socket.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`);
        },
        data(_socket, chunk) {
          data += chunk.toString();
        },
        close() {
          clearTimeout(timer);
          const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
          resolvePromise({ status, response: data });
        },
        error(_socket, error) {
          clearTimeout(timer);
          reject(error);
        },
      },
    }).catch(reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface ProcessInfo {
  pid: number;
  state: string;
  cmdline: string;
  /** CORE_PROVIDER_NAME from its environment: which provider it belongs to. */
  provider?: string;
}

/**
 * Every live (non-zombie) process whose environment or command line holds `marker`; with
 * `provider`, only those of that provider.
 */
export function markedProcesses(marker: string, provider?: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      if (!environ.includes(`${MARKER_VAR}=${marker}`) && !cmdline.includes(marker)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      // The state follows the parenthesised command name, which may itself hold ") ".
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state === "Z" || state === "X") continue;
      const provider = /(?:^|\0)CORE_PROVIDER_NAME=([^\0]*)/.exec(environ)?.[1];
      found.push({ pid, state, cmdline: cmdline.replaceAll("\0", " ").trim(), provider });
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return provider === undefined ? found : found.filter((info) => info.provider === provider);
}

/** Whether `pid` is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/**
 * Waits (bounded) until no process carries `marker`; returns the ones still there when the time
 * ran out, so a test can `expect(...).toEqual([])` and see who survived.
 */
export async function leftoverProcesses(marker: string, timeoutMs = 5_000): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = markedProcesses(marker);
    if (found.length === 0 || Date.now() > deadline) return found;
    await Bun.sleep(50);
  }
}

function killMarked(marker: string): void {
  for (const { pid } of markedProcesses(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Gateways

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
    externalAllow: [],
    watch: false,
    ...overrides,
  };
}

/** Starts a gateway in this process on an ephemeral port; {@link cleanup} shuts it down. */
export async function startInProcess(
  space: Space,
  overrides: Partial<Config> = {},
  adapter: RuntimeAdapter = runtime,
): Promise<TestGateway> {
  const logs: string[] = [];
  const config = testConfig(space, overrides);
  const logger = new Logger({ level: "debug", format: "json", write: (line) => logs.push(line) });
  const running = await startGateway(config, adapter, { version: "0.0.0-test", logger });
  stoppers.push(() => running.shutdown());
  return { ...running, url: running.gateway.url, logs };
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

/** The command that runs the gateway from source. */
export const SOURCE_GATEWAY = [BUN, join(REPO_ROOT, "main.ts")];

/**
 * Runs the gateway as a subprocess (`cmd` then `args`) and waits for it to say where it listens:
 * the `gateway listening on URL` line on stdout, or with `urlFrom: "json"` the JSON log record
 * `{"msg":"listening","url":…}`. {@link cleanup} stops it if it is still running (SIGTERM, then
 * SIGKILL after 20 s).
 */
export async function spawnGateway(
  args: string[],
  options: { cmd?: string[]; env?: Record<string, string>; urlFrom?: "line" | "json" } = {},
): Promise<GatewayProcess> {
  const proc = Bun.spawn({
    cmd: [...(options.cmd ?? SOURCE_GATEWAY), ...args],
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  stoppers.push(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    // As an operator would: SIGTERM, so it stops its providers; SIGKILL only if it hangs.
    proc.kill("SIGTERM");
    if ((await Promise.race([proc.exited, Bun.sleep(20_000).then(() => "hung")])) === "hung") {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
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
  return /^gateway listening on (http:\/\/\S+)$/m.exec(text)?.[1];
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

/** Runs a CLI command to completion (bounded) and returns its exit code and output. */
export async function runCli(
  args: string[],
  options: { cmd?: string[]; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn({
    cmd: [...(options.cmd ?? SOURCE_GATEWAY), ...args],
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function collect(stream: ReadableStream<Uint8Array>): { text: () => string } {
  let text = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return { text: () => text };
}

// ---------------------------------------------------------------------------------------------
// Cleanup

/**
 * Stops every gateway and subprocess the helpers started, then checks that no process of any
 * sandbox survived: returns the leftovers (after SIGKILLing them) and removes the sandboxes.
 * Call it from `afterEach` and assert the result is empty.
 */
export async function cleanup(): Promise<ProcessInfo[]> {
  for (const stop of stoppers.splice(0).reverse()) {
    // Bounded: a gateway that cannot stop must not hang the suite; the leftover check reports it.
    await Promise.race([Promise.resolve(stop()).catch(() => {}), Bun.sleep(30_000)]);
  }
  const leftovers: ProcessInfo[] = [];
  for (const marker of markers) {
    const found = await leftoverProcesses(marker);
    leftovers.push(...found);
    killMarked(marker);
  }
  markers.clear();
  for (const root of sandboxes.splice(0)) rmSync(root, { recursive: true, force: true });
  return leftovers;
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over TCP (node:net): exact bytes out, raw bytes in, no client-side normalization

/** One response as read off the wire. */
export interface WireResponse {
  status: number;
  reason: string;
  /** Header fields in order, names lower-cased. */
  headers: Array<[string, string]>;
  /** The head as received (up to and including the blank line). */
  head: string;
  /** The body bytes, chunked framing removed. */
  body: Buffer;
  /** The body bytes as received (chunked framing included). */
  rawBody: Buffer;
  /** The value of header `name` (first one), lower-cased name. */
  header(name: string): string | undefined;
  /** Every value of header `name`. */
  all(name: string): string[];
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

/**
 * A client connection that writes exactly the bytes it is given and parses responses itself, so
 * tests can send what a normalizing client (fetch, curl) never would.
 */
export class WireClient {
  #chunks: Buffer[] = [];
  #wake: (() => void) | null = null;
  closed = false;
  /** The socket error that ended the connection, if any (a reset shows up here). */
  error: Error | null = null;

  private constructor(readonly socket: import("node:net").Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#notify();
    });
    socket.on("error", (error) => {
      this.error = error;
    });
    socket.on("close", () => {
      this.closed = true;
      this.#notify();
    });
  }

  /** Connects to the host and port of `url`. */
  static async connect(url: string): Promise<WireClient> {
    const { createConnection } = await import("node:net");
    const { hostname, port } = new URL(url);
    return new Promise((resolvePromise, reject) => {
      const socket = createConnection({ host: hostname, port: Number(port) });
      socket.once("connect", () => resolvePromise(new WireClient(socket)));
      socket.once("error", reject);
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Bytes received and not yet consumed. */
  get buffered(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** Drops the first `n` received bytes. */
  consume(n: number): void {
    const all = this.buffered;
    this.#chunks = n >= all.length ? [] : [all.subarray(n)];
  }

  /** Writes `data` (a string is sent as latin1: one byte per char) and waits until it is flushed. */
  write(data: string | Buffer): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    return new Promise((resolvePromise, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolvePromise()));
    });
  }

  /** Waits until `ready` holds for the received bytes, or the connection closed, or the time ran out. */
  async waitUntil(what: string, ready: (buffered: Buffer) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready(this.buffered)) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; got ${this.#preview()}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.#preview()}`);
      await new Promise<void>((resolvePromise) => {
        const timer = setTimeout(resolvePromise, Math.min(left, 250));
        this.#wake = () => {
          clearTimeout(timer);
          resolvePromise();
        };
      });
    }
  }

  #preview(): string {
    const text = this.buffered.toString("latin1");
    return JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…(${text.length} bytes)` : text);
  }

  /**
   * Reads one response (an interim 1xx one included). `method` is the request's, so a HEAD
   * response is known to have no body. Throws if the connection closes before it is complete.
   */
  async readResponse(options: { method?: string; timeoutMs?: number } = {}): Promise<WireResponse> {
    let parsed: { response: WireResponse; length: number } | null = null;
    await this.waitUntil(
      "a complete response",
      (buffered) => {
        parsed = parseWireResponse(buffered, options.method ?? "GET", this.closed);
        return parsed !== null;
      },
      options.timeoutMs,
    ).catch((error) => {
      // A body delimited by the connection's end is complete only once it closed.
      parsed = this.closed ? parseWireResponse(this.buffered, options.method ?? "GET", true) : null;
      if (!parsed) throw error;
    });
    const { response, length } = parsed!;
    this.consume(length);
    return response;
  }

  /** Resolves true once the connection is closed (by the peer), false if still open after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await Bun.sleep(20);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Parses one response at the start of `buf`; null while incomplete. */
export function parseWireResponse(
  buf: Buffer,
  method: string,
  closed: boolean,
): { response: WireResponse; length: number } | null {
  const headEnd = buf.indexOf("\r\n\r\n", 0, "latin1");
  if (headEnd === -1) return null;
  const head = buf.toString("latin1", 0, headEnd + 4);
  const lines = head.slice(0, -4).split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
  if (!match) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
  const status = Number(match[1]);
  const headers: Array<[string, string]> = lines.slice(1).map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  const all = (name: string) => headers.filter(([n]) => n === name).map(([, v]) => v);
  const start = headEnd + 4;
  let end: number;
  let body: Buffer;
  const chunked = /chunked/i.test(all("transfer-encoding").join(","));
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
    end = start;
    body = Buffer.alloc(0);
  } else if (chunked) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", at, "latin1");
      if (lineEnd === -1) return null;
      const size = Number.parseInt(buf.toString("latin1", at, lineEnd).split(";")[0]!, 16);
      at = lineEnd + 2;
      if (size === 0) {
        let trailerEnd = -1;
        for (;;) {
          const next = buf.indexOf("\r\n", at, "latin1");
          if (next === -1) return null;
          if (next === at) {
            trailerEnd = next + 2;
            break;
          }
          at = next + 2;
        }
        end = trailerEnd;
        break;
      }
      if (buf.length < at + size + 2) return null;
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (all("content-length").length > 0) {
    const length = Number(all("content-length")[0]);
    if (buf.length < start + length) return null;
    end = start + length;
    body = buf.subarray(start, end);
  } else {
    if (!closed) return null;
    end = buf.length;
    body = buf.subarray(start);
  }
  const rawBody = Buffer.from(buf.subarray(start, end));
  body = Buffer.from(body);
  const response: WireResponse = {
    status,
    reason: match[2] ?? "",
    headers,
    head,
    body,
    rawBody,
    header: (name) => all(name.toLowerCase())[0],
    all: (name) => all(name.toLowerCase()),
    json: <T>() => JSON.parse(body.toString("utf8")) as T,
  };
  return { response, length: end };
}

/**
 * Sends `data` on a fresh connection and reads one response (then closes). For a request that is
 * refused, the connection's end is awaited too, so `closedAfter` says whether the gateway closed it.
 */
export async function wireExchange(
  url: string,
  data: string | Buffer,
  options: { method?: string; timeoutMs?: number } = {},
): Promise<WireResponse & { closedAfter: boolean; client: WireClient }> {
  const client = await WireClient.connect(url);
  try {
    await client.write(data);
    let response = await client.readResponse(options);
    while (response.status < 200 && response.status !== 101) response = await client.readResponse(options);
    const closedAfter = await client.waitClosed(response.header("connection") === "close" ? 5_000 : 0);
    return { ...response, closedAfter, client };
  } finally {
    client.destroy();
  }
}
