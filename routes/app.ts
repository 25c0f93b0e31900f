import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { HttpProblem, problemResponse } from "../lib/problem.ts";
import { assetRoutes } from "./assets.ts";
import { docsRoutes } from "./docs.ts";
import type { AppEnv } from "./env.ts";
import { externalRoutes } from "./external.ts";
import { healthRoutes } from "./health.ts";
import { mcpRoutes } from "./mcp.ts";
import { metricsRoutes } from "./metrics.ts";
import { openApiRoutes } from "./openapi.ts";
import { providerRoutes } from "./providers.ts";
import { proxyHandler } from "./proxy.ts";
import { uiRoutes } from "./ui.ts";

/** The whole HTTP surface: gateway routes first, then the namespace proxy. */
export function createApp(gateway: Gateway, options: { version: string }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.route("/", healthRoutes(gateway));
  app.route("/", metricsRoutes(gateway, options));
  app.route("/", mcpRoutes(gateway, options));
  app.route("/", externalRoutes(gateway));
  app.route("/", providerRoutes(gateway));
  app.route("/", openApiRoutes(gateway, options.version));
  app.route("/", docsRoutes());
  app.route("/", assetRoutes(gateway));
  app.route("/", uiRoutes(gateway));
  app.all("*", proxyHandler(gateway));
  app.onError((error) => {
    if (error instanceof HttpProblem) return error.toResponse();
    // Never a stack trace to the client; the operator gets it in the log.
    console.error(error);
    return problemResponse(500, "The gateway failed to handle this request; see its log");
  });
  return app;
}
