/**
 * The worker thread that loads specs (lib/openapi/spec-thread.ts starts it): reading, bundling,
 * validating and upgrading a large spec takes 50–400 ms of CPU, which on the main thread would
 * hold every request the gateway answers, `/healthz` included. One request at a time per message;
 * the answer is the LoadedSpec (as JSON), which `loadSpecFile` and `loadUpstreamSpec` never throw past.
 */
import { runtime } from "../runtime/index.ts";
import { loadSpecFile, loadUpstreamSpec } from "./spec.ts";

// The executable starts each thread with the JIT held back for start-up (scripts/build.ts); this
// thread is all long-running work, so it gets the normal policy at once.
runtime.startupDone();

/** What the main thread asks: a `spec` file of a provider directory, or an upstream's `/openapi.json`. */
export type SpecJob =
  | { id: number; kind: "file"; spec: string; dir: string }
  | { id: number; kind: "upstream"; base: string };

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<SpecJob>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (event) => {
  const job = event.data;
  const loading = job.kind === "file" ? loadSpecFile(job.spec, job.dir) : loadUpstreamSpec(job.base);
  void loading.then(
    // As JSON text: the main thread's JSON.parse of a large document is quicker than taking the
    // structured clone of it (the 50 × 420 KB benchmark: whole document 4.2–4.6 s against 5.0 s),
    // and a spec is JSON data (the merged document is written as JSON anyway).
    (loaded) => scope.postMessage({ id: job.id, json: JSON.stringify(loaded) }),
    (error: Error) => scope.postMessage({ id: job.id, error: error.message }),
  );
};
