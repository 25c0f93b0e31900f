/**
 * The gateway's own routes as OpenAPI path items, derived from the zod schemas in ./schemas.ts
 * (the ones the routes validate with) by zod's JSON Schema output (draft 2020-12, OpenAPI 3.1's
 * dialect). Named schemas become `components.schemas.gateway_<Name>`.
 */
import { z } from "zod";
import {
  AccessSchema,
  ActionAcceptedSchema,
  CodeParam,
  CreatedSchema,
  CreateProviderBody,
  ElementsSchema,
  HealthSchema,
  HeartbeatSchema,
  LogsSchema,
  NotReadySchema,
  ProblemSchema,
  ProblemsSchema,
  ProviderListSchema,
  ProviderSchema,
  ReadySchema,
  RegisterBody,
  RegisteredSchema,
  RuntimesSchema,
  TailQuery,
  TokenBody,
  TokenSchema,
  TrafficSchema,
} from "./schemas.ts";

/** The gateway's tag, and the prefix of its components and operationIds. */
export const GATEWAY_TAG = "gateway";
const PREFIX = "gateway_";

const named = z.registry<{ id: string }>();
named.add(ProblemSchema, { id: "Problem" });
named.add(ProviderSchema, { id: "Provider" });
named.add(ProviderListSchema, { id: "ProviderList" });
named.add(LogsSchema, { id: "Logs" });
named.add(ActionAcceptedSchema, { id: "ActionAccepted" });
named.add(RuntimesSchema, { id: "Runtimes" });
named.add(ElementsSchema, { id: "Elements" });
named.add(ProblemsSchema, { id: "Problems" });
named.add(CreateProviderBody, { id: "CreateProvider" });
named.add(CreatedSchema, { id: "Created" });
named.add(RegisterBody, { id: "Register" });
named.add(RegisteredSchema, { id: "Registered" });
named.add(HeartbeatSchema, { id: "Heartbeat" });
named.add(TokenBody, { id: "TokenRequest" });
named.add(TokenSchema, { id: "Token" });
named.add(HealthSchema, { id: "Health" });
named.add(ReadySchema, { id: "Ready" });
named.add(NotReadySchema, { id: "NotReady" });
named.add(TrafficSchema, { id: "Traffic" });
named.add(AccessSchema, { id: "Access" });

const ref = (schema: z.ZodType) => {
  const id = named.get(schema)?.id;
  if (!id) throw new Error("Cannot refer to a schema that is not in the registry");
  return { $ref: `#/components/schemas/${PREFIX}${id}` };
};

/** A zod schema as a JSON Schema without the document-level keywords a component must not repeat. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const {
    $schema: _,
    $id: __,
    ...rest
  } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

/** Path or query parameters from a zod object: one Parameter Object per key. */
function parameters(schema: z.ZodObject, where: "path" | "query"): Array<Record<string, unknown>> {
  return Object.entries(schema.shape).map(([name, field]) => {
    const property = jsonSchema(field as z.ZodType, "input");
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || !(field as z.ZodType).safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema: ref(schema) } },
});
const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ref(ProblemSchema) } },
});
const notModified = { description: "Not Modified: the If-None-Match ETag is current" };
const adminSecurity = [{ [`${PREFIX}adminToken`]: [] }, {}];
const providerSecurity = [{ [`${PREFIX}providerToken`]: [] }];
/** A JSON request body from a zod schema (the one the route parses it with). */
const body = (schema: z.ZodType, required = true) => ({
  required,
  content: { "application/json": { schema: ref(schema) } },
});
/** What the strict body parser answers. */
const strictBody = {
  "400": problem("The body is not JSON, or has an unknown field or a field of the wrong type (named)"),
  "413": problem("The body is larger than 64 KiB"),
  "415": problem("The body is not sent as application/json"),
};
const providerAuth = {
  "401": problem("No valid provider token of this provider (the answer never says which part was wrong)"),
  "429": problem("Too many failed authentications from this address; see Retry-After"),
};

interface Route {
  method: "get" | "post" | "delete";
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  admin?: boolean;
  /** Authenticated with the provider's token instead (an agent's route). */
  agent?: boolean;
  requestBody?: Record<string, unknown>;
  params?: z.ZodObject;
  query?: z.ZodObject;
  responses: Record<string, unknown>;
}

