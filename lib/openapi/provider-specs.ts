/**
 * Each provider's spec over its life: the manifest's `spec` file (and the files it refers to),
 * loaded at once and, with watching on, again on every change; else `GET <upstream>/openapi.json`
 * once the provider is ready, fetched when the start-up wave is over. A slow load never
 * overwrites a newer one, and a provider that stops serving a spec keeps the one it served.
 */
import type { ProviderEntry } from "../gateway.ts";
import type { Logger } from "../logger.ts";
import type { LoadedSpec } from "./spec.ts";
import { SpecThread } from "./spec-thread.ts";
import { watchFiles } from "./watch.ts";

/** The longest a ready provider's `/openapi.json` waits for other providers to finish starting. */
const SPEC_FETCH_MAX_DELAY_MS = 1000;
/** At start-up, spec files wait at least this long after the listener opened. */
const SPEC_FILES_GRACE_MS = 100;

/** What the spec lifecycle needs of the gateway. */
export interface SpecHost {
  /** The entry that is current for `code` (a replaced entry's late load is dropped). */
  current(code: string): ProviderEntry | undefined;
  /** Whether a start-up wave is under way (then upstream fetches wait). */
  anyStarting(): boolean;
  /** A spec changed: the merged document must be rebuilt. */
  changed(): void;
  watch: boolean;
  log: Logger;
  /** Where a provider's `/openapi.json` is fetched from: its upstream, or (a tunnelled one) its namespace on the gateway. */
  specBase(entry: ProviderEntry): string | null;
}

/** The spec a provider's spec errors leave out of the merged document, as a sentence. */
export function specLeftOutMessage(code: string, spec: LoadedSpec): string {
  return `The spec of provider "${code}" (${spec.source}) is left out of /openapi.json: ${spec.errors.join("; ")}`;
}

export class ProviderSpecs {
  readonly #host: SpecHost;
  /** Providers that became ready and whose `/openapi.json` is still to be fetched. */
  readonly #toFetch = new Set<string>();
  /** Loads under way, so a caller can wait for them ({@link settled}). */
  readonly #loading = new Set<Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Spec files wait here until {@link release}: reading and bundling them is synchronous work
   * (about 60 ms for a 420 KB spec), so at start-up it must come after the listener is open, and
   * one file per turn of the event loop, so that /healthz and the proxy answer in between.
   */
  readonly #queue: Array<{ entry: ProviderEntry; done: () => void }> = [];
  #held = true;
  #draining = false;
  /** The gateway is stopping: nothing more is loaded, and loads cut short are not errors. */
  #stopped = false;

  /** Spec loading (fetch, YAML, bundling, validation) runs on a worker thread, started on first use. */
  readonly #thread: SpecThread;

  constructor(host: SpecHost) {
    this.#host = host;
    this.#thread = new SpecThread(host.log);
  }

