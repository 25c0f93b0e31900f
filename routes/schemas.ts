/**
 * The zod schemas of the gateway's own HTTP API: the routes validate their input with them, and
 * the OpenAPI document describes the routes from them (routes/openapi-gateway-paths.ts), so the
 * description cannot drift from what is checked.
 */
import { z } from "zod";
import type { Problem } from "../lib/problems.ts";
import { PROVIDER_STATUSES, type ProviderView } from "../lib/supervisor/status.ts";

/** `GET /_gateway/providers/:code/logs?tail=N`. */
export const TailQuery = z.strictObject({
  tail: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(100)
    .describe("How many of the most recent lines to return"),
});

/** The `:code` path parameter. */
export const CodeParam = z.strictObject({ code: z.string().describe("The provider's code") });

/** An RFC 9457 problem document: every error the gateway itself answers. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
  })
  .catchall(z.unknown())
  .describe("Problem details (RFC 9457)");

export const ProviderStatusSchema = z.enum(PROVIDER_STATUSES);

/** The Provider object of the admin API. */
export const ProviderSchema = z.strictObject({
  code: z.string(),
  name: z.string(),
  namespace: z.string(),
  runtime: z.string().nullable(),
  status: ProviderStatusSchema,
  upstream: z.string().nullable(),
  pid: z.number().int().nullable(),
  port: z.number().int().nullable(),
  restarts: z.number().int(),
  next_restart_at: z.string().nullable().describe("While restarting: when the next start is due (ISO 8601)"),
  next_restart_reason: z.string().nullable().describe("While restarting: why, and how the delay was chosen"),
  version: z.string().nullable(),
  element: z.strictObject({ tag: z.string(), url: z.string() }).nullable(),
  last_error: z.string().nullable(),
  manifest_error: z
    .string()
    .nullable()
    .describe("Why the manifest on disk is not applied; the provider runs its last good version meanwhile"),
});

export const ProviderListSchema = z.strictObject({ providers: z.array(ProviderSchema) });

export const LogsSchema = z.strictObject({
  provider: z.string(),
  lines: z.array(
    z.strictObject({
      time: z.string().describe("ISO 8601"),
      stream: z.string().describe("stdout, stderr or gateway"),
      line: z.string(),
    }),
  ),
});

export const ActionAcceptedSchema = z.strictObject({
  accepted: z.enum(["start", "stop", "restart"]),
  provider: ProviderSchema,
});

export const RuntimesSchema = z.strictObject({
  runtimes: z.array(
    z.strictObject({
      name: z.string(),
      description: z.string(),
      requires: z.enum(["binary", "entry", "nothing"]),
      command: z.array(z.string()),
      /** The command ends itself when the gateway dies, so it is not wrapped in setpriv. */
      dies_with_gateway: z.boolean(),
      source: z.string(),
    }),
  ),
});

export const ElementsSchema = z.array(
  z.strictObject({ provider: z.string(), tag: z.string(), url: z.string() }),
);

/** `GET /_gateway/problems`. */
export const ProblemsSchema = z.strictObject({
  problems: z.array(
    z.strictObject({
      level: z.enum(["warn", "error"]).describe("error: skipped, refused or kept at its last good version"),
      code: z.string().optional().describe("The provider concerned"),
      file: z.string().optional(),
      field: z.string().optional().describe("Dotted path of the field concerned"),
      message: z.string(),
    }),
  ),
});

export const HealthSchema = z.strictObject({ status: z.literal("ok") });
export const ReadySchema = z.strictObject({ status: z.literal("ready") });
export const NotReadySchema = ProblemSchema.extend({
  waiting: z.array(z.strictObject({ code: z.string(), status: ProviderStatusSchema })),
});

// The Provider schema and the supervisor's ProviderView must describe the same object.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const providerSchemaMatchesView: Same<z.infer<typeof ProviderSchema>, ProviderView> = true;
void providerSchemaMatchesView;
const problemSchemaMatchesProblem: Same<z.infer<typeof ProblemsSchema>["problems"][number], Problem> = true;
void problemSchemaMatchesProblem;
