import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { answerOptions, problemResponse } from "../lib/problem.ts";
import { answers, HEALTHY_BODY, READY_BODY } from "../lib/proxy/answers.ts";
import type { AppEnv } from "./env.ts";

/**
 * `/healthz` (the gateway runs) and `/readyz` (every enabled local provider is ready). The
 * byte-level front answers GET and HEAD of both itself (lib/proxy/front/client-side.ts, with the
 * same answers), so these answer only where the app is reached directly (an in-process app in tests).
 */
const JSON_TYPE = { "content-type": "application/json" };

export function healthRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => c.body(HEALTHY_BODY, 200, JSON_TYPE));
  app.get("/readyz", (c) => {
    const { ready, waiting } = gateway.readiness();
    if (ready) return c.body(READY_BODY, 200, JSON_TYPE);
    const answer = answers.notAllReady(waiting);
    return problemResponse(answer.status, answer.detail, answerOptions(answer));
  });
  return app;
}
