/**
 * `/mcp`: the MCP server over streamable HTTP (contract §7), the same tools as `gateway mcp`.
 * One MCP server per session, all over one shared catalogue (lib/mcp/server.ts); guarded like
 * the mutating admin routes, and refused to a browser page of another origin (DNS rebinding).
 * The SDK and the catalogue load on the first request: a gateway no agent talks to never pays.
 */
import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import type { McpHub } from "../lib/mcp/server.ts";
import { HttpProblem } from "../lib/problem.ts";
import { requireAdmin } from "./auth.ts";
import { readLimited } from "./body.ts";
import type { AppEnv } from "./env.ts";

/** The largest JSON-RPC message (a tool call's arguments may carry a body). */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Sessions kept at once; past this the least recently used one ends. */
const MAX_SESSIONS = 64;

type Transport =
  import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js").WebStandardStreamableHTTPServerTransport;

export function mcpRoutes(gateway: Gateway, options: { version: string }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const sessions = new Map<string, Transport>();
  let loaded: Promise<{ hub: McpHub; Transport: new (o: object) => Transport }> | undefined;
  const load = () => {
    loaded ??= Promise.all([
      import("../lib/mcp/server.ts"),
      import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"),
    ]).then(([{ McpHub }, { WebStandardStreamableHTTPServerTransport }]) => ({
      hub: new McpHub({
        gateway: Promise.resolve(gateway),
        adminToken: gateway.config.adminToken,
        version: options.version,
        logger: gateway.logger,
      }),
      Transport: WebStandardStreamableHTTPServerTransport as never,
    }));
    return loaded;
  };

  app.all("/mcp", requireAdmin(gateway.config), async (c) => {
    const origin = c.req.header("origin");
    if (origin !== undefined && !sameOrigin(origin, c.req.header("host") ?? "")) {
      throw new HttpProblem(403, `/mcp does not answer pages of another origin (${origin.slice(0, 200)})`);
    }
    // A session's event stream, or a long call's, may stay quiet for a while.
    c.env.context.keepOpen();
    const { hub, Transport } = await load();
    // The transport reads the body itself: it gets a copy read within the limit.
    let request = c.req.raw;
    if (request.method === "POST") {
      if (Number(c.req.header("content-length") ?? 0) > MAX_MESSAGE_BYTES) {
        throw new HttpProblem(413, `The body is larger than ${MAX_MESSAGE_BYTES} bytes`);
      }
      const body = await readLimited(request, MAX_MESSAGE_BYTES);
      request = new Request(request.url, { method: "POST", headers: request.headers, body });
    }
    const sessionId = c.req.header("mcp-session-id");
    if (sessionId !== undefined) {
      const transport = sessions.get(sessionId);
      if (!transport) {
        return c.json(
          {
            jsonrpc: "2.0",
            error: {
              code: -32001,
              message: "No such session (it ended or the gateway restarted): initialize again",
            },
            id: null,
          },
          404,
        );
      }
      // Most recently used last, so the first is the one to end when there are too many.
      sessions.delete(sessionId);
      sessions.set(sessionId, transport);
      return transport.handleRequest(request);
    }
    const transport = new Transport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (id: string) => {
        sessions.set(id, transport);
        if (sessions.size > MAX_SESSIONS) void sessions.values().next().value?.close();
      },
      onsessionclosed: (id: string) => void sessions.delete(id),
    });
    const server = hub.server();
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      void server.close().catch(() => {});
    };
    await server.connect(transport);
    const response = await transport.handleRequest(request);
    // Not an initialize (the transport said why): nothing to keep.
    if (!transport.sessionId) void transport.close();
    return response;
  });
  return app;
}

/** Whether `origin` (a browser's Origin header) names the host the request was sent to. */
function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
