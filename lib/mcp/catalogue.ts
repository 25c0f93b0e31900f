/**
 * The MCP tools of the providers: one per operation of every provider with a spec (listed while
 * it is ready; callable while it starts or restarts, so a call then waits instead of failing), read from the live
 * merged OpenAPI document (`/openapi.json`, fetched with its ETag, so an unchanged document costs
 * a 304). Names are stable: the merged operationId made to fit `[a-z][a-z0-9_]`, at most 48
 * characters (room for a client's `mcp__gateway__` prefix within 64); a name that had to be cut,
 * or that two operations would share, ends in a short hash of provider, method and path. Every
 * tool is checked against the SDK's own tool schema before it is listed; an operation that cannot
 * be expressed is left out, and said so (`skipped`).
 */
import { createHash } from "node:crypto";
// Deno takes the types from here: the SDK's "./*" export maps them to "*.js.d.ts", which only tsc fixes up.
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import { ToolSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { type ArgumentPlace, operationInput } from "./schema.ts";

type Json = Record<string, unknown>;

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const MAX_NAME = 48;
const MAX_DESCRIPTION = 1000;

export interface OperationTool {
  name: string;
  description: string;
  inputSchema: Json;
  annotations: {
    title: string;
    readOnlyHint: boolean;
    destructiveHint: boolean;
    idempotentHint: boolean;
    openWorldHint: boolean;
  };
  _meta: { provider: string; method: string; path: string; operationId: string };
  /** Where each argument goes. */
  places: Record<string, ArgumentPlace>;
  bodyType?: string;
  /** One line for search results. */
  summary: string;
  /** Whether its provider is ready now: only then is the tool listed. */
  ready: boolean;
}

export interface Skipped {
  provider: string;
  method: string;
  path: string;
  reason: string;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 6);
}

/** `operationId` made a tool name; `taken` holds the names given so far. */
function toolName(operationId: string, identity: string, taken: Set<string>): string {
  let base = operationId
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!/^[a-z]/.test(base)) base = `op_${base}`;
  let name = base;
  if (name.length > MAX_NAME || taken.has(name))
    name = `${base.slice(0, MAX_NAME - 7).replace(/_+$/, "")}_${shortHash(identity)}`;
  taken.add(name);
  return name;
}

/** The provider whose namespace holds `path` (segment-wise, the longest), if any. */
function owner(path: string, providers: Array<{ code: string; namespace: string }>): string | undefined {
  let best: { code: string; namespace: string } | undefined;
  for (const provider of providers) {
    const ns = provider.namespace;
    if ((path === ns || path.startsWith(`${ns}/`)) && (!best || ns.length > best.namespace.length))
      best = provider;
  }
  return best?.code;
}

/**
 * The operation tools of `document` (the merged OpenAPI document), for all its providers (`ready`
 * says whose are listed; names never depend on it), in
 * a stable order; and what was left out, with the reason.
 */
