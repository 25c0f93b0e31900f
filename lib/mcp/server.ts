/**
 * The gateway as an MCP server (contract §7): one tool per operation of every ready provider
 * (./catalogue.ts), the tools `gateway_search`, `gateway_describe` and `gateway_call` over the
 * same catalogue (for clients that never refresh their list, or when it is too long to list),
 * the gateway's own tools, and the OpenAPI documents as resources. One hub keeps the catalogue,
 * shared by every session's server (stdio has one; `/mcp` one per session); everything goes
 * through the gateway's own HTTP listener, so tool calls follow the proxy's and admin API's rules.
 */
import { Server } from "@modelcontextprotocol/sdk/server";
// Deno takes the types from here: the SDK's "./*" export maps them to "*.js.d.ts", which only tsc fixes up.
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Logger } from "../logger.ts";
import { callOperation, ResponseStore } from "./call.ts";
import {
  buildTools,
  checkArguments,
  type OperationTool,
  publicTool,
  type Skipped,
  searchTools,
} from "./catalogue.ts";

/** Past this many operation tools, only the gateway's tools are listed (search, describe and call reach the rest). */
export const TOOL_BUDGET = 100;
const LIST_CHANGED_DEBOUNCE_MS = 300;

/** What the hub needs of the gateway it serves. */
export interface GatewayLink {
  /** The gateway's base URL (its listener). */
  readonly url: string;
  /** Calls `listener` whenever the merged document may have changed; returns the unsubscribe function. */
  onDocumentChange(listener: () => void): () => void;
}

export interface HubOptions {
  /**
   * The gateway, once it listens. `gateway mcp` makes the hub before that, so `initialize` is
   * answered at once; a request that needs the gateway waits for it.
   */
  gateway: Promise<GatewayLink>;
  /** Sent to the admin API by the gateway tools (the gateway's own --admin-token). */
  adminToken?: string;
  version: string;
  logger: Logger;
}

type Json = Record<string, unknown>;

const Code = z.strictObject({ code: z.string().describe("The provider's code") });
const GATEWAY_TOOLS = {
  gateway_search: {
    description: "Find provider operations by words, provider, method or path; answers their tool names",
    schema: z.strictObject({
      query: z.string().describe("Words to look for, such as 'list orders' or 'POST /items'"),
      provider: z.string().optional().describe("Only this provider's operations"),
    }),
    readOnly: true,
  },
  gateway_describe: {
    description: "The full input schema and description of one operation tool, by name",
    schema: z.strictObject({
      name: z.string().describe("An operation tool's name, as gateway_search answers"),
    }),
    readOnly: true,
  },
  gateway_call: {
    description: "Call any provider operation by its tool name, with the arguments that tool takes",
    schema: z.strictObject({
      name: z.string().describe("An operation tool's name"),
      arguments: z.record(z.string(), z.unknown()).default({}).describe("What that tool takes"),
    }),
    readOnly: false,
  },
  gateway_providers: {
    description: "Every provider: code, status, namespace, runtime, last error",
    schema: z.strictObject({}),
    readOnly: true,
  },
  gateway_provider: { description: "One provider, by code", schema: Code, readOnly: true },
  gateway_start: {
    description: "Start a provider (the admin API's rules: 501 for one the gateway does not run)",
    schema: Code,
    readOnly: false,
  },
  gateway_stop: { description: "Stop a provider", schema: Code, readOnly: false },
  gateway_restart: {
    description: "Restart a provider: requests wait for its new process",
    schema: Code,
    readOnly: false,
  },
  gateway_logs: {
    description: "A provider's latest output lines",
    schema: Code.extend({
      tail: z.number().int().min(1).max(10_000).optional().describe("How many lines (100)"),
    }),
    readOnly: true,
  },
} as const;
type GatewayToolName = keyof typeof GATEWAY_TOOLS;

function gatewayToolList(): Json[] {
  return Object.entries(GATEWAY_TOOLS).map(([name, tool]) => {
    const { $schema: _, ...inputSchema } = z.toJSONSchema(tool.schema, { io: "input" }) as Json;
    return {
      name,
      description: tool.description,
      inputSchema,
      annotations: {
        readOnlyHint: tool.readOnly,
        destructiveHint: name === "gateway_stop",
        openWorldHint: false,
      },
    };
  });
}

export class McpHub {
  readonly #options: HubOptions;
  readonly #responses = new ResponseStore();
  readonly #servers = new Set<Server>();
  #document: { etag: string; value: Json } | undefined;
  #tools: OperationTool[] = [];
  #skipped: Skipped[] = [];
  /** The operation tools' names as last listed or announced: a change of them is announced. */
  #names: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe = () => {};
  #closed = false;
  /** Whether the document may have changed since it was fetched (else a call skips the 304 round trip). */
  #stale = true;

