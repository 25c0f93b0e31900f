import { createHash } from "node:crypto";
import { Hono } from "hono";
import swaggerUiCss from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import swaggerUiBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import { etagMatches } from "../lib/openapi/cache.ts";
import type { AppEnv } from "./env.ts";

/**
 * `/docs`: an interactive reference of /openapi.json (Swagger UI). Its files are imported as text,
 * so the compiled binary carries them: the page works with no network, and its Content Security
 * Policy lets it talk to this gateway only.
 */
export function docsRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Encoded and hashed on first request, not at start-up: the bundle is over a megabyte.
  const assets = new Map<string, () => Asset>([
    ["/docs", lazyAsset(PAGE, "text/html; charset=utf-8")],
    ["/docs/assets/swagger-ui-bundle.js", lazyAsset(swaggerUiBundle, "text/javascript; charset=utf-8")],
    ["/docs/assets/swagger-ui.css", lazyAsset(swaggerUiCss, "text/css; charset=utf-8")],
    ["/docs/assets/init.js", lazyAsset(INIT, "text/javascript; charset=utf-8")],
  ]);
  for (const [path, load] of assets) {
    app.get(path, (c) => {
      const file = load();
      const headers = {
        etag: file.etag,
        "cache-control": "no-cache",
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
      };
      if (etagMatches(c.req.header("if-none-match"), file.etag))
        return new Response(null, { status: 304, headers });
      return new Response(file.body, { headers: { ...headers, "content-type": file.type } });
    });
  }
  return app;
}

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

function lazyAsset(text: string, type: string): () => Asset {
  let built: Asset | undefined;
  return () => {
    built ??= asset(text, type);
    return built;
  };
}

function asset(text: string, type: string): Asset {
  const body = new TextEncoder().encode(text);
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/** Only this origin: scripts, styles, and every request the page or "Try it out" makes. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Gateway API reference</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const INIT = `"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: true,
  displayOperationId: true,
  displayRequestDuration: true,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  filter: true,
  queryConfigEnabled: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;
