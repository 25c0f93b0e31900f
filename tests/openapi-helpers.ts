/** Shared helpers of the OpenAPI tests: fixture specs, merging them as the gateway does, and looking inside. */
import { expect } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import type { OpenApiDocument } from "../lib/openapi/load.ts";
import { type MergeBase, mergeSpecs, type ProviderInput } from "../lib/openapi/merge.ts";
import { type LoadedSpec, loadSpecFile } from "../lib/openapi/spec.ts";
import { validateSpec } from "../lib/openapi/validate.ts";
import { GATEWAY_COMPONENTS, GATEWAY_PATHS, GATEWAY_TAG_OBJECT } from "../routes/openapi-gateway-paths.ts";
import { addEchoProvider, type Space } from "./helpers.ts";

export const SPECS = join(import.meta.dir, "fixtures", "openapi");

/** An echo provider whose `spec` is `file` of the fixture folder `fixture` (copied whole into its dir). */
export function addSpecProvider(
  space: Space,
  code: string,
  fixture: string,
  file: string,
  extra: Record<string, unknown> = {},
): string {
  const dir = addEchoProvider(space, code, { spec: `./${file}`, ...extra });
  cpSync(join(SPECS, fixture), dir, { recursive: true });
  return dir;
}

/** Loads `tests/fixtures/openapi/<dir>/<file>` with `<dir>` as the provider directory. */
export function loadFixture(dir: string, file: string): Promise<LoadedSpec> {
  return loadSpecFile(file, join(SPECS, dir));
}

/** A provider of the merge, ready unless said otherwise. */
export function provider(
  code: string,
  spec: LoadedSpec | undefined,
  extra: Partial<ProviderInput> = {},
): ProviderInput {
  return { code, name: `Provider ${code}`, namespace: `/api/v1/${code}`, status: "ready", spec, ...extra };
}

export const BASE: MergeBase = {
  title: "Gateway",
  version: "0.0.0-test",
  servers: [{ url: "/", description: "This gateway" }],
  tag: GATEWAY_TAG_OBJECT,
  paths: GATEWAY_PATHS,
  components: GATEWAY_COMPONENTS,
};

export function merge(providers: ProviderInput[]): OpenApiDocument {
  return mergeSpecs(providers, BASE);
}

/** Asserts that the validator finds nothing wrong with `doc`. */
export async function expectValid(doc: OpenApiDocument): Promise<void> {
  const result = await validateSpec(doc);
  expect(result.errors).toEqual([]);
  expect(result.valid).toBe(true);
}

type Operation = Record<string, unknown> & { operationId?: string; tags?: string[] };

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every operation under `paths`, as `{path, method, op}`. */
export function operations(doc: OpenApiDocument): Array<{ path: string; method: string; op: Operation }> {
  const found: Array<{ path: string; method: string; op: Operation }> = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const method of METHODS) {
      if (item[method]) found.push({ path, method, op: item[method] as Operation });
    }
  }
  return found;
}

/** The operation whose operationId is `id` (anywhere under `paths`). */
export function operation(doc: OpenApiDocument, id: string): Operation {
  const found = operations(doc).find((entry) => entry.op.operationId === id);
  if (!found)
    throw new Error(`No operation ${id}; there are ${operations(doc).map((e) => e.op.operationId)}`);
  return found.op;
}

/** Every string value of a `key` anywhere in `node` (such as every `$ref`). */
export function valuesOf(node: unknown, key: string): string[] {
  const out: string[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (k === key && typeof v === "string") out.push(v);
        else visit(v);
      }
    }
  };
  visit(node);
  return out;
}

/** Reads `path` (segments) inside `node`; throws with where it stopped. */
// biome-ignore lint/suspicious/noExplicitAny: tests dig into untyped JSON, and a wrong guess fails the test anyway
export function at(node: unknown, ...path: string[]): any {
  let value = node;
  for (const [i, segment] of path.entries()) {
    if (!value || typeof value !== "object" || !(segment in value)) {
      throw new Error(`Nothing at ${path.slice(0, i + 1).join(" > ")}`);
    }
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}
