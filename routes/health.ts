import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { answerOptions, problemResponse } from "../lib/problem.ts";
import { answers, HEALTHY_BODY, READY_BODY } from "../lib/proxy/answers.ts";
import type { AppEnv } from "./env.ts";

const JSON_TYPE = { "content-type": "application/json" };

/**
 * `/healthz` (the gateway runs) and `/readyz` (every enabled local provider is ready). Where the
 * byte-level front runs (Bun), it answers GET and HEAD of both itself with the same answers
 * (lib/proxy/front/client-side.ts); these serve where the app is the listener (Deno,
 * GATEWAY_PROXY_MODE=fetch).
 */

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
