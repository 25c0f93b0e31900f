import type { Context } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { problemResponse } from "../lib/problem.ts";
import { forward } from "../lib/proxy/forward.ts";
import { splitRequestUrl } from "../lib/proxy/table.ts";
import type { AppEnv } from "./env.ts";

/** The catch-all route: a request inside a provider's namespace goes to that provider. */
export function proxyHandler(gateway: Gateway) {
  return (c: Context<AppEnv>): Promise<Response> | Response => {
    const { path, query } = splitRequestUrl(c.req.url);
    const match = gateway.table.match(path);
    if (!match) {
      return problemResponse(404, `No provider serves ${path}; GET /_gateway/providers lists the namespaces`);
    }
    return forward(c.req.raw, match, query, c.env.context, gateway.config.maxBodySize);
  };
}
