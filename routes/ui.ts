/**
 * The dashboard (contract §8): `GET /` redirects to `/_gateway/ui`, a page made of the strings in
 * ./ui/page.ts and the browser code of ./ui/client.ts, all carried by the binary (nothing from
 * another origin, no build step at run time); and the two reads the page needs beyond the admin
 * API: `/_gateway/traffic` (the last minutes of traffic) and `/_gateway/access` (may this client
 * use the controls).
 */
import { createHash } from "node:crypto";
import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { SAMPLE_MS } from "../lib/metrics/history.ts";
import { etagMatches } from "../lib/openapi/cache.ts";
import { adminVerdict } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { dashboardClient } from "./ui/client.ts";
import { PAGE, STYLE } from "./ui/page.ts";

/**
 * Only this origin: the page, its script, the providers' element scripts under /assets, and the
 * admin API. Inline styles are allowed because elements set them (element.style, <style> in
 * shadow roots); inline scripts are not.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

function asset(text: string, type: string): Asset {
  const body = new TextEncoder().encode(text);
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

export function uiRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Made on first request: start-up does not pay for a page nobody may open.
  let assets: Map<string, Asset> | undefined;
  const assetsByPath = () =>
    (assets ??= new Map([
      ["/_gateway/ui", asset(PAGE, "text/html; charset=utf-8")],
      [
        "/_gateway/ui/assets/client.js",
        asset(`(${dashboardClient.toString()})();\n`, "text/javascript; charset=utf-8"),
      ],
      ["/_gateway/ui/assets/style.css", asset(STYLE, "text/css; charset=utf-8")],
    ]));

  app.get("/", (c) => c.redirect("/_gateway/ui", 302));
  for (const path of ["/_gateway/ui", "/_gateway/ui/assets/client.js", "/_gateway/ui/assets/style.css"]) {
    app.get(path, (c) => {
      const file = assetsByPath().get(path)!;
      const headers = {
        etag: file.etag,
        "cache-control": "no-cache",
        "content-security-policy": DASHBOARD_CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      };
      if (etagMatches(c.req.header("if-none-match"), file.etag))
        return new Response(null, { status: 304, headers });
      return new Response(file.body, { headers: { ...headers, "content-type": file.type } });
    });
  }

  app.get("/_gateway/traffic", (c) =>
    c.json({ interval_ms: SAMPLE_MS, providers: gateway.trafficHistory.snapshot() }),
  );

  app.get("/_gateway/access", (c) => {
    const authorization = c.req.header("authorization");
    const verdict = adminVerdict(gateway.config, authorization, c.env.context.remoteAddress);
    return c.json({
      token_required: Boolean(gateway.config.adminToken),
      token_accepted: gateway.config.adminToken && authorization !== undefined ? verdict.ok : null,
      allowed: verdict.ok,
      reason: verdict.ok ? null : verdict.message,
    });
  });
  return app;
}
