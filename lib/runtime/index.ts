import { bunAdapter } from "./bun.ts";
import { denoAdapter } from "./deno.ts";
import type { RuntimeAdapter } from "./types.ts";

export type * from "./types.ts";

/** The adapter for the runtime this process runs on. */
export const runtime: RuntimeAdapter = "Deno" in globalThis ? denoAdapter : bunAdapter;