const ROUTES: Route[] = [
  {
    method: "get",
    path: "/healthz",
    operationId: "healthz",
    summary: "The gateway runs",
    responses: { "200": json(HealthSchema, "The gateway runs") },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics (OpenMetrics when Accept asks for application/openmetrics-text)",
    responses: {
      "200": {
        description:
          "Requests, durations, bytes and upstream errors per provider; provider and process state",
        content: { "text/plain": {}, "application/openmetrics-text": {} },
      },
    },
  },
  {
    method: "post",
    path: "/mcp",
    operationId: "mcpPost",
    summary: "MCP over streamable HTTP: a JSON-RPC message of a session (initialize starts one)",
    description:
      "The same tools and resources as `gateway mcp`: one tool per operation of every ready provider, gateway_search, gateway_describe, gateway_call and the gateway tools. The session is in the Mcp-Session-Id header.",
    admin: true,
    requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
    responses: {
      "200": {
        description: "The JSON-RPC answer, as JSON or as a server-sent event stream",
        content: { "application/json": {}, "text/event-stream": {} },
      },
      "202": { description: "A notification or response was accepted" },
      "400": { description: "Not a JSON-RPC message, or no session for it" },
      "403": problem("The Origin is not the gateway's own"),
      "404": { description: "No such session (it ended): initialize again" },
      "413": problem("The body is larger than 4 MiB"),
    },
  },
  {
    method: "get",
    path: "/mcp",
    operationId: "mcpStream",
    summary: "MCP over streamable HTTP: the server-sent event stream of a session's notifications",
    admin: true,
    responses: {
      "200": { description: "The event stream", content: { "text/event-stream": {} } },
      "400": { description: "No Mcp-Session-Id" },
      "404": { description: "No such session (it ended): initialize again" },
    },
  },
  {
    method: "delete",
    path: "/mcp",
    operationId: "mcpEnd",
    summary: "MCP over streamable HTTP: ends a session",
    admin: true,
    responses: {
      "200": { description: "The session ended" },
      "404": { description: "No such session" },
    },
  },
  {
    method: "get",
    path: "/readyz",
    operationId: "readyz",
    summary: "Every enabled local provider is ready",
    responses: {
      "200": json(ReadySchema, "Every enabled local provider is ready"),
      "503": {
        description: "Some provider is not ready (with who is waiting)",
        content: { "application/problem+json": { schema: ref(NotReadySchema) } },
      },
    },
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openapiJson",
    summary: "This document: every provider's API under its namespace, and the gateway's own",
    responses: {
      "200": {
        description: "The OpenAPI 3.1 document, with an ETag",
        content: { "application/json": { schema: { type: "object" } } },
      },
      "304": notModified,
    },
  },
  {
    method: "get",
    path: "/openapi.yaml",
    operationId: "openapiYaml",
    summary: "This document, in YAML",
    responses: {
      "200": {
        description: "The OpenAPI 3.1 document, with an ETag",
        content: { "application/yaml": { schema: { type: "object" } } },
      },
      "304": notModified,
    },
  },
  {
    method: "get",
    path: "/docs",
    operationId: "docs",
    summary: "Interactive API reference of this document (works offline)",
    responses: { "200": { description: "An HTML page", content: { "text/html": {} } } },
  },
  {
    method: "get",
    path: "/",
    operationId: "root",
    summary: "Redirects to the dashboard",
    responses: { "302": { description: "To /_gateway/ui" } },
  },
  {
    method: "get",
    path: "/_gateway/ui",
    operationId: "dashboard",
    summary: "The dashboard: every provider's state, traffic, logs and controls, and their UI elements",
    responses: { "200": { description: "An HTML page", content: { "text/html": {} } } },
  },
  {
    method: "get",
    path: "/_gateway/traffic",
    operationId: "traffic",
    summary: "The last minutes of each provider's traffic, sampled every 5 s from the metrics counters",
    responses: { "200": json(TrafficSchema, "Samples per provider, oldest first") },
  },
  {
    method: "get",
    path: "/_gateway/access",
    operationId: "access",
    summary: "Whether this client may call the mutating routes (checks a Bearer token when one is sent)",
    responses: { "200": json(AccessSchema, "What this request may do") },
  },
  {
    method: "get",
    path: "/_gateway/providers",
    operationId: "listProviders",
    summary: "List providers",
    responses: { "200": json(ProviderListSchema, "Every provider") },
  },
  {
    method: "get",
    path: "/_gateway/providers/{code}",
    operationId: "getProvider",
    summary: "One provider",
    params: CodeParam,
    responses: { "200": json(ProviderSchema, "The provider"), "404": problem("No such provider") },
  },
  {
    method: "get",
    path: "/_gateway/providers/{code}/logs",
    operationId: "providerLogs",
    summary: "Recent output lines of a provider",
    params: CodeParam,
    query: TailQuery,
    responses: {
      "200": json(LogsSchema, "Its most recent lines, oldest first"),
      "400": problem("A query parameter is not valid"),
      "404": problem("No such provider"),
    },
  },
  ...(["start", "stop", "restart"] as const).map(
    (action): Route => ({
      method: "post",
      path: `/_gateway/providers/{code}/${action}`,
      operationId: `${action}Provider`,
      summary: `${action[0]!.toUpperCase()}${action.slice(1)} a provider`,
      admin: true,
      params: CodeParam,
      responses: {
        "202": json(ActionAcceptedSchema, "Accepted: it happens in the background"),
        "401": problem("An admin token is configured and this request does not carry it"),
        "403": problem("No admin token is configured and the client is not on loopback"),
        "404": problem("No such provider"),
        ...(action === "stop" ? {} : { "409": problem("The provider is disabled") }),
        "501": problem("The gateway does not run this provider's runtime"),
      },
    }),
  ),
  {
    method: "get",
    path: "/_gateway/providers/{code}/openapi.json",
    operationId: "providerOpenapi",
    summary: "One provider's spec as the gateway sees it (bundled, upgraded to OpenAPI 3.1)",
    description:
      "Its own paths and names, before the merge. A spec that failed validation is shown as it was read, with `x-gateway.errors`.",
    params: CodeParam,
    responses: {
      "200": {
        description: "The provider's spec",
        content: { "application/json": { schema: { type: "object" } } },
      },
      "404": problem("No such provider, or it has no spec"),
    },
  },
  {
    method: "get",
    path: "/_gateway/providers/{code}/logs/stream",
    operationId: "followLogs",
    summary: "A provider's output as it comes (server-sent `line` events), the last `tail` lines first",
    params: CodeParam,
    query: TailQuery,
    responses: {
      "200": { description: "An event stream", content: { "text/event-stream": {} } },
      "400": problem("tail is not a whole number from 1 to 10000"),
      "404": problem("No such provider"),
      "501": problem("An external provider: its output stays on its agent's machine"),
    },
  },
  {
    method: "get",
    path: "/_gateway/events",
    operationId: "events",
    summary: "Server-sent events: a snapshot of every provider, then status changes",
    description:
      "`snapshot` events (one per provider), then `status` events, and `providers` (`{codes}`) when providers appear or go. Every event has an `id:`. A client that reconnects with `Last-Event-ID` (or `?last_event_id=`) gets the status changes it missed, in order, instead of a snapshot; the last 1,024 are kept.",
    responses: { "200": { description: "An event stream", content: { "text/event-stream": {} } } },
  },
  {
    method: "get",
    path: "/_gateway/runtimes",
    operationId: "runtimes",
    summary: "The runtime registry",
    responses: { "200": json(RuntimesSchema, "Known runtimes") },
  },
  {
    method: "post",
    path: "/_gateway/providers",
    operationId: "createProvider",
    summary: "Create an external provider; answers its connection block, the token shown once",
    admin: true,
    requestBody: body(CreateProviderBody),
    responses: {
      "201": json(CreatedSchema, "Created, awaiting its agent (ready when a url was given and answered)"),
      ...strictBody,
      "409": problem("The code or the namespace is in use"),
      "422": problem("Created, but the url given did not pass the checks or the probe"),
      "501": problem("A runtime other than external"),
    },
  },
  {
    method: "delete",
    path: "/_gateway/providers/{code}",
    operationId: "deleteProvider",
    summary: "Remove an external provider and its tokens",
    admin: true,
    params: CodeParam,
    responses: {
      "204": { description: "Removed" },
      "404": problem("No such provider"),
      "409": problem("A provider from a directory: remove the directory instead"),
    },
  },
  {
    method: "post",
    path: "/_gateway/providers/{code}/token",
    operationId: "rotateProviderToken",
    summary: "Mint a new provider token; the old one stays valid for an overlap (10 min by default)",
    admin: true,
    params: CodeParam,
    requestBody: body(TokenBody, false),
    responses: {
      "200": json(TokenSchema, "The new token, shown once"),
      ...strictBody,
      "404": problem("No such provider"),
      "409": problem("Not an external provider"),
    },
  },
  {
    method: "get",
    path: "/_gateway/providers/{code}/tunnel",
    operationId: "agentTunnel",
    summary:
      "A dial-out agent's tunnel connection (HTTP/1.1 Upgrade: gateway-tunnel); `_` for the token's own provider",
    description:
      "Opened by `gateway agent`. The first connection (control) is answered 101 with X-Gateway-Provider and X-Gateway-Tunnel-Session; data connections carry X-Gateway-Tunnel-Session and become byte pipes the gateway sends the provider's requests down.",
    agent: true,
    params: CodeParam,
    responses: {
      "101": { description: "Switched: a control or data connection of the tunnel" },
      "400": problem("Not Upgrade: gateway-tunnel"),
      ...providerAuth,
      "409": problem(
        "Another agent's tunnel answers its pings, the session is unknown, or the provider is disabled",
      ),
      "426": problem("No Upgrade header"),
      "501": problem("This gateway runs without the byte-level front (Deno)"),
    },
  },
  {
    method: "post",
    path: "/_gateway/providers/{code}/register",
    operationId: "registerAgent",
    summary: "An agent announces its URL; it is checked and probed before the answer",
    agent: true,
    params: CodeParam,
    requestBody: body(RegisterBody),
    responses: {
      "200": json(RegisteredSchema, "Registered: the provider is ready"),
      ...strictBody,
      ...providerAuth,
      "409": problem("Another healthy agent serves it (send replace: true), or it is disabled"),
      "422": problem("The URL is not allowed, does not resolve, or the agent did not answer the probe"),
    },
  },
  {
    method: "post",
    path: "/_gateway/providers/{code}/heartbeat",
    operationId: "agentHeartbeat",
    summary: "An agent keeps its provider alive",
    agent: true,
    params: CodeParam,
    responses: { "200": json(HeartbeatSchema, "When to beat next"), ...providerAuth },
  },
  {
    method: "get",
    path: "/_gateway/problems",
    operationId: "problems",
    summary:
      "What did not load: manifests, runtimes, registry, namespaces, specs; with file, field and reason",
    responses: { "200": json(ProblemsSchema, "Every current problem, errors and warnings") },
  },
  {
    method: "get",
    path: "/_gateway/elements",
    operationId: "elements",
    summary: "UI elements to load",
    responses: { "200": json(ElementsSchema, "One entry per provider element") },
  },
  {
    method: "get",
    path: "/assets/{code}/{file}",
    operationId: "asset",
    summary: "A file of a provider's UI element (the path may hold more segments)",
    params: z.strictObject({ code: CodeParam.shape.code, file: z.string().describe("A path in its folder") }),
    responses: {
      "200": { description: "The file", content: { "*/*": {} } },
      "404": problem("No such provider, element or file"),
    },
  },
];

