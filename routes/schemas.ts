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
  status_since: z.string().nullable().describe("Since when it has had its status (ISO 8601)"),
  status_reason: z.string().nullable().describe("Why its status changed to what it is"),
  last_exit: z
    .strictObject({ code: z.number().int().nullable(), signal: z.string().nullable(), time: z.string() })
    .nullable()
    .describe("How its last process ended: exit code or signal, and when"),
  last_probe: z
    .strictObject({
      target: z.string().describe("The health URL, or tcp://127.0.0.1:PORT for a connect-only check"),
      ok: z.boolean(),
      status: z.number().int().nullable().describe("The HTTP status it answered; null when none"),
      latency_ms: z.number(),
      detail: z.string().nullable().describe('Why it failed: "connection refused", "answered 500", …'),
      time: z.string(),
    })
    .nullable()
    .describe("The last health probe"),
  last_start: z
    .strictObject({ started_at: z.string(), ready_ms: z.number().nullable() })
    .nullable()
    .describe("The last start: when it was spawned and how long it took to become ready"),
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

/** `GET /_gateway/traffic`: the last minutes of each provider's traffic (lib/metrics/history.ts). */
export const TrafficSchema = z.strictObject({
  interval_ms: z.number().int().describe("The time between two samples"),
  providers: z.record(
    z.string(),
    z.array(
      z.strictObject({
        time: z.string().describe("End of the interval (ISO 8601)"),
        rps: z.number().describe("Requests per second"),
        error_rate: z.number().describe("The share of 5xx answers, 0 to 1"),
        p95_ms: z
          .number()
          .nullable()
          .describe("p95 latency (a histogram bucket's upper bound); null without requests"),
      }),
    ),
  ),
});

/** `GET /_gateway/access`: whether this client may use the mutating routes, and how. */
export const AccessSchema = z.strictObject({
  token_required: z.boolean().describe("An admin token is configured: mutating routes need it"),
  token_accepted: z
    .boolean()
    .nullable()
    .describe("Whether the Bearer token of this request is the admin token; null when none was sent"),
  allowed: z.boolean().describe("Whether this request, as sent, may call the mutating routes"),
  reason: z.string().nullable().describe("Why not, when it may not"),
});

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

/** `POST /_gateway/providers`: an external provider. */
export const CreateProviderBody = z.strictObject({
  code: z.string().describe("The provider's code, ^[a-z0-9][a-z0-9-]{0,62}$"),
  runtime: z.string().describe('Only "external" can be created; other runtimes come from directories (501)'),
  name: z.string().min(1).optional(),
  namespace: z.string().startsWith("/").optional().describe("Default /api/v1/<code>"),
  url: z.string().optional().describe("The agent's URL, registered (and probed) at once"),
  heartbeat_interval: z
    .number()
    .positive()
    .max(3600)
    .optional()
    .describe("Seconds between heartbeats; default 10"),
  health_path: z
    .string()
    .startsWith("/")
    .optional()
    .describe("Probed on the agent (2xx); default: a TCP connect or TLS handshake"),
});

/** `POST /_gateway/providers/:code/register`. */
export const RegisterBody = z.strictObject({
  url: z.string().describe("The agent's base URL, http or https"),
  replace: z.boolean().optional().describe("Move a provider served by a healthy agent to this URL"),
  health_path: z.string().startsWith("/").optional(),
});

/** `POST /_gateway/providers/:code/token` (the body is optional). */
export const TokenBody = z.strictObject({
  overlap_seconds: z
    .number()
    .min(0)
    .max(86_400)
    .optional()
    .describe("How long the token it replaces stays valid; default 600, 0 revokes it at once"),
});

export const ConnectionSchema = z.strictObject({
  provider_code: z.string(),
  gateway_url: z.string().describe("--public-url, else the listener's URL; never from request headers"),
  auth_token: z.string().describe("The provider token, shown once"),
  register_endpoint: z.string(),
  heartbeat_endpoint: z.string(),
  tunnel_endpoint: z.string(),
  heartbeat_interval: z.number().describe("Seconds"),
  curl_register: z
    .string()
    .describe("Runs as it is once the shell variable AGENT_URL holds the agent's base URL"),
  agent_command: z.string().describe("gateway agent … serving a local port through a dial-out tunnel"),
});

export const CreatedSchema = z.strictObject({ provider: ProviderSchema, connection: ConnectionSchema });
export const RegisteredSchema = z.strictObject({ provider: ProviderSchema });
export const HeartbeatSchema = z.strictObject({
  interval: z.number().describe("Seconds until the next heartbeat"),
  ttl: z.number().describe("Seconds of silence after which the provider is unhealthy"),
});
export const TokenSchema = z.strictObject({
  provider_code: z.string(),
  auth_token: z.string().describe("The new token, shown once"),
  previous_token_expires_at: z
    .string()
    .nullable()
    .describe("Until then (ISO 8601) the token it replaces still works"),
  overlap_seconds: z.number(),
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
