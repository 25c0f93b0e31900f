import type { OpenApiDocument } from "./load.ts";
import { isObject } from "./pointer.ts";
import { type ProviderFacts, rewriteProvider } from "./rewrite.ts";
import type { LoadedSpec } from "./spec.ts";

/** One provider as the merged document shows it. */
export interface ProviderInput {
  code: string;
  /** Display name: the name of the provider's tag. */
  name: string;
  description?: string;
  /** The manifest's version. */
  version?: string;
  namespace: string;
  status: string;
  /** Its spec as loaded, or undefined when there is none (yet). */
  spec?: LoadedSpec;
  /** Why there is no spec, when there is none. */
  notes?: string[];
}

/** What the gateway adds of its own. */
export interface MergeBase {
  title: string;
  version: string;
  description?: string;
  servers: Array<{ url: string; description?: string }>;
  /** The gateway's own tag, paths and components (names already prefixed `gateway_`). */
  tag: { name: string; description: string };
  paths: Record<string, unknown>;
  components: Record<string, Record<string, unknown>>;
}

/** The document's extension that describes each provider. */
export interface ProviderSummary {
  code: string;
  name: string;
  status: string;
  version: string | null;
  namespace: string;
  spec: { source: string; openapi: string | null; title: string | null; version: string | null } | null;
  errors: string[];
  warnings: string[];
  /** Operations of its spec left out because they are invalid, with the sentence saying why. */
  left_out: Array<{ method: string; path: string; reason: string }>;
}

/**
 * Merges provider specs into one OpenAPI 3.1 document: the gateway's own routes, then each
 * provider (by code) with its paths under its namespace, its components renamed `<code>_<Name>`
 * (every reference follows), unique operationIds `<code>_<operationId>`, one tag, and an
 * `x-gateway` summary with its status and whatever is wrong with its spec. A provider whose spec
 * is missing or invalid is listed without paths. Pure: the same input gives the same document,
 * key for key.
 */
export function mergeSpecs(providers: readonly ProviderInput[], base: MergeBase): OpenApiDocument {
  const paths: Record<string, unknown> = { ...base.paths };
  const webhooks: Record<string, unknown> = {};
  const components: Record<string, Record<string, unknown>> = {};
  for (const [type, entries] of Object.entries(base.components)) components[type] = { ...entries };
  const operationIds = new Set(collectOperationIds(base.paths));
  const tagNames = new Set([base.tag.name]);
  const tags: Array<Record<string, unknown>> = [{ ...base.tag }];
  const summaries: Record<string, ProviderSummary> = {};

  for (const provider of [...providers].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))) {
    const tagName = uniqueTagName(provider, tagNames);
    const document = provider.spec?.document;
    const warnings = [...(provider.spec?.warnings ?? [])];
    if (document) {
      const facts: ProviderFacts = {
        code: provider.code,
        namespace: provider.namespace,
        status: provider.status,
        tag: tagName,
      };
      const rewritten = rewriteProvider(document, facts, { operationIds, components });
      warnings.push(...rewritten.warnings);
      Object.assign(paths, rewritten.paths);
      Object.assign(webhooks, rewritten.webhooks);
      for (const [type, entries] of Object.entries(rewritten.components)) {
        components[type] = { ...components[type], ...entries };
      }
    }
    const summary = summarize(provider, warnings);
    summaries[provider.code] = summary;
    tags.push(providerTag(provider, tagName, document, summary));
  }

  const merged: OpenApiDocument = {
    openapi: "3.1.0",
    info: {
      title: base.title,
      version: base.version,
      ...(base.description ? { description: base.description } : {}),
    },
    servers: base.servers,
    tags,
    paths,
  };
  if (Object.keys(webhooks).length > 0) merged.webhooks = webhooks;
  merged.components = components;
  merged["x-gateway"] = summaries;
  return merged;
}

function uniqueTagName(provider: ProviderInput, taken: Set<string>): string {
  let name = provider.name || provider.code;
  if (taken.has(name)) name = `${name} (${provider.code})`;
  for (let n = 2; taken.has(name); n++) name = `${provider.name} (${provider.code}) ${n}`;
  taken.add(name);
  return name;
}

function summarize(provider: ProviderInput, warnings: string[]): ProviderSummary {
  const spec = provider.spec;
  const source = spec?.document ?? spec?.input;
  const info = isObject(source?.info) ? source.info : {};
  return {
    code: provider.code,
    name: provider.name,
    status: provider.status,
    version: provider.version ?? null,
    namespace: provider.namespace,
    spec: spec
      ? {
          source: spec.source,
          openapi: spec.inputVersion ?? null,
          title: typeof info.title === "string" ? info.title : null,
          version: typeof info.version === "string" ? info.version : null,
        }
      : null,
    errors: spec?.errors ?? [],
    warnings: spec ? warnings : (provider.notes ?? []),
    left_out: spec?.leftOut ?? [],
  };
}

function providerTag(
  provider: ProviderInput,
  name: string,
  document: OpenApiDocument | undefined,
  summary: ProviderSummary,
): Record<string, unknown> {
  const info = isObject(document?.info) ? document.info : {};
  let description =
    provider.description ??
    (typeof info.description === "string" ? info.description : undefined) ??
    (typeof info.title === "string" ? info.title : `Provider ${provider.code}`);
  if (provider.status !== "ready") description += `\n\nStatus: ${provider.status}.`;
  if (summary.errors.length > 0) {
    description += `\n\nIts spec is not included: ${summary.errors.join("; ")}`;
  }
  if (summary.left_out.length > 0) {
    description += `\n\nLeft out of its spec, as invalid: ${summary.left_out.map((l) => l.reason).join("; ")}`;
  }
  const tag: Record<string, unknown> = { name, description };
  if (isObject(document?.externalDocs)) tag.externalDocs = document.externalDocs;
  tag["x-gateway"] = summary;
  return tag;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function collectOperationIds(paths: Record<string, unknown>): string[] {
  const ids: string[] = [];
  for (const item of Object.values(paths)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (isObject(op) && typeof op.operationId === "string") ids.push(op.operationId);
    }
  }
  return ids;
}
