import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseDuration } from "./duration.ts";
import { nativeYamlParse, yamlPackage } from "./runtime/yaml.ts";
import { closest } from "./suggest.ts";

/** `code` as Core defines it. */
export const CODE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A namespace: `/` then segments of unreserved URL characters. */
export const NAMESPACE_PATTERN = /^(\/[A-Za-z0-9._~-]+)+$/;

/** Raised when a manifest cannot be used; names the file, the field and the reason. */
export class ManifestError extends Error {
  override name = "ManifestError";
  constructor(
    readonly file: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`Cannot load manifest ${file}: ${field ? `field "${field}" ` : ""}${reason}`);
  }
}

const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `is not a duration (use 250ms, 2s, 1m or whole milliseconds): ${value}`,
        });
        return z.NEVER;
      }
      return ms;
    });

const HealthSchema = z.object({
  /** HTTP path probed until it answers 2xx; without one, readiness is the port accepting connections. */
  path: z.string().regex(/^\//, "must start with /").optional(),
  interval: duration("1s"),
  timeout: duration("2s"),
  startup_timeout: duration("30s"),
  failure_threshold: z.number().int().min(1).default(3),
});

const RestartSchema = z.object({
  policy: z.enum(["always", "on-failure", "never"]).default("on-failure"),
  max_restarts: z.number().int().min(0).default(5),
});

const ElementSchema = z.object({
  tag: z.string().regex(/^[a-z][a-z0-9]*-[a-z0-9-]*$/, "must be a custom element name such as core-widget"),
  source: z.string().min(1),
});

const scalarString = z.union([z.string(), z.number(), z.boolean()]).transform(String);

/** The Core application manifest, extended with the gateway's provider fields. */
export const ManifestSchema = z.object({
  code: z.string().regex(CODE_PATTERN, "must match ^[a-z0-9][a-z0-9-]{0,62}$").optional(),
  name: z.string().min(1).optional(),
  version: scalarString.optional(),
  description: z.string().optional(),
  // Core's own fields: carried as they are, never interpreted here.
  author: z.unknown().optional(),
  licence: z.unknown().optional(),
  sign: z.unknown().optional(),
  sign_key: z.unknown().optional(),
  layout: z.unknown().optional(),
  slots: z.unknown().optional(),
  permissions: z.unknown().optional(),
  modules: z.unknown().optional(),
  daemons: z.unknown().optional(),
  // Provider fields.
  namespace: z
    .string()
    .regex(NAMESPACE_PATTERN, "must start with / and hold only [A-Za-z0-9._~-] segments")
    .refine(
      (ns) => !/\/\.\.?(\/|$)/.test(ns),
      "may not hold . or .. segments (they vanish when URLs are normalized)",
    )
    .optional(),
  runtime: z.string().min(1).optional(),
  binary: z.string().min(1).optional(),
  entry: z.string().min(1).optional(),
  args: z.array(scalarString).default([]),
  env: z.record(z.string(), scalarString).default({}),
  port: z.number().int().min(0).max(65535).default(0),
  health: HealthSchema.default(HealthSchema.parse({})),
  restart: RestartSchema.default(RestartSchema.parse({})),
  depends_on: z.array(z.string()).default([]),
  element: ElementSchema.optional(),
  /** A spec file in the provider dir; `false`: it has none (`GET /openapi.json` is not tried). */
  spec: z.union([z.string().min(1), z.literal(false)]).optional(),
  /** Grace period between SIGTERM and SIGKILL when stopping. */
  stop_timeout: duration("10s"),
  /** How long the proxy waits for the provider's response headers before answering 504. */
  timeout: duration("60s"),
  /** How long a request waits for a provider that is starting or restarting before 503 (0: not at all). */
  hold: duration("2s"),
  /** Requests that may wait at once; past it, 503 at once. */
  hold_queue: z.number().int().min(0).default(1000),
});

const NESTED_KEYS: Record<string, readonly string[]> = {
  health: Object.keys(HealthSchema.shape),
  restart: Object.keys(RestartSchema.shape),
  element: Object.keys(ElementSchema.shape),
};
const TOP_KEYS = Object.keys(ManifestSchema.shape);

/** A validated manifest with identity and defaults settled. */
export interface Manifest {
  code: string;
  name: string;
  version?: string;
  description?: string;
  namespace: string;
  /** Declared runtime; `undefined` when the manifest starts nothing. */
  runtime?: string;
  binary?: string;
  entry?: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  health: {
    path?: string;
    intervalMs: number;
    timeoutMs: number;
    startupTimeoutMs: number;
    failureThreshold: number;
  };
  restart: { policy: "always" | "on-failure" | "never"; maxRestarts: number };
  dependsOn: string[];
  element?: { tag: string; source: string };
  spec?: string | false;
  stopTimeoutMs: number;
  timeoutMs: number;
  /** How long a request waits for the provider to be ready while it starts or restarts; 0: not at all. */
  holdMs: number;
  /** At most this many requests wait at once. */
  holdQueue: number;
  /** Everything the file held, for Core fields the gateway passes on but does not read. */
  raw: Record<string, unknown>;
}

export interface ParsedManifest {
  manifest: Manifest;
  /** Non-fatal findings such as unknown keys: the field and a full sentence. */
  warnings: Array<{ field: string; message: string }>;
}

/** Reads and validates a manifest file. Throws {@link ManifestError}. */
export function loadManifest(file: string): ParsedManifest {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ManifestError(file, "", `cannot be read: ${(error as Error).message}`);
  }
  return parseManifest(text, file);
}

