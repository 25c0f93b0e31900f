import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { answerOptions, problemResponse } from "../lib/problem.ts";
import { answers } from "../lib/proxy/answers.ts";
import type { AppEnv } from "./env.ts";

/**
 * `/healthz` (the gateway runs) and `/readyz` (every enabled local provider is ready). The
 * byte-level front answers GET and HEAD of both itself (lib/proxy/front/client-side.ts, the same
 * bodies), so these answer only where the app is reached directly (an in-process app in tests).
 */
export function healthRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const { ready, waiting } = gateway.readiness();
    if (ready) return c.json({ status: "ready" });
    const answer = answers.notAllReady(waiting);
    return problemResponse(answer.status, answer.detail, answerOptions(answer));
  });
  return app;
}
