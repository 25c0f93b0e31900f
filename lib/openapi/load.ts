import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { resolveInsideDir } from "../runtimes.ts";

export type OpenApiDocument = Record<string, unknown> & {
  openapi?: string;
  swagger?: string;
  paths?: Record<string, unknown>;
  components?: Record<string, unknown>;
};

/** Reads a provider's `spec` file (YAML or JSON), which must lie inside its directory. Throws with a reason. */
export function loadSpecFile(spec: string, dir: string): OpenApiDocument {
  const file = resolveInsideDir(spec, dir, "spec");
  const text = readFileSync(file, "utf8");
  return checkSpec(parseYaml(text), file);
}

/** Fetches `<upstream>/openapi.json` from a ready provider. Throws with a reason. */
export async function fetchUpstreamSpec(upstream: string, timeoutMs = 5000): Promise<OpenApiDocument> {
  const response = await fetch(`${upstream}/openapi.json`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${upstream}/openapi.json answered ${response.status}`);
  }
  return checkSpec(await response.json(), `${upstream}/openapi.json`);
}

function checkSpec(data: unknown, where: string): OpenApiDocument {
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`${where} is not an OpenAPI document (not an object)`);
  }
  const doc = data as OpenApiDocument;
  if (typeof doc.openapi !== "string" && typeof doc.swagger !== "string") {
    throw new Error(`${where} is not an OpenAPI document (no "openapi" or "swagger" field)`);
  }
  return doc;
}
