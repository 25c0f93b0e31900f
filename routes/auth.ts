import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { Config } from "../lib/config.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";

/**
 * Guards mutating admin routes: with an admin token, `Authorization: Bearer <token>` is needed;
 * without one, only loopback clients of a gateway bound to loopback may call them.
 */
export function requireAdmin(config: Config): MiddlewareHandler<AppEnv> {
  const expected = config.adminToken ? Buffer.from(config.adminToken) : undefined;
  const boundToLoopback = isLoopback(config.host);
  return async (c, next) => {
    if (expected) {
      const given = Buffer.from(/^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new HttpProblem(401, "This admin route needs Authorization: Bearer <admin token>", {
          headers: { "www-authenticate": 'Bearer realm="gateway"' },
        });
      }
    } else if (!boundToLoopback || !isLoopback(c.env.context.remoteAddress)) {
      throw new HttpProblem(
        403,
        "Admin routes are open only to loopback clients while no admin token is set; start the gateway with --admin-token",
      );
    }
    await next();
  };
}

function isLoopback(address: string): boolean {
  return (
    address === "localhost" ||
    address === "::1" ||
    address.startsWith("127.") ||
    address.startsWith("::ffff:127.")
  );
}
