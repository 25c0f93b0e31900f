import type { MiddlewareHandler } from "hono";
import type { Config } from "../lib/config.ts";
import { sameSecret } from "../lib/external/tokens.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";

/** Whether a request may call the mutating admin routes: yes, or the problem that says why not. */
export type AdminVerdict = { ok: true } | { ok: false; status: 401 | 403; message: string };

/**
 * The rule of the mutating admin routes: with an admin token, `Authorization: Bearer <token>` is
 * needed; without one, only loopback clients of a gateway bound to loopback may call them.
 */
export function adminVerdict(
  config: Config,
  authorization: string | undefined,
  remoteAddress: string,
): AdminVerdict {
  const expected = config.adminToken;
  if (expected) {
    const given = /^Bearer (.+)$/.exec(authorization ?? "")?.[1] ?? "";
    // Compared by their hashes: in constant time, and without telling the token's length.
    if (sameSecret(given, expected)) return { ok: true };
    return { ok: false, status: 401, message: "This admin route needs Authorization: Bearer <admin token>" };
  }
  if (isLoopback(config.host) && isLoopback(remoteAddress)) return { ok: true };
  return {
    ok: false,
    status: 403,
    message:
      "Admin routes are open only to loopback clients while no admin token is set; start the gateway with --admin-token",
  };
}

/** Guards mutating admin routes with {@link adminVerdict}. */
export function requireAdmin(config: Config): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const verdict = adminVerdict(config, c.req.header("authorization"), c.env.context.remoteAddress);
    if (!verdict.ok) {
      throw new HttpProblem(
        verdict.status,
        verdict.message,
        verdict.status === 401 ? { headers: { "www-authenticate": 'Bearer realm="gateway"' } } : undefined,
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
