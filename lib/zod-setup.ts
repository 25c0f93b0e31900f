import { z } from "zod";

/**
 * Zod compiles a fast path with `new Function` the first time each object schema parses. The
 * gateway parses a few dozen small documents (manifests, the registry, admin bodies), so that
 * code generation costs more than it saves: about 2 ms of a 50-provider start-up (measured). Imported first by
 * main.ts, before any schema parses.
 */
z.config({ jitless: true });
