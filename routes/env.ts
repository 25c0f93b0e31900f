import type { RequestContext } from "../lib/runtime/index.ts";

/** Hono bindings: what the server hands every request. */
export type AppEnv = { Bindings: { context: RequestContext } };