/** Validates manifest text (YAML or JSON). `file` is used in messages. Throws {@link ManifestError}. */
export function parseManifest(text: string, file: string): ParsedManifest {
  const data = readYaml(text, file);
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ManifestError(file, "", "must be a YAML mapping of fields such as code, name, binary");
  }
  const warnings = unknownKeyWarnings(data as Record<string, unknown>, file);
  const result = ManifestSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ManifestError(file, issue.path.join("."), issue.message);
  }
  const m = result.data;
  const code = m.code ?? m.name;
  if (code === undefined) throw new ManifestError(file, "code", "is required (or give a name)");
  if (!CODE_PATTERN.test(code)) {
    throw new ManifestError(
      file,
      m.code === undefined ? "name" : "code",
      `must match ^[a-z0-9][a-z0-9-]{0,62}$ to serve as the identifier: ${code}`,
    );
  }
  if (m.binary !== undefined && m.entry !== undefined) {
    throw new ManifestError(file, "entry", "cannot be given together with binary: choose one");
  }
  let runtime = m.runtime;
  if (runtime === undefined) {
    if (m.binary !== undefined) runtime = "core";
    else if (m.entry !== undefined) runtime = "bun";
  }
  const { health, restart } = m;
  return {
    manifest: {
      code,
      name: m.name ?? code,
      version: m.version,
      description: m.description,
      namespace: m.namespace ?? `/api/v1/${code}`,
      runtime,
      binary: m.binary,
      entry: m.entry,
      args: m.args,
      env: m.env,
      port: m.port,
      health: {
        path: health.path,
        intervalMs: health.interval,
        timeoutMs: health.timeout,
        startupTimeoutMs: health.startup_timeout,
        failureThreshold: health.failure_threshold,
      },
      restart: { policy: restart.policy, maxRestarts: restart.max_restarts },
      dependsOn: m.depends_on,
      element: m.element,
      spec: m.spec,
      stopTimeoutMs: m.stop_timeout,
      timeoutMs: m.timeout,
      holdMs: m.hold,
      holdQueue: m.hold_queue,
      raw: data as Record<string, unknown>,
    },
    warnings,
  };
}

/** YAML text → data, fast where the runtime parses YAML natively; errors come from `yaml` (with a line). */
function readYaml(text: string, file: string): unknown {
  if (nativeYamlParse) {
    try {
      const data = nativeYamlParse(text);
      if (data && typeof data === "object" && !Array.isArray(data)) {
        const record = data as Record<string, unknown>;
        // `version: 1.10` is a number to YAML (1.1); the operator meant the text as written.
        const source =
          typeof record.version === "number" ? /^version:[ \t]*([^\s#]+)/m.exec(text)?.[1] : undefined;
        if (source) record.version = source;
      }
      return data;
    } catch {
      // Parse again below, for a message that says where.
    }
  }
  const { parseDocument, isScalar } = yamlPackage();
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ManifestError(file, "", `is not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    throw new ManifestError(file, "", `is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const version = doc.get("version", true);
    if (isScalar(version) && typeof version.value === "number" && typeof version.source === "string") {
      (data as Record<string, unknown>).version = version.source;
    }
  }
  return data;
}

function unknownKeyWarnings(data: Record<string, unknown>, file: string): ParsedManifest["warnings"] {
  const warnings: ParsedManifest["warnings"] = [];
  const check = (object: Record<string, unknown>, known: readonly string[], prefix: string) => {
    for (const key of Object.keys(object)) {
      if (known.includes(key)) continue;
      const suggestion = closest(key, known);
      warnings.push({
        field: `${prefix}${key}`,
        message: `Unknown field "${prefix}${key}" in ${file} is ignored${suggestion ? `; did you mean "${prefix}${suggestion}"?` : ""}`,
      });
    }
  };
  check(data, TOP_KEYS, "");
  for (const [key, known] of Object.entries(NESTED_KEYS)) {
    const nested = data[key];
    if (nested && typeof nested === "object" && !Array.isArray(nested)) {
      check(nested as Record<string, unknown>, known, `${key}.`);
    }
  }
  return warnings;
}
