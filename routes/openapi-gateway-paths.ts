/** The gateway's own routes, as OpenAPI path items, for the merged document. */
const problem = {
  description: "Problem details (RFC 9457)",
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/gateway_Problem" } } },
};
const codeParameter = { name: "code", in: "path", required: true, schema: { type: "string" } };
const providerResponse = {
  description: "A provider",
  content: { "application/json": { schema: { $ref: "#/components/schemas/gateway_Provider" } } },
};
const action = (verb: string) => ({
  post: {
    tags: ["gateway"],
    operationId: `gateway_${verb}Provider`,
    summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} a provider`,
    parameters: [codeParameter],
    responses: { "202": { description: "Accepted" }, "404": problem, "501": problem },
  },
});

export const GATEWAY_PATHS: Record<string, unknown> = {
  "/healthz": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_healthz",
      summary: "The gateway runs",
      responses: { "200": { description: "OK" } },
    },
  },
  "/readyz": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_readyz",
      summary: "Every enabled local provider is ready",
      responses: { "200": { description: "Ready" }, "503": problem },
    },
  },
  "/_gateway/providers": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_listProviders",
      summary: "List providers",
      responses: {
        "200": {
          description: "Providers",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  providers: { type: "array", items: { $ref: "#/components/schemas/gateway_Provider" } },
                },
              },
            },
          },
        },
      },
    },
  },
  "/_gateway/providers/{code}": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_getProvider",
      summary: "One provider",
      parameters: [codeParameter],
      responses: { "200": providerResponse, "404": problem },
    },
  },
  "/_gateway/providers/{code}/logs": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_providerLogs",
      summary: "Recent output lines of a provider",
      parameters: [
        codeParameter,
        { name: "tail", in: "query", schema: { type: "integer", minimum: 1, default: 100 } },
      ],
      responses: { "200": { description: "Log lines" }, "404": problem },
    },
  },
  "/_gateway/providers/{code}/start": action("start"),
  "/_gateway/providers/{code}/stop": action("stop"),
  "/_gateway/providers/{code}/restart": action("restart"),
  "/_gateway/events": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_events",
      summary: "Server-sent events of provider status changes",
      responses: { "200": { description: "SSE stream", content: { "text/event-stream": {} } } },
    },
  },
  "/_gateway/runtimes": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_runtimes",
      summary: "The runtime registry",
      responses: { "200": { description: "Runtimes" } },
    },
  },
  "/_gateway/elements": {
    get: {
      tags: ["gateway"],
      operationId: "gateway_elements",
      summary: "UI elements to load",
      responses: { "200": { description: "Elements" } },
    },
  },
};

export const GATEWAY_SCHEMAS: Record<string, unknown> = {
  Problem: {
    type: "object",
    required: ["type", "title", "status", "detail"],
    properties: {
      type: { type: "string" },
      title: { type: "string" },
      status: { type: "integer" },
      detail: { type: "string" },
    },
  },
  Provider: {
    type: "object",
    properties: {
      code: { type: "string" },
      name: { type: "string" },
      namespace: { type: "string" },
      runtime: { type: ["string", "null"] },
      status: {
        type: "string",
        enum: [
          "disabled",
          "starting",
          "ready",
          "unhealthy",
          "restarting",
          "failed",
          "stopped",
          "awaiting_agent",
        ],
      },
      upstream: { type: ["string", "null"] },
      pid: { type: ["integer", "null"] },
      port: { type: ["integer", "null"] },
      restarts: { type: "integer" },
      version: { type: ["string", "null"] },
      element: { type: ["object", "null"] },
      last_error: { type: ["string", "null"] },
    },
  },
};
