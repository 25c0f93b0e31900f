/**
 * External agents for the tests: the echo fixture run by the test itself (not by the gateway) on a
 * port of its own, as an agent on another machine would be, and the admin calls that create an
 * external provider for it.
 */
import { join } from "node:path";
import { runtime } from "../../lib/runtime/index.ts";
import { SOURCE_GATEWAY } from "./gateways.ts";
import { MARKER_VAR } from "./procs.ts";
import { BUN, FIXTURES, onCleanup, type Space } from "./sandbox.ts";
import { waitFor } from "./wait.ts";

export interface Agent {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the echo fixture (or `fixture`, a file of tests/fixtures/ with a /health route) as an
 * agent on 127.0.0.1 (or `port`); `env` adds to its environment.
 */
export async function startAgent(
  space: Space,
  options: { port?: number; env?: Record<string, string>; name?: string; fixture?: string } = {},
): Promise<Agent> {
  const port = options.port ?? runtime.freePort();
  const proc = Bun.spawn([BUN, join(FIXTURES, options.fixture ?? "echo.ts")], {
    env: {
      ...process.env,
      PORT: String(port),
      CORE_PROVIDER_NAME: options.name ?? "agent",
      [MARKER_VAR]: space.marker,
      ...options.env,
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await proc.exited;
  };
  onCleanup(stop);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`the agent on ${url}`, async () => {
    try {
      return (await fetch(`${url}/health`)).status === 200;
    } catch {
      return false;
    }
  });
  return { url, port, pid: proc.pid, stop };
}

export interface Created {
  provider: { code: string; status: string; namespace: string };
  connection: {
    provider_code: string;
    gateway_url: string;
    auth_token: string;
    register_endpoint: string;
    heartbeat_endpoint: string;
    tunnel_endpoint: string;
    heartbeat_interval: number;
    curl_register: string;
    agent_command: string;
  };
}

/** `POST /_gateway/providers` as JSON; returns the status and body. */
export async function createExternal(
  gatewayUrl: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Created & { detail?: string } }> {
  const response = await fetch(`${gatewayUrl}/_gateway/providers`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Created & { detail?: string } };
}

/** A POST with a provider token (register, heartbeat), the body as JSON when given. */
export async function agentCall(
  url: string,
  token: string | undefined,
  body?: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export interface TunnelAgentProcess {
  pid: number;
  /** What it logged so far. */
  log(): string;
  exited: Promise<number>;
  signal(name: "SIGTERM" | "SIGKILL" | "SIGSTOP" | "SIGCONT"): void;
}

/**
 * Runs `gateway agent` exactly as the connection block's `agent_command` says, with its
 * `--upstream` filled in (the only part an operator edits), from source; SIGKILLed at clean-up.
 */
export function startTunnelAgent(
  space: Space,
  agentCommand: string,
  upstream: string,
  options: { logLevel?: string } = {},
): TunnelAgentProcess {
  const words = [...agentCommand.replace("http://127.0.0.1:PORT", upstream).matchAll(/'([^']*)'|(\S+)/g)].map(
    (m) => m[1] ?? m[2]!,
  );
  if (words[0] !== "gateway" || words[1] !== "agent")
    throw new Error(`Not an agent command: ${agentCommand}`);
  const proc = Bun.spawn(
    // The gateway under test's own runtime (GATEWAY_UNDER_TEST): under Deno, the agent runs on Deno too.
    [...SOURCE_GATEWAY, ...words.slice(1), "--log-level", options.logLevel ?? "debug"],
    {
      env: { ...process.env, [MARKER_VAR]: space.marker },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    },
  );
  let text = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stderr) text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  onCleanup(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
    }
    await proc.exited;
  });
  return {
    pid: proc.pid,
    log: () => text,
    exited: proc.exited,
    signal: (name) => proc.kill(name),
  };
}
