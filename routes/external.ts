import { Hono } from "hono";
import { ExternalError, TOKEN_OVERLAP_MS } from "../lib/external/externals.ts";
import type { Gateway } from "../lib/gateway.ts";
import { HttpProblem } from "../lib/problem.ts";
import { requireAdmin } from "./auth.ts";
import { readJsonBody } from "./body.ts";
import type { AppEnv } from "./env.ts";
import { CreateProviderBody, RegisterBody, TokenBody } from "./schemas.ts";

/** An ExternalError as the problem the client gets. */
async function answering<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ExternalError)
      throw new HttpProblem(error.status, error.message, { headers: error.headers });
    throw error;
  }
}

/**
 * External providers (contract §5): created and deleted by the operator (admin), their tokens
 * minted; registered and kept alive by their agents (provider token).
 */
export function externalRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const admin = requireAdmin(gateway.config);
  const { externals } = gateway;

  app.post("/_gateway/providers", admin, async (c) => {
    const body = await readJsonBody(c, CreateProviderBody);
    const { code, connection } = await answering(() => externals.create(body));
    return c.json({ provider: gateway.view(code)!, connection }, 201);
  });

  app.delete("/_gateway/providers/:code", admin, async (c) => {
    await answering(() => externals.remove(c.req.param("code")));
    return c.body(null, 204);
  });

  app.post("/_gateway/providers/:code/token", admin, async (c) => {
    const code = c.req.param("code");
    // The body is optional: {"overlap_seconds": N} sets how long the old token still works.
    const hasBody = (c.req.header("content-length") ?? "0") !== "0" || c.req.header("transfer-encoding");
    const body = hasBody ? await readJsonBody(c, TokenBody) : {};
    const overlapMs = body.overlap_seconds === undefined ? TOKEN_OVERLAP_MS : body.overlap_seconds * 1000;
    const { token, previousExpiresAt } = await answering(() => externals.rotate(code, overlapMs));
    return c.json({
      provider_code: code,
      auth_token: token,
      previous_token_expires_at: previousExpiresAt,
      overlap_seconds: overlapMs / 1000,
    });
  });

  app.post("/_gateway/providers/:code/register", async (c) => {
    const code = c.req.param("code");
    const keeper = await answering(() =>
      externals.authenticate(code, c.req.header("authorization"), c.env.context.remoteAddress),
    );
    const body = await readJsonBody(c, RegisterBody);
    const outcome = await keeper.register(body.url, { replace: body.replace, healthPath: body.health_path });
    if (!outcome.ok) throw new HttpProblem(outcome.status, outcome.message);
    return c.json({ provider: gateway.view(code)! });
  });

  // The byte-level front answers tunnel requests before they get here (lib/proxy/front/reverse.ts);
  // what arrives is one it could not take: no front (Deno), or no Upgrade.
  app.get("/_gateway/providers/:code/tunnel", (c) => {
    if (!c.req.header("upgrade"))
      throw new HttpProblem(
        426,
        "A tunnel is an HTTP/1.1 upgrade: send Upgrade: gateway-tunnel (gateway agent does)",
        {
          headers: { upgrade: "gateway-tunnel", connection: "Upgrade" },
        },
      );
    throw new HttpProblem(
      501,
      "Dial-out tunnels need the byte-level front, which this gateway does not run (under Deno)",
    );
  });

  app.post("/_gateway/providers/:code/heartbeat", async (c) => {
    const code = c.req.param("code");
    const keeper = await answering(() =>
      externals.authenticate(code, c.req.header("authorization"), c.env.context.remoteAddress),
    );
    return c.json(keeper.heartbeat());
  });

  return app;
}
