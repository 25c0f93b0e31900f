import { parse as parseYaml } from "yaml";
import { nativeYamlParse } from "../runtime/yaml.ts";

export type OpenApiDocument = Record<string, unknown> & {
  openapi?: string;
  swagger?: string;
  info?: Record<string, unknown>;
  paths?: Record<string, unknown>;
  components?: Record<string, unknown>;
};

/** YAML specs larger than this are read with the runtime's native parser when they can be. */
const NATIVE_YAML_FROM = 64 * 1024;
/** Values a parsed spec may hold once its aliases are expanded (a 500 KB spec has about 60,000). */
const MAX_EXPANDED_NODES = 5_000_000;

/** How many values `root` holds with shared objects counted each time they are reached; stops past `cap`. */
function expandedSize(root: unknown, cap: number): number {
  let count = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (++count > cap) return count;
    if (value && typeof value === "object") {
      for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push(child);
    }
  }
  return count;
}

/** Largest spec the gateway reads, from a file or a provider (a guard against runaway documents). */
export const MAX_SPEC_BYTES = 64 * 1024 * 1024;

/**
 * Parses a spec's text: JSON when it looks like JSON (fast for large documents), else YAML
 * (which also reads JSON). Throws with the reason and, for YAML, the line and column.
 */
export function parseSpecText(text: string, where: string): unknown {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON after all (a YAML flow mapping, or broken JSON): YAML says where it breaks.
    }
  }
  if (nativeYamlParse && text.length > NATIVE_YAML_FROM) {
    // Bun's parser reads a 500 KB spec in 27 ms where the `yaml` package takes 590 ms, all of it
    // blocking the event loop. Its aliases are shared objects, so an alias bomb costs nothing
    // here but would explode in every walk after: the parsed value's expanded size is counted,
    // with a bound. A duplicate key takes its last value, as Bun reads it. What it cannot read
    // (or what is too large expanded) goes to the `yaml` package below, which says why.
    try {
      const value = nativeYamlParse(text);
      if (expandedSize(value, MAX_EXPANDED_NODES) <= MAX_EXPANDED_NODES) return value;
    } catch {
      // fall through
    }
  }
  try {
    // Unique keys and a bounded alias count: duplicate keys are an error, alias bombs too.
    return parseYaml(text, { uniqueKeys: true, maxAliasCount: 1000 });
  } catch (error) {
    const message = (error as Error).message.split("\n")[0]!.replace(/:\s*$/, "");
    throw new Error(`Cannot parse ${where}: ${message}`);
  }
}

/** Checks that `data` looks like an OpenAPI or Swagger document (the validator says the rest). */
export function asSpecDocument(data: unknown, where: string): OpenApiDocument {
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`${where} is not an OpenAPI document (not an object)`);
  }
  const doc = data as OpenApiDocument;
  if (typeof doc.openapi !== "string" && typeof doc.swagger !== "string") {
    throw new Error(`${where} is not an OpenAPI document (no "openapi" or "swagger" field)`);
  }
  return doc;
}

/** A provider answered its spec's URL with an error status. */
export class UpstreamStatusError extends Error {
  override name = "UpstreamStatusError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Fetches `<upstream>/openapi.json` from a ready provider (JSON or YAML, at most
 * {@link MAX_SPEC_BYTES}). Throws with a reason.
 * @param timeoutMs default 5000
 */
export async function fetchUpstreamSpec(upstream: string, timeoutMs = 5000): Promise<OpenApiDocument> {
  const url = `${upstream}/openapi.json`;
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  if (!response.ok) {
    await response.body?.cancel();
    throw new UpstreamStatusError(`GET ${url} answered ${response.status}`, response.status);
  }
  const length = Number(response.headers.get("content-length") ?? 0);
  if (length > MAX_SPEC_BYTES) {
    await response.body?.cancel();
    throw new Error(`GET ${url} is ${length} bytes, more than the ${MAX_SPEC_BYTES} a spec may have`);
  }
  const text = await response.text();
  if (text.length > MAX_SPEC_BYTES) {
    throw new Error(`GET ${url} is more than the ${MAX_SPEC_BYTES} bytes a spec may have`);
  }
  return asSpecDocument(parseSpecText(text, url), url);
}