  /** Loads the manifest's `spec` file; with watching on, again on every change to it or what it refers to. */
  loadFile(entry: ProviderEntry): Promise<void> {
    const load = new Promise<void>((done) => this.#queue.push({ entry, done }));
    this.#track(load);
    this.#drain();
    return load;
  }

  /** Resolves once no spec file waits or loads (they are let go now if they were held). */
  async filesLoaded(): Promise<void> {
    this.release();
    while (this.#queue.length > 0 || this.#draining) {
      if (this.#loading.size > 0) await Promise.all([...this.#loading]);
      // Between two files the queue waits a turn of the event loop: so does this.
      else await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Lets the spec files load (the listener is open), one per turn of the event loop. */
  release(): void {
    this.#held = false;
    this.#drain();
  }

  /**
   * Lets them load once the start-up wave is over (no provider starting) or SPEC_FETCH_MAX_DELAY_MS
   * from now, whichever comes first, and never sooner than SPEC_FILES_GRACE_MS: the first probes
   * of /healthz, and the providers' own start, come before the CPU time specs take.
   */
  releaseSoon(): void {
    const since = Date.now();
    const check = () => {
      if (!this.#held) return;
      const waited = Date.now() - since;
      if (waited >= SPEC_FETCH_MAX_DELAY_MS || (waited >= SPEC_FILES_GRACE_MS && !this.#host.anyStarting())) {
        this.release();
        return;
      }
      setTimeout(check, 25);
    };
    setTimeout(check, SPEC_FILES_GRACE_MS);
  }

  #drain(): void {
    if (this.#held || this.#draining) return;
    this.#draining = true;
    const next = () => {
      if (this.#stopped) for (const waiting of this.#queue.splice(0)) waiting.done();
      const item = this.#queue.shift();
      if (!item) {
        this.#draining = false;
        return;
      }
      void this.#loadFile(item.entry)
        .catch((error: Error) => this.#loadFailed(item.entry.supervisor.code, error))
        .finally(() => {
          item.done();
          setTimeout(next, 0);
        });
    };
    setTimeout(next, 0);
  }

  async #loadFile(entry: ProviderEntry): Promise<void> {
    const { manifest } = entry.discovered;
    const generation = ++entry.specGeneration;
    const loaded = await this.#thread.loadFile(manifest.spec as string, entry.discovered.dir);
    if (generation !== entry.specGeneration) return;
    const reload = entry.openapi !== undefined;
    this.#apply(entry, loaded);
    if (reload)
      this.#host.log.info(`Reloaded the spec of provider "${manifest.code}"`, { provider: manifest.code });
    entry.unwatchSpec?.();
    entry.unwatchSpec = undefined;
    if (this.#host.watch && this.#host.current(manifest.code) === entry) {
      entry.unwatchSpec = watchFiles(loaded.files, () => void this.loadFile(entry));
    }
  }

  /** A provider became ready: its upstream spec is fetched soon. */
  providerReady(code: string): void {
    this.#toFetch.add(code);
  }

  /**
   * Fetches the waiting upstream specs once no provider is starting, or SPEC_FETCH_MAX_DELAY_MS
   * after the first of them became ready: during a start-up wave every core is busy starting
   * providers, and fetching, parsing and validating specs then would only slow the wave down.
   * Called on every status change.
   */
  fetchSoon(): void {
    if (this.#toFetch.size === 0 || this.#stopped) return;
    if (this.#host.anyStarting()) {
      this.#timer ??= setTimeout(() => this.#fetchWaiting(), SPEC_FETCH_MAX_DELAY_MS);
      return;
    }
    this.#fetchWaiting();
  }

  /** Fetches what waits now, and resolves once no spec is loading (for `smoke` and `check`). */
  async settled(): Promise<void> {
    this.release();
    this.#fetchWaiting();
    while (this.#loading.size > 0) await Promise.all([...this.#loading]);
  }

  /** Drops what is waiting (the gateway is stopping). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#toFetch.clear();
    this.#stopped = true;
    this.#thread.stop();
  }

  #loadFailed(code: string, error: Error): void {
    if (this.#stopped) return;
    this.#host.log.error(`Loading the spec of provider "${code}" failed: ${error.message}`, {
      provider: code,
    });
  }

  #fetchWaiting(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const codes = [...this.#toFetch];
    this.#toFetch.clear();
    for (const code of codes) this.#track(this.#refreshUpstream(code));
  }

  #track(load: Promise<void>): void {
    this.#loading.add(load);
    void load.finally(() => this.#loading.delete(load));
  }

  async #refreshUpstream(code: string): Promise<void> {
    const entry = this.#host.current(code);
    // A spec file is loaded from the manifest instead; `spec: false` says there is none to fetch.
    const base = entry && this.#host.specBase(entry);
    if (!entry || entry.discovered.manifest.spec !== undefined || !base) return;
    const generation = ++entry.specGeneration;
    let loaded: LoadedSpec;
    try {
      loaded = await this.#thread.loadUpstream(base);
    } catch (error) {
      this.#loadFailed(code, error as Error);
      return;
    }
    if (generation !== entry.specGeneration || this.#host.current(code) !== entry) return;
    // Stopped (or restarting) while it was asked: the answer, or the refused connection, is of a
    // process that is gone; the next time it is ready it is asked again.
    if (entry.supervisor.status !== "ready") return;
    // A provider that answers no spec now keeps the one it served before (its paths stay listed).
    if (!loaded.document && loaded.errors.length === 0 && entry.openapi?.document) return;
    this.#apply(entry, loaded);
  }

  #apply(entry: ProviderEntry, loaded: LoadedSpec): void {
    const code = entry.supervisor.code;
    const { log } = this.#host;
    const before = entry.openapi;
    entry.openapi = loaded;
    if (loaded.errors.length > 0) log.warn(specLeftOutMessage(code, loaded), { provider: code });
    for (const warning of loaded.warnings)
      log.warn(`Spec of provider "${code}": ${warning}`, { provider: code });
    // Said once: a restart that serves the same spec again does not repeat them.
    const known = new Set(before?.leftOut.map((l) => l.reason));
    for (const { reason } of loaded.leftOut.filter((l) => !known.has(l.reason))) {
      log.warn(`Provider "${code}": an operation of its spec is left out of /openapi.json: ${reason}`, {
        provider: code,
      });
    }
    const noted = new Set(before?.notes);
    for (const note of loaded.notes.filter((n) => !noted.has(n)))
      log.info(`Provider "${code}": ${note}`, { provider: code });
    this.#host.changed();
  }
}
