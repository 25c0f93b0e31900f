import { readFileSync } from "node:fs";
import * as z from "zod/mini";
import { parseDuration } from "./duration.ts";
import { yamlPackage } from "./runtime/packages.ts";
import { nativeYamlParse } from "./runtime/yaml.ts";
import { closest } from "./suggest.ts";
import "./zod-setup.ts";

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

/** A duration field: text (250ms, 2s, 1m) or whole milliseconds; `fallback` when absent. */
const duration = (fallback: string) =>
  z.pipe(
    z._default(z.union([z.string(), z.number()]), fallback),
    z.transform((value: string | number, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.issues.push({
          code: "custom",
          message: `is not a duration (use 250ms, 2s, 1m or whole milliseconds): ${value}`,
          input: value,
        });
        return z.NEVER;
      }
      return ms;
    }),
  );

/** A whole number of at least `min` (and at most `max`), `fallback` when absent. */
const wholeNumber = (fallback: number, min: number, max?: number) =>
  z._default(
    z.number().check(z.int(), z.minimum(min), ...(max === undefined ? [] : [z.maximum(max)])),
    fallback,
  );

const text = () => z.string().check(z.minLength(1));

const HealthSchema = z.object({
  /** HTTP path probed until it answers 2xx; without one, readiness is the port accepting connections. */
  path: z.optional(z.string().check(z.regex(/^\//, "must start with /"))),
  interval: duration("1s"),
  timeout: duration("2s"),
  startup_timeout: duration("30s"),
  failure_threshold: wholeNumber(3, 1),
});

const RestartSchema = z.object({
  policy: z._default(z.enum(["always", "on-failure", "never"]), "on-failure"),
  max_restarts: wholeNumber(5, 0),
});

const ElementSchema = z.object({
  tag: z
    .string()
    .check(z.regex(/^[a-z][a-z0-9]*-[a-z0-9-]*$/, "must be a custom element name such as core-widget")),
  source: text(),
});

const scalarString = z.pipe(z.union([z.string(), z.number(), z.boolean()]), z.transform(String));

/**
 * The Core application manifest, extended with the gateway's provider fields. zod/mini: its
 * schemas cost half of classic zod's to build (about 1 ms of every start, measured), with the
 * same core, so the same parse and the same messages.
 */
export const ManifestSchema = z.object({
  code: z.optional(z.string().check(z.regex(CODE_PATTERN, "must match ^[a-z0-9][a-z0-9-]{0,62}$"))),
  name: z.optional(text()),
  version: z.optional(scalarString),
  description: z.optional(z.string()),
  // Core's own fields: carried as they are, never interpreted here.
  author: z.optional(z.unknown()),
  licence: z.optional(z.unknown()),
  sign: z.optional(z.unknown()),
  sign_key: z.optional(z.unknown()),
  layout: z.optional(z.unknown()),
  slots: z.optional(z.unknown()),
  permissions: z.optional(z.unknown()),
  modules: z.optional(z.unknown()),
  daemons: z.optional(z.unknown()),
  // Provider fields.
  namespace: z.optional(
    z.string().check(
      z.regex(NAMESPACE_PATTERN, "must start with / and hold only [A-Za-z0-9._~-] segments"),
      z.refine(
        (ns: string) => !/\/\.\.?(\/|$)/.test(ns),
        "may not hold . or .. segments (they vanish when URLs are normalized)",
      ),
    ),
  ),
  runtime: z.optional(text()),
  binary: z.optional(text()),
  entry: z.optional(text()),
  args: z._default(z.array(scalarString), []),
  env: z._default(z.record(z.string(), scalarString), {}),
  port: wholeNumber(0, 0, 65535),
  health: z._default(HealthSchema, HealthSchema.parse({})),
  restart: z._default(RestartSchema, RestartSchema.parse({})),
  depends_on: z._default(z.array(z.string()), []),
  element: z.optional(ElementSchema),
  /** A spec file in the provider dir; `false`: it has none (`GET /openapi.json` is not tried). */
  spec: z.optional(z.union([text(), z.literal(false)])),
  /** Grace period between SIGTERM and SIGKILL when stopping. */
  stop_timeout: duration("10s"),
  /** How long the proxy waits for the provider's response headers before answering 504. */
  timeout: duration("60s"),
  /** How long a request waits for a provider that is starting or restarting before 503 (0: not at all). */
  hold: duration("2s"),
  /** Requests that may wait at once; past it, 503 at once. */
  hold_queue: wholeNumber(1000, 0),
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