  constructor(options: HubOptions) {
    this.#options = options;
    void options.gateway.then((gateway) => {
      if (!this.#closed) {
        this.#unsubscribe = gateway.onDocumentChange(() => {
          this.#stale = true;
          this.#soon();
        });
      }
    });
  }

  /** Stops following the gateway. */
  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#timer);
  }

  /**
   * Every operation tool now (the merged document fetched anew when it changed), ready or not:
   * a call to one whose provider is restarting waits for it.
   */
  async tools(): Promise<OperationTool[]> {
    await this.#refresh();
    return this.#tools;
  }

  /** The operation tools of the providers that are ready now: the ones listed and searched. */
  async listed(): Promise<OperationTool[]> {
    return (await this.tools()).filter((tool) => tool.ready);
  }

  /** Operations left out of the tool list, and why. */
  get skipped(): readonly Skipped[] {
    return this.#skipped;
  }

  /** A new MCP server over this hub's catalogue (one per session). */
  server(): Server {
    const server = new Server(
      { name: "gateway", version: this.#options.version },
      {
        capabilities: { tools: { listChanged: true }, resources: {} },
        instructions:
          "Every provider of this gateway is reachable here: each operation is a tool (its _meta names provider, method and path). When the list is long, use gateway_search to find an operation, gateway_describe for its arguments, and gateway_call to call it.",
      },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => {
      const tools = await this.listed();
      this.#names ??= tools.map((t) => t.name).join(",");
      const listed = tools.length > TOOL_BUDGET ? [] : tools.map(publicTool);
      return { tools: [...listed, ...gatewayToolList()] } as never;
    });
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name } = request.params;
      const args = (request.params.arguments ?? {}) as Json;
      const progressToken = request.params._meta?.progressToken;
      const onWait = (attempt: number, detail: string) => {
        if (progressToken === undefined) return;
        void extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken, progress: attempt, message: `waiting: ${detail}` },
        });
      };
      return (await this.#call(name, args, extra.signal, onWait)) as never;
    });
    server.setRequestHandler(ListResourcesRequestSchema, async () => {
      await this.#refresh();
      const providers = Object.keys((this.#document?.value["x-gateway"] as Json | undefined) ?? {}).sort();
      return {
        resources: [
          { uri: "openapi://gateway", name: "The merged OpenAPI document", mimeType: "application/json" },
          {
            uri: "gateway://providers",
            name: "The providers and their status",
            mimeType: "application/json",
          },
          {
            uri: "gateway://skipped",
            name: "Operations that are not tools, and why",
            mimeType: "application/json",
          },
          ...providers.map((code) => ({
            uri: `openapi://${code}`,
            name: `The OpenAPI document of provider ${code}`,
            mimeType: "application/json",
          })),
        ],
      };
    });
    server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
      const { uri } = request.params;
      const stored = this.#responses.get(uri);
      if (stored) return { contents: [{ uri, mimeType: stored.mimeType, text: stored.text }] };
      if (uri === "gateway://skipped") {
        await this.#refresh();
        return {
          contents: [
            { uri, mimeType: "application/json", text: JSON.stringify({ skipped: this.#skipped }, null, 2) },
          ],
        };
      }
      let path: string | undefined;
      if (uri === "openapi://gateway") path = "/openapi.json";
      else if (uri === "gateway://providers") path = "/_gateway/providers";
      else if (/^openapi:\/\/[a-z0-9][a-z0-9-]{0,62}$/.test(uri))
        path = `/_gateway/providers/${uri.slice(10)}/openapi.json`;
      if (!path) throw new Error(`No resource ${uri}; resources/list names them`);
      const response = await fetch(`${await this.#base()}${path}`);
      const text = await response.text();
      if (!response.ok) throw new Error(`${uri}: HTTP ${response.status} ${text.slice(0, 300)}`);
      return { contents: [{ uri, mimeType: "application/json", text }] };
    });
    this.#servers.add(server);
    server.onclose = () => this.#servers.delete(server);
    return server;
  }

  async #call(
    name: string,
    args: Json,
    signal: AbortSignal,
    onWait: (attempt: number, detail: string) => void,
  ): Promise<CallToolResult> {
    if (name in GATEWAY_TOOLS) return this.#gatewayTool(name as GatewayToolName, args, signal, onWait);
    const tool = (await this.tools()).find((t) => t.name === name);
    if (!tool)
      return failure(`No tool "${name}": gateway_search finds operations, and tools/list names the tools`);
    return this.#callOperation(tool, args, signal, onWait);
  }

  async #callOperation(
    tool: OperationTool,
    args: Json,
    signal: AbortSignal,
    onWait: (attempt: number, detail: string) => void,
  ): Promise<CallToolResult> {
    const wrong = checkArguments(tool, args);
    if (wrong) return failure(`Invalid arguments for ${tool.name}: ${wrong}`);
    return callOperation(tool, args, {
      gatewayUrl: await this.#base(),
      signal,
      responses: this.#responses,
      onWait,
    });
  }

  async #gatewayTool(
    name: GatewayToolName,
    raw: Json,
    signal: AbortSignal,
    onWait: (attempt: number, detail: string) => void,
  ): Promise<CallToolResult> {
    const parsed = GATEWAY_TOOLS[name].schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const keys = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : "";
      return failure(
        `Invalid arguments for ${name}: ${keys ? `unknown argument ${keys}` : `${issue.path.join(".") || "arguments"}: ${issue.message}`}`,
      );
    }
    const args = parsed.data as Json;
    switch (name) {
      case "gateway_search": {
        const all = searchTools(await this.listed(), String(args.query), args.provider as string | undefined);
        const found = all.slice(0, 20);
        const rows = found.map((t) => ({
          name: t.name,
          provider: t._meta.provider,
          method: t._meta.method,
          path: t._meta.path,
          summary: t.summary,
        }));
        return json({ matches: rows, total: all.length });
      }
      case "gateway_describe": {
        const tool = (await this.tools()).find((t) => t.name === args.name);
        if (!tool) return failure(`No operation tool "${String(args.name)}"; gateway_search finds them`);
        return json(publicTool(tool));
      }
      case "gateway_call": {
        const tool = (await this.tools()).find((t) => t.name === args.name);
        if (!tool) return failure(`No operation tool "${String(args.name)}"; gateway_search finds them`);
        return this.#callOperation(tool, args.arguments as Json, signal, onWait);
      }
      case "gateway_providers":
        return this.#admin("GET", "/_gateway/providers", signal);
      case "gateway_provider":
        return this.#admin("GET", `/_gateway/providers/${encodeURIComponent(String(args.code))}`, signal);
      case "gateway_start":
      case "gateway_stop":
      case "gateway_restart":
        return this.#admin(
          "POST",
          `/_gateway/providers/${encodeURIComponent(String(args.code))}/${name.slice(8)}`,
          signal,
        );
      case "gateway_logs":
        return this.#admin(
          "GET",
          `/_gateway/providers/${encodeURIComponent(String(args.code))}/logs?tail=${args.tail ?? 100}`,
          signal,
        );
    }
  }

  /** A call of the admin API, with its rules and answers (its errors as tool errors). */
  async #admin(method: string, path: string, signal: AbortSignal): Promise<CallToolResult> {
    const headers: Record<string, string> = this.#options.adminToken
      ? { authorization: `Bearer ${this.#options.adminToken}` }
      : {};
    const response = await fetch(`${await this.#base()}${path}`, { method, headers, signal });
    const body = (await response.json().catch(() => ({}))) as Json;
    if (!response.ok)
      return failure(`HTTP ${response.status}: ${String(body.detail ?? response.statusText)}`);
    return json(body);
  }

  async #base(): Promise<string> {
    return (await this.#options.gateway).url;
  }

  /** Fetches the merged document when it changed (by its ETag) and rebuilds the tools. */
  async #refresh(): Promise<void> {
    const base = await this.#base();
    if (!this.#stale && this.#document) return;
    // Cleared before the fetch: a change while it is under way makes the next call fetch again.
    this.#stale = false;
    const headers: Record<string, string> = this.#document ? { "if-none-match": this.#document.etag } : {};
    let response: Response;
    try {
      response = await fetch(`${base}/openapi.json`, { headers });
    } catch (error) {
      this.#stale = true;
      throw error;
    }
    if (response.status === 304 && this.#document) return;
    const value = (await response.json()) as Json;
    this.#document = { etag: response.headers.get("etag") ?? "", value };
    const providers = (await (await fetch(`${base}/_gateway/providers`)).json()) as {
      providers: Array<{ code: string; runtime: string | null }>;
    };
    const external = new Set(providers.providers.filter((p) => p.runtime === "external").map((p) => p.code));
    const { tools, skipped } = buildTools(value, external);
    for (const s of skipped.filter(
      (s) => !this.#skipped.some((t) => t.path === s.path && t.method === s.method),
    )) {
      this.#options.logger.warn(
        `MCP: ${s.method} ${s.path} of provider "${s.provider}" is not a tool: ${s.reason}`,
        { provider: s.provider },
      );
    }
    this.#tools = tools;
    this.#skipped = skipped;
  }

  /** After a burst of status changes: if the tools' names changed, every session is told. */
  #soon(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      try {
        const names = (await this.listed()).map((t) => t.name).join(",");
        if (names === this.#names) return;
        this.#names = names;
        for (const server of this.#servers) void server.sendToolListChanged().catch(() => {});
      } catch (error) {
        this.#options.logger.warn(`MCP: cannot read the tool list: ${(error as Error).message}`);
      }
    }, LIST_CHANGED_DEBOUNCE_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }
}

function failure(message: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text: message }] };
}

function json(value: Json): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }], structuredContent: value };
}
