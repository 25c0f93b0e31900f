/**
 * Calling an operation tool: the request is built from the arguments (path, query, headers, body)
 * and sent through the gateway's own listener, so it is proxied, counted and logged like any
 * client's, under the same rules. The answer becomes MCP content: JSON as structured content and
 * text, text as text, images and audio as such, other binary as a note; a body over the budget is
 * cut at a structure boundary, with a link to the whole of it as a resource.
 */
// Deno takes the types from here: the SDK's "./*" export maps them to "*.js.d.ts", which only tsc fixes up.
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { OperationTool } from "./catalogue.ts";

/** Characters of a body given to the model in full; more is cut (the rest stays readable as a resource). */
export const TEXT_BUDGET = 24 * 1024;
/** Bytes of an image or audio body returned as such. */
const MEDIA_BUDGET = 2 * 1024 * 1024;

/** Whole response bodies that were cut, readable as `gateway-response://<id>` (the last 32). */
export class ResponseStore {
  readonly #bodies = new Map<string, { mimeType: string; text: string }>();
  #next = 0;

  put(mimeType: string, text: string): string {
    const uri = `gateway-response://${++this.#next}`;
    this.#bodies.set(uri, { mimeType, text });
    if (this.#bodies.size > 32) this.#bodies.delete(this.#bodies.keys().next().value!);
    return uri;
  }

  get(uri: string): { mimeType: string; text: string } | undefined {
    return this.#bodies.get(uri);
  }
}

export interface CallOptions {
  /** The gateway's base URL. */
  gatewayUrl: string;
  signal: AbortSignal;
  responses: ResponseStore;
  /** Told each time a call waits for a provider that is starting. */
  onWait?: (attempt: number, detail: string) => void;
  /** How long a call may take in all, waits for a starting provider included. @default 60000 */
  timeoutMs?: number;
}

function text(value: string): CallToolResult["content"][number] {
  return { type: "text", text: value };
}

/** The request URL and init for a tool's arguments. */
export function buildRequest(
  tool: OperationTool,
  args: Record<string, unknown>,
  gatewayUrl: string,
): { url: string; init: RequestInit } {
  let path = tool._meta.path;
  const query = new URLSearchParams();
  const headers: Record<string, string> = { accept: "application/json, */*;q=0.5" };
  let body: string | undefined;
  for (const [key, value] of Object.entries(args)) {
    const place = tool.places[key];
    if (!place || value === undefined) continue;
    if (place.in === "path") path = path.replaceAll(`{${place.name}}`, encodeURIComponent(String(value)));
    else if (place.in === "query") {
      for (const item of Array.isArray(value) ? value : [value]) {
        query.append(place.name, typeof item === "object" ? JSON.stringify(item) : String(item));
      }
    } else if (place.in === "header") headers[place.name.toLowerCase()] = String(value);
    else if (place.in === "body") {
      const type = tool.bodyType ?? "application/json";
      headers["content-type"] = type;
      if (type === "application/x-www-form-urlencoded" && typeof value === "object" && value !== null) {
        body = new URLSearchParams(Object.entries(value).map(([k, v]) => [k, String(v)])).toString();
      } else if (type.startsWith("text/")) body = typeof value === "string" ? value : JSON.stringify(value);
      else body = JSON.stringify(value);
    }
  }
  const search = query.toString();
  return {
    url: `${gatewayUrl}${path}${search ? `?${search}` : ""}`,
    init: { method: tool._meta.method, headers, body, redirect: "manual" },
  };
}

/**
 * JSON text of at most `budget` characters: the whole value pretty-printed when it fits, else a
 * compact prefix of it cut at structure boundaries (an array keeps its first items, an object its
 * first fields, the one that does not fit cut the same way inside). Returns the text and what was
 * left out.
 */
export function cutJson(value: unknown, budget: number): { text: string; omitted: string | null } {
  const whole = JSON.stringify(value, null, 2);
  if (whole.length <= budget) return { text: whole, omitted: null };
  const omitted: string[] = [];
  const kept = shrink(value, budget, "", omitted);
  return { text: JSON.stringify(kept) ?? "null", omitted: omitted.join("; ") || "part of it" };
}

/** `value` cut so its compact JSON has at most `budget` characters; what was dropped goes to `omitted`. */
function shrink(value: unknown, budget: number, where: string, omitted: string[]): unknown {
  const of = where ? ` of ${where}` : "";
  if (Array.isArray(value)) {
    // The longest prefix that fits, by bisection (each try is one stringify).
    let low = 0;
    let high = value.length;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (JSON.stringify(value.slice(0, mid)).length <= budget) low = mid;
      else high = mid - 1;
    }
    // Not even the first item fits whole: keep it cut, when there is room for something.
    if (low === 0 && value.length > 0 && budget > 32) {
      omitted.push(`the first item${of} cut, and the ${value.length - 1} after it`);
      return [shrink(value[0], budget - 2, `${where}[0]`, [])];
    }
    omitted.push(`${value.length - low} of ${value.length} items${of}`);
    return value.slice(0, low);
  }
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (const [i, key] of keys.entries()) {
      const field = (value as Record<string, unknown>)[key];
      out[key] = field;
      if (JSON.stringify(out).length <= budget) continue;
      // This field does not fit whole: what room is left goes to a cut of it.
      out[key] = null;
      const room = budget - JSON.stringify(out).length + 4;
      if (room > 16 && typeof field === "object" && field !== null) {
        out[key] = shrink(field, room, where ? `${where}.${key}` : key, omitted);
      } else if (room > 16 && typeof field === "string") {
        out[key] = field.slice(0, room - 2);
        omitted.push(`${field.length - room + 2} characters of ${where ? `${where}.${key}` : key}`);
      } else delete out[key];
      const left = keys.length - i - (key in out ? 1 : 0);
      if (left > 0) omitted.push(`${left} of ${keys.length} fields${of}`);
      break;
    }
    return out;
  }
  if (typeof value === "string") {
    omitted.push(`${value.length - budget} characters${of}`);
    return value.slice(0, Math.max(0, budget - 2));
  }
  return value;
}

