import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";
import { DASHBOARD_CSP } from "./ui.ts";

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/**
 * `/assets/<code>/<path>`: files of a provider's UI element. Only the folder that holds the
 * element's `source` is served, and no path may leave it.
 */
export function assetRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/assets/:code/*", async (c) => {
    const code = c.req.param("code");
    const files = gateway.providers.get(code)?.elementFiles;
    if (!files) throw new HttpProblem(404, `Provider "${code}" has no UI element`);
    const prefix = `/assets/${code}/`;
    let relative: string;
    try {
      relative = decodeURIComponent(c.req.path.slice(prefix.length));
    } catch {
      throw new HttpProblem(400, "The asset path is not valid percent-encoding");
    }
    const real = await files.find(relative);
    const body = real ? await readFile(real).catch(() => null) : null;
    if (!real || !body) throw new HttpProblem(404, `No asset ${relative} for provider "${code}"`);
    return c.body(body, 200, {
      "content-type": CONTENT_TYPES[extname(relative)] ?? "application/octet-stream",
      "cache-control": "no-cache",
      // Served as what its extension says, never sniffed into something else; an HTML or SVG
      // asset opened on its own may load nothing from another origin.
      "x-content-type-options": "nosniff",
      "content-security-policy": DASHBOARD_CSP,
    });
  });
  return app;
}
