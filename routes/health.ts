import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import type { AppEnv } from "./env.ts";

/** `/healthz` (the gateway runs) and `/readyz` (every enabled local provider is ready). */
export function healthRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const { ready, waiting } = gateway.readiness();
    if (ready) return c.json({ status: "ready" });
    return c.json(
      {
        type: "about:blank",
        title: "Service Unavailable",
        status: 503,
        detail: `Not ready: ${waiting.map((w) => `${w.code} is ${w.status}`).join(", ")}`,
        waiting,
      },
      503,
      { "content-type": "application/problem+json", "retry-after": "1" },
    );
  });
  return app;
}
