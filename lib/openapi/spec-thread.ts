/**
 * Loads specs on a worker thread (./spec-worker.ts), so the CPU time a large spec takes (50–400 ms
 * to read, bundle, validate and upgrade one) never holds the event loop that proxies requests and
 * answers `/healthz`. The worker starts on the first load and ends once it has had nothing to do
 * for IDLE_MS, so a gateway whose specs are loaded carries no second JavaScript heap. Where a
 * worker cannot be started, specs load on the main thread, and the log says so once.
 */
import type { Logger } from "../logger.ts";
import type { LoadedSpec } from "./spec.ts";
import type { SpecJob } from "./spec-worker.ts";

/** A worker with nothing to load ends after this long (a reload starts a new one). */
const IDLE_MS = 500;

type Job = { kind: "file"; spec: string; dir: string } | { kind: "upstream"; base: string };

interface Pending {
  job: Job;
  resolve(loaded: LoadedSpec): void;
  reject(error: Error): void;
}

export class SpecThread {
  #worker: Worker | null = null;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #unavailable = false;
  #stopped = false;

  /** `module`: the worker's module (tests name one that cannot load); by default spec-worker.ts. */
  constructor(
    private readonly log: Logger,
    private readonly module = workerSpecifier(),
  ) {}

  /** Loads a provider's `spec` file from its directory. */
  loadFile(spec: string, dir: string): Promise<LoadedSpec> {
    return this.#run({ kind: "file", spec, dir });
  }

  /** Fetches and loads `<base>/openapi.json`. */
  loadUpstream(base: string): Promise<LoadedSpec> {
    return this.#run({ kind: "upstream", base });
  }

  /** Ends the worker; loads in flight are rejected, and so is every load after. */
  stop(): void {
    this.#stopped = true;
    this.#end(new Error("the gateway is stopping"));
  }

  async #run(job: Job): Promise<LoadedSpec> {
    if (this.#stopped) throw new Error("the gateway is stopping");
    const worker = this.#unavailable ? null : this.#start();
    if (!worker) return inThisThread(job);
    clearTimeout(this.#idleTimer);
    const id = this.#nextId++;
    return new Promise<LoadedSpec>((resolve, reject) => {
      this.#pending.set(id, { job, resolve, reject });
      worker.postMessage({ id, ...job } satisfies SpecJob);
    });
  }

  #start(): Worker | null {
    if (this.#worker) return this.#worker;
    let worker: Worker;
    try {
      worker = new Worker(this.module, { type: "module" });
    } catch (error) {
      this.#fallBack((error as Error).message);
      return null;
    }
    worker.onmessage = (event: MessageEvent<{ id: number; json?: string; error?: string }>) => {
      const { id, json, error } = event.data;
      const loaded = json === undefined ? undefined : (JSON.parse(json) as LoadedSpec);
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      if (loaded) pending?.resolve(loaded);
      else pending?.reject(new Error(error ?? "the spec worker sent no answer"));
      if (this.#pending.size === 0) this.#idleSoon();
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault?.();
      // Its loads are done here instead: a spec is never lost to a worker that failed.
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      this.#end();
      this.#fallBack(event.message);
      for (const { job, resolve, reject } of pending) inThisThread(job).then(resolve, reject);
    };
    // Bun: an idle worker does not keep the process alive (the listener does while it serves).
    (worker as { unref?: () => void }).unref?.();
    this.#worker = worker;
    return worker;
  }

  /** From now on specs load on the main thread; the log says why, once. */
  #fallBack(reason: string): void {
    if (this.#unavailable) return;
    this.#unavailable = true;
    this.log.warn(
      `Specs now load on the main thread (requests wait while one loads): the spec worker thread failed: ${reason}`,
    );
  }

  #idleSoon(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending.size === 0) this.#end();
    }, IDLE_MS);
    (this.#idleTimer as { unref?: () => void }).unref?.();
  }

  #end(error?: Error): void {
    clearTimeout(this.#idleTimer);
    const worker = this.#worker;
    this.#worker = null;
    worker?.terminate();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject } of pending) reject(error ?? new Error("the spec worker ended"));
  }
}

/**
 * Where the worker's module is. A compiled executable (its script is `/$bunfs/root/gateway`)
 * finds a worker by the path its entry point was given to `bun build` with (scripts/build.ts);
 * there `import.meta.url` is the source file's path at build time, which need not exist here.
 * From source, it is the file beside this one.
 */
function workerSpecifier(): string {
  if (process.argv[1]?.startsWith("/$bunfs/")) return "./lib/openapi/spec-worker.ts";
  return new URL("./spec-worker.ts", import.meta.url).href;
}

/** The same load without a worker (spec loading is imported on first use: none of it is needed to start). */
async function inThisThread(job: Job): Promise<LoadedSpec> {
  const { loadSpecFile, loadUpstreamSpec } = await import("./spec.ts");
  return job.kind === "file" ? loadSpecFile(job.spec, job.dir) : loadUpstreamSpec(job.base);
}