/** Calls the operation and turns its answer into a tool result (HTTP errors as tool errors). */
export async function callOperation(
  tool: OperationTool,
  args: Record<string, unknown>,
  options: CallOptions,
): Promise<CallToolResult> {
  const { url, init } = buildRequest(tool, args, options.gatewayUrl);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(Math.max(1, left))]);
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal });
    } catch (error) {
      const why =
        (error as Error).name === "TimeoutError"
          ? `no answer within ${options.timeoutMs ?? 60_000} ms`
          : (error as Error).message;
      return { isError: true, content: [text(`${tool._meta.method} ${tool._meta.path} failed: ${why}`)] };
    }
    // A provider that is starting (or restarting) answers 503 once the proxy's hold ran out: wait on.
    if (response.status === 503 && Date.now() + 1000 < deadline) {
      const problem = (await response.json().catch(() => ({}))) as { detail?: string };
      if (/ is (starting|restarting|unhealthy)\b/.test(problem.detail ?? "")) {
        options.onWait?.(attempt, problem.detail ?? "");
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      return toResult(tool, response, options, problem);
    }
    return toResult(tool, response, options);
  }
}

async function toResult(
  tool: OperationTool,
  response: Response,
  options: CallOptions,
  problem?: { detail?: string },
): Promise<CallToolResult> {
  const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const status = `HTTP ${response.status}`;
  if (response.status >= 400) {
    const body = problem ?? (await response.json().catch(() => undefined));
    const detail = (body as { detail?: string } | undefined)?.detail;
    return {
      isError: true,
      content: [text(`${status} from ${tool._meta.method} ${tool._meta.path}${detail ? `: ${detail}` : ""}`)],
    };
  }
  if (type === "application/json" || type.endsWith("+json")) {
    const raw = await response.text();
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return { content: [text(`${status}, a body labelled JSON that is not: ${raw.slice(0, 200)}`)] };
    }
    const { text: shown, omitted } = cutJson(value, TEXT_BUDGET);
    const content: CallToolResult["content"] = [text(shown)];
    if (omitted) {
      const uri = options.responses.put(type, raw);
      content.push(text(`(cut: ${omitted} left out; the whole body is the resource ${uri})`));
      content.push({ type: "resource_link", uri, name: `Whole response of ${tool.name}`, mimeType: type });
    }
    // Structured content must be an object, and whole: only then is it given.
    const structured = !omitted && typeof value === "object" && value !== null && !Array.isArray(value);
    return { content, ...(structured ? { structuredContent: value as Record<string, unknown> } : {}) };
  }
  if (type.startsWith("image/") || type.startsWith("audio/")) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > MEDIA_BUDGET)
      return { content: [text(`${status}: ${type}, ${bytes.length} bytes (too large to return)`)] };
    const data = Buffer.from(bytes).toString("base64");
    return {
      content: [
        type.startsWith("image/")
          ? { type: "image", data, mimeType: type }
          : { type: "audio", data, mimeType: type },
      ],
    };
  }
  if (
    type.startsWith("text/") ||
    type === "" ||
    type === "application/xml" ||
    type.endsWith("+xml") ||
    type === "application/javascript"
  ) {
    const raw = await response.text();
    if (raw.length <= TEXT_BUDGET) return { content: [text(raw || `${status}, no body`)] };
    const uri = options.responses.put(type || "text/plain", raw);
    return {
      content: [
        text(raw.slice(0, TEXT_BUDGET)),
        text(`(cut: ${raw.length - TEXT_BUDGET} more characters; the whole body is the resource ${uri})`),
        {
          type: "resource_link",
          uri,
          name: `Whole response of ${tool.name}`,
          mimeType: type || "text/plain",
        },
      ],
    };
  }
  const size = (await response.arrayBuffer()).byteLength;
  return { content: [text(`${status}: a ${type} body of ${size} bytes (binary, not shown)`)] };
}
