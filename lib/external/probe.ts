import type { AgentAddress } from "./addresses.ts";

// node:http, node:https, node:net and node:tls are loaded on the first probe, not with the
// gateway: together they cost every start 2.3 ms (measured), and most gateways have no agent.

/**
 * Whether an agent answers, at its pinned address: its health path, when one was given, must
 * answer 2xx (no redirect is followed); else a TCP connection (http) or a TLS handshake with its
 * host name's certificate checked (https) must succeed. Resolves null when it does, else the
 * reason, in a sentence.
 */
export function probeAgent(
  agent: AgentAddress,
  healthPath: string | undefined,
  timeoutMs: number,
): Promise<string | null> {
  return healthPath ? probeHealth(agent, healthPath, timeoutMs) : probeConnect(agent, timeoutMs);
}

async function probeHealth(
  agent: AgentAddress,
  healthPath: string,
  timeoutMs: number,
): Promise<string | null> {
  const path = `${agent.basePath}${healthPath.startsWith("/") ? healthPath : `/${healthPath}`}`;
  const where = `GET ${agent.url.replace(/^(https?:\/\/[^/]+).*$/, "$1")}${path}`;
  const send = (
    agent.protocol === "https" ? (await import("node:https")).request : (await import("node:http")).request
  ) as typeof import("node:https").request;
  return new Promise((resolve) => {
    const request = send(
      {
        host: agent.host,
        port: agent.port,
        path,
        method: "GET",
        servername: agent.host,
        // Connect to the address that was checked, never to a fresh lookup of the name.
        lookup: ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
          const family = agent.address.includes(":") ? 6 : 4;
          if (options?.all) callback(null, [{ address: agent.address, family }]);
          else callback(null, agent.address, family);
        }) as never,
        timeout: timeoutMs,
        headers: { "user-agent": "gateway-probe", accept: "*/*" },
      },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        resolve(status >= 200 && status < 300 ? null : `${where} answered ${status}`);
      },
    );
    request.on("timeout", () => {
      request.destroy();
      resolve(`${where} did not answer within ${timeoutMs} ms`);
    });
    request.on("error", (error) => resolve(`${where} failed: ${error.message}`));
    request.end();
  });
}

async function probeConnect(agent: AgentAddress, timeoutMs: number): Promise<string | null> {
  const https = agent.protocol === "https";
  const where = `${https ? "A TLS handshake with" : "A TCP connection to"} ${agent.host}:${agent.port} (${agent.address})`;
  const target = { host: agent.address, port: agent.port };
  // Listeners are added below in the same turn, before the socket can report anything.
  const socket = https
    ? (await import("node:tls")).connect({ ...target, servername: agent.host })
    : (await import("node:net")).connect(target);
  return new Promise((resolve) => {
    const done = (reason: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    socket.once(https ? "secureConnect" : "connect", () => done(null));
    const timer = setTimeout(() => done(`${where} did not complete within ${timeoutMs} ms`), timeoutMs);
    socket.on("error", (error) => done(`${where} failed: ${error.message}`));
  });
}
