import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import type { AppEnv } from "./env.ts";

/** `GET /metrics`: Prometheus text, or OpenMetrics when the scraper's Accept asks for it. */
export function metricsRoutes(gateway: Gateway, options: { version: string }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // The exposition module (and prom-client) load on the first scrape: a gateway nobody scrapes never pays for them.
  const exposition = () => import("../lib/metrics/exposition.ts");
  app.get("/metrics", async (c) => {
    const { renderMetrics } = await exposition();
    const { body, contentType } = await renderMetrics(
      {
        version: options.version,
        providers: () =>
          [...gateway.providers.values()].map(({ supervisor, target }) => ({
            code: supervisor.code,
            up: supervisor.pid !== null,
            ready: supervisor.status === "ready",
            restarts: supervisor.restarts,
            traffic: target.traffic,
          })),
        openConnections: () => gateway.openConnections(),
        maxFiles: gateway.openFileLimit,
      },
      c.req.header("accept") ?? "",
    );
    return c.body(body, 200, { "content-type": contentType, "cache-control": "no-store" });
  });
  return app;
}