function operation(route: Route): Record<string, unknown> {
  const params = [
    ...(route.params ? parameters(route.params, "path") : []),
    ...(route.query ? parameters(route.query, "query") : []),
  ];
  return {
    tags: [GATEWAY_TAG],
    operationId: `${PREFIX}${route.operationId}`,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.admin ? { security: adminSecurity } : {}),
    ...(route.agent ? { security: providerSecurity } : {}),
    ...(route.requestBody ? { requestBody: route.requestBody } : {}),
    responses: route.responses,
  };
}

function buildPaths(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(route);
  }
  return paths;
}

function buildSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(named, {
    uri: (id) => `#/components/schemas/${PREFIX}${id}`,
    unrepresentable: "any",
  });
  const out: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _, $id: __, ...rest } = schema as Record<string, unknown>;
    out[`${PREFIX}${id}`] = rest;
  }
  return out;
}

/** The gateway's own routes, as OpenAPI path items. */
export const GATEWAY_PATHS: Record<string, unknown> = buildPaths();

/** The gateway's own components: schemas from zod, and the admin token. */
export const GATEWAY_COMPONENTS: Record<string, Record<string, unknown>> = {
  schemas: buildSchemas(),
  securitySchemes: {
    [`${PREFIX}adminToken`]: {
      type: "http",
      scheme: "bearer",
      description:
        "The gateway's --admin-token. Without one configured, mutating admin routes are open to loopback clients only.",
    },
    [`${PREFIX}providerToken`]: {
      type: "http",
      scheme: "bearer",
      description:
        "An external provider's token (gwp_…), minted by POST /_gateway/providers or /_gateway/providers/{code}/token",
    },
  },
};

/** The gateway's tag. */
export const GATEWAY_TAG_OBJECT = { name: GATEWAY_TAG, description: "The gateway's own routes" };