export function buildTools(
  document: Json,
  externalCodes: ReadonlySet<string> = new Set(),
): { tools: OperationTool[]; skipped: Skipped[] } {
  const summaries = isObject(document["x-gateway"]) ? (document["x-gateway"] as Record<string, Json>) : {};
  const providers = Object.values(summaries)
    .filter((s) => typeof s.code === "string" && typeof s.namespace === "string")
    .map((s) => ({ code: s.code as string, namespace: s.namespace as string, status: s.status as string }));
  const ready = new Set(providers.filter((p) => p.status === "ready").map((p) => p.code));
  const tools: OperationTool[] = [];
  const skipped: Skipped[] = [];
  const taken = new Set<string>();
  const paths = isObject(document.paths) ? document.paths : {};
  // Sorted, so names (and their collision hashes) never depend on the document's order.
  const candidates: Array<{
    provider: string;
    path: string;
    method: string;
    pathItem: Json;
    operation: Json;
  }> = [];
  for (const path of Object.keys(paths).sort()) {
    const pathItem = paths[path];
    const provider = owner(path, providers);
    if (!provider || !isObject(pathItem)) continue;
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (isObject(operation)) candidates.push({ provider, path, method, pathItem, operation });
    }
  }
  candidates.sort((a, b) => {
    const ka = String(a.operation.operationId ?? `${a.method} ${a.path}`);
    const kb = String(b.operation.operationId ?? `${b.method} ${b.path}`);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  for (const { provider, path, method, pathItem, operation } of candidates) {
    const identity = `${provider} ${method.toUpperCase()} ${path}`;
    const operationId =
      typeof operation.operationId === "string" ? operation.operationId : `${provider}_${method}_${path}`;
    try {
      const input = operationInput(pathItem, operation, document);
      const body = isObject(operation.requestBody) ? operation.requestBody : undefined;
      if (body?.required === true && !input.places.body) {
        throw new Error(
          `its request body is required but of no type a tool can send (${Object.keys(isObject(body.content) ? body.content : {}).join(", ") || "none"})`,
        );
      }
      const upper = method.toUpperCase();
      const summary = typeof operation.summary === "string" ? operation.summary : "";
      const text = [summary, typeof operation.description === "string" ? operation.description : ""]
        .filter(Boolean)
        .join("\n\n");
      const description = `${text ? `${text}\n\n` : ""}${upper} ${path} (provider ${provider})`.slice(
        0,
        MAX_DESCRIPTION,
      );
      const readOnly = upper === "GET" || upper === "HEAD" || upper === "OPTIONS";
      const external = externalCodes.has(provider);
      const tool: OperationTool = {
        name: toolName(operationId, identity, taken),
        description,
        inputSchema: input.schema,
        annotations: {
          title: summary || `${upper} ${path}`,
          readOnlyHint: readOnly,
          destructiveHint: upper === "DELETE",
          idempotentHint: readOnly || upper === "PUT" || upper === "DELETE",
          openWorldHint: external,
        },
        _meta: { provider, method: upper, path, operationId },
        places: input.places,
        bodyType: input.bodyType,
        summary: `${upper} ${path}${summary ? `: ${summary}` : ""}`,
        ready: ready.has(provider),
      };
      const checked = ToolSchema.safeParse(publicTool(tool));
      if (!checked.success)
        throw new Error(`it does not pass the MCP tool schema: ${checked.error.issues[0]?.message}`);
      tools.push(tool);
    } catch (error) {
      skipped.push({ provider, method: method.toUpperCase(), path, reason: (error as Error).message });
    }
  }
  return { tools, skipped };
}

/** A tool as `tools/list` shows it (what the SDK's ToolSchema checks). */
export function publicTool(tool: OperationTool): Json {
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: tool.inputSchema,
    annotations: tool.annotations,
    _meta: tool._meta,
  };
}

/** The operations whose name, summary, path or provider match `query`'s words, best first. */
export function searchTools(
  tools: readonly OperationTool[],
  query: string,
  provider?: string,
): OperationTool[] {
  const words = query
    .toLowerCase()
    .split(/[^a-z0-9{}/_-]+/)
    .filter(Boolean);
  const scored = tools
    .filter((tool) => !provider || tool._meta.provider === provider)
    .map((tool) => {
      const haystack =
        `${tool.name} ${tool.summary} ${tool.description} ${tool._meta.provider}`.toLowerCase();
      const method = tool._meta.method.toLowerCase();
      let score = 0;
      for (const word of words) {
        if (word === method) score += 2;
        else if (tool.name.includes(word)) score += 3;
        else if (haystack.includes(word)) score += 1;
      }
      return { tool, score };
    })
    .filter(({ score }) => words.length === 0 || score > 0)
    .sort((a, b) => b.score - a.score || (a.tool.name < b.tool.name ? -1 : 1));
  return scored.map(({ tool }) => tool);
}

const validators = new WeakMap<OperationTool, z.ZodType | null>();

/**
 * Checks `args` against the tool's input schema (zod, from the JSON Schema); returns what is
 * wrong, naming the argument, or null when they pass.
 */
export function checkArguments(tool: OperationTool, args: unknown): string | null {
  let validator = validators.get(tool);
  if (validator === undefined) {
    try {
      validator = z.fromJSONSchema(tool.inputSchema as never);
    } catch {
      validator = null;
    }
    validators.set(tool, validator);
  }
  if (!isObject(args)) return "the arguments must be an object";
  if (validator === null) {
    // A schema zod cannot read: at least the required arguments must be there.
    const missing = ((tool.inputSchema.required as string[] | undefined) ?? []).filter(
      (key) => !(key in args),
    );
    return missing.length > 0 ? `argument "${missing[0]}" is required` : null;
  }
  const result = validator.safeParse(args);
  if (result.success) return null;
  const issue = result.error.issues[0]!;
  const where = issue.path.length > 0 ? `argument "${issue.path.join(".")}"` : "the arguments";
  return `${where}: ${issue.message}`;
}
