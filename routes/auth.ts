import type { MiddlewareHandler } from "hono";
import type { Config } from "../lib/config.ts";
import { sameSecret } from "../lib/external/tokens.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";

/**
 * Guards mutating admin routes: with an admin token, `Authorization: Bearer <token>` is needed;
 * without one, only loopback clients of a gateway bound to loopback may call them.
 */
export function requireAdmin(config: Config): MiddlewareHandler<AppEnv> {
  const expected = config.adminToken;
  const boundToLoopback = isLoopback(config.host);
  return async (c, next) => {
    if (expected) {
      const given = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
      // Compared by their hashes: in constant time, and without telling the token's length.
      if (!sameSecret(given, expected)) {
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
