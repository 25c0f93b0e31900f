import type { Context } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { answerResponse } from "../lib/problem.ts";
import { answers } from "../lib/proxy/answers.ts";
import { forward } from "../lib/proxy/forward.ts";
import { splitRequestUrl } from "../lib/proxy/table.ts";
import type { AppEnv } from "./env.ts";

/** The catch-all route: a request inside a provider's namespace goes to that provider. */
export function proxyHandler(gateway: Gateway) {
  return (c: Context<AppEnv>): Promise<Response> | Response => {
    const { path, query } = splitRequestUrl(c.req.url);
    const match = gateway.table.match(path);
    if (!match) return answerResponse(answers.noProvider(path));
    return forward(c.req.raw, match, query, c.env.context, gateway.config.maxBodySize);
  };
}
