import { readFile, realpath } from "node:fs/promises";
import { dirname, extname, resolve, sep } from "node:path";
import { Hono } from "hono";
import type { Gateway } from "../lib/gateway.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";

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
    const entry = gateway.providers.get(code);
    const element = entry?.discovered.manifest.element;
    if (!entry || !element) throw new HttpProblem(404, `Provider "${code}" has no UI element`);
    const providerDir = resolve(entry.discovered.dir);
    const root = dirname(resolve(providerDir, element.source));
    const prefix = `/assets/${code}/`;
    let relative: string;
    try {
      relative = decodeURIComponent(c.req.path.slice(prefix.length));
    } catch {
      throw new HttpProblem(400, "The asset path is not valid percent-encoding");
    }
    const file = resolve(providerDir, relative);
    if (relative.includes("\0") || !(file.startsWith(root + sep) && file.startsWith(providerDir + sep))) {
      throw new HttpProblem(404, `No asset ${relative} for provider "${code}"`);
    }
    try {
      // Symlinks are followed only if they stay inside both the provider dir and the element's folder.
      const real = await realpath(file);
      const realProvider = await realpath(providerDir);
      const realRoot = await realpath(root);
      if (!real.startsWith(realRoot + sep) || !real.startsWith(realProvider + sep))
        throw new Error("outside");
      const body = await readFile(real);
      return c.body(body, 200, {
        "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
        "cache-control": "no-cache",
      });
    } catch {
      throw new HttpProblem(404, `No asset ${relative} for provider "${code}"`);
    }
  });
  return app;
}
