/**
 * External agents for the tests: the echo fixture run by the test itself (not by the gateway) on a
 * port of its own, as an agent on another machine would be, and the admin calls that create an
 * external provider for it.
 */
import { join } from "node:path";
import { runtime } from "../../lib/runtime/index.ts";
import { MARKER_VAR } from "./procs.ts";
import { BUN, FIXTURES, onCleanup, type Space } from "./sandbox.ts";
import { waitFor } from "./wait.ts";

export interface Agent {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the echo fixture as an agent on 127.0.0.1 (or `port`); `env` adds to its environment. */
export async function startAgent(
  space: Space,
  options: { port?: number; env?: Record<string, string>; name?: string } = {},
): Promise<Agent> {
  const port = options.port ?? runtime.freePort();
  const proc = Bun.spawn([BUN, join(FIXTURES, "echo.ts")], {
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
