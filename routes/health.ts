import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { problemResponse } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";

/** `/healthz` (the gateway runs) and `/readyz` (every enabled local provider is ready). */
export function healthRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const { ready, waiting } = gateway.readiness();
    if (ready) return c.json({ status: "ready" });
    return problemResponse(503, `Not ready: ${waiting.map((w) => `${w.code} is ${w.status}`).join(", ")}`, {
      headers: { "retry-after": "1" },
      extra: { waiting },
    });
  });
  return app;
}
