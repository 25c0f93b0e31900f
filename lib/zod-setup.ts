import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

/**
 * Zod's global settings, made once by every module that builds schemas (and first by main.ts):
 *
 * - `jitless`: zod compiles a fast path with `new Function` the first time each object schema
 *   parses. The gateway parses a few dozen small documents (manifests, the registry, admin
 *   bodies), so that code generation costs more than it saves: about 2 ms of a 50-provider
 *   start-up (measured).
 * - English messages: classic zod sets them when its first schema is built, zod/mini (the
 *   manifest's schemas, lib/manifest.ts) never does; a manifest parsed before any classic
 *   schema exists would say "Invalid input" and no more.
 */
z.config({ jitless: true, ...en() });
