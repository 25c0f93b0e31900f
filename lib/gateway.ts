import { dirname, join } from "node:path";
import type { Config } from "./config.ts";
import { findDependencyProblems, stopWaves } from "./dependencies.ts";
import { type DiscoveredProvider, type DiscoveryResult, discoverProviders, SKIPPED } from "./discovery.ts";
import { ElementFiles } from "./elements.ts";
import { EventJournal } from "./events.ts";
import { resolverFor } from "./external/addresses.ts";
import { ExternalProviders } from "./external/externals.ts";
import { ExternalProvider } from "./external/provider.ts";
import { Tunnels } from "./external/tunnels.ts";
import type { Logger } from "./logger.ts";
import { TrafficHistory } from "./metrics/history.ts";
import { namespaceConflict } from "./namespaces.ts";
import { ProviderSpecs, specLeftOutMessage } from "./openapi/provider-specs.ts";
import type { LoadedSpec } from "./openapi/spec.ts";
import type { Problem } from "./problems.ts";
import { NamespaceTable, type ProxyTarget } from "./proxy/table.ts";
import { Traffic } from "./proxy/traffic.ts";
import { Registry, RegistryCorruptError } from "./registry.ts";
import type { RuntimeAdapter } from "./runtime/index.ts";
import { RuntimeRegistry } from "./runtimes.ts";
import { ProcessLedger } from "./supervisor/ledger.ts";
import { ProviderSupervisor } from "./supervisor/provider.ts";
import type { ProviderView, StatusEvent } from "./supervisor/status.ts";
import type { Supervised } from "./supervisor/supervised.ts";

/** A provider the gateway knows, with what it knows about its spec. */
export interface ProviderEntry {
  /** Its keeper: a ProviderSupervisor for a process the gateway runs, an ExternalProvider for an agent. */
  supervisor: Supervised;
  discovered: DiscoveredProvider;
  /** True when the manifest names something to run (binary, entry). */
  launchable: boolean;
  /** The registry's enabled flag when this entry was made. */
  enabled: boolean;
  /** Whether its namespace is routed (false after a namespace conflict). */
  mounted: boolean;
  /**
   * Its spec as last loaded (file or upstream): the OpenAPI 3.1 `document` when it is valid, and
   * its errors and warnings; undefined before any (lib/openapi/provider-specs.ts keeps it).
   */
  openapi?: LoadedSpec;
  /** Stops watching its spec files. */
  unwatchSpec?: () => void;
  /** Bumped on every spec load, so a slow load never overwrites a newer one. */
  specGeneration: number;
  /** The files of its UI element, when it declares one. */
  elementFiles?: ElementFiles;
  /** What the proxy routes to; made once, so its traffic counters outlive rescans. */
  target: ProxyTarget;
  /**
   * Set while the manifest on disk cannot be applied (it does not load, or its namespace now
   * collides): the entry is the last version that could, kept running as it was.
   */
  manifestError?: string;
}

/**
 * The gateway's state: providers found on disk, their supervisors, the registry, the routing
 * table and the status event stream. The HTTP layer (routes/) reads it; main.ts drives it.
 */
export class Gateway {
  readonly config: Config;
  readonly runtimes = new RuntimeRegistry();
  readonly registry: Registry;
  /** Which provider process groups are running, on disk, for orphan clean-up after a crash. */
  readonly ledger: ProcessLedger;
  readonly providers = new Map<string, ProviderEntry>();
  table = new NamespaceTable([]);
  /** Set once the listener is open; providers get it as CORE_GATEWAY_URL. */
  url = "";
  /** Bumped on every change that may alter the OpenAPI document. */
  revision = 0;
  /** Client connections open at the listener (set by serve when the byte-level front runs). */
  openConnections: () => number | undefined = () => undefined;
  /** The soft open-file limit, once raised at start (for the metrics). */
  openFileLimit: number | undefined;

  readonly #adapter: RuntimeAdapter;
  readonly #log: Logger;
  readonly #listeners = new Set<(event: StatusEvent, id: number) => void>();
  /** Every status change, numbered, for `GET /_gateway/events` and its `Last-Event-ID`. */
  readonly events = new EventJournal();
  /** The last minutes of each provider's traffic, sampled from its counters (the dashboard's sparklines). */
  readonly trafficHistory = new TrafficHistory(() =>
    [...this.providers.values()].map((entry) => ({
      code: entry.supervisor.code,
      traffic: entry.target.traffic,
    })),
  );
  readonly #documentListeners = new Set<() => void>();
  readonly #specs: ProviderSpecs;
  /** External providers: their creation, tokens, agents' authentication, the heartbeat timer. */
  readonly externals: ExternalProviders;
  /** Dial-out agents' tunnels (lib/external/tunnels.ts); the byte-level front carries them. */
  readonly tunnels: Tunnels;
  #stopping = false;
  /** What the last load or rescan found wrong (runtimes, registry, manifests, namespaces). */
  #loadProblems: Problem[] = [];
  /** Messages of the problems logged already, so a rescan does not log the same ones again. */
  #logged = new Set<string>();

  constructor(config: Config, deps: { adapter: RuntimeAdapter; logger: Logger }) {
    this.config = config;
    this.registry = new Registry(config.registryFile);
    this.ledger = new ProcessLedger(join(dirname(config.registryFile), ".gateway-processes.json"));
    this.#adapter = deps.adapter;
    this.#log = deps.logger;
    this.#specs = new ProviderSpecs({
      current: (code) => this.providers.get(code),
      anyStarting: () => this.#anyStarting(),
      changed: () => this.#documentChanged(),
      watch: config.watch,
      log: deps.logger,
      // A tunnelled provider has no URL to fetch from: its spec comes through the gateway itself.
      specBase: (entry) =>
        entry.supervisor instanceof ExternalProvider && entry.supervisor.tunnelled
          ? `${this.url}${entry.discovered.manifest.namespace}`
          : entry.supervisor.upstream,
    });
    this.externals = new ExternalProviders({
      config,
      registry: this.registry,
      logger: deps.logger,
      onStatus: (event) => this.#onStatus(event),
      resolve: resolverFor(config.resolver),
      url: () => this.url,
      taken: () =>
        [...this.providers.values()].map((entry) => ({
          code: entry.supervisor.code,
          namespace: entry.discovered.manifest.namespace,
          external: entry.supervisor instanceof ExternalProvider,
          mounted: entry.mounted,
        })),
      keeper: (code) => {
        const keeper = this.providers.get(code)?.supervisor;
        return keeper instanceof ExternalProvider ? keeper : undefined;
      },
      reload: async () => {
        await this.rescan();
      },
    });
    this.tunnels = new Tunnels(this.externals, deps.logger, (code) => {
      const keeper = this.providers.get(code)?.supervisor;
      return keeper instanceof ExternalProvider ? keeper : undefined;
    });
  }

  /**
   * Reads runtimes, registry and provider directories (or the `found` given, for `gateway check`).
   * Never throws for a bad provider. With `persist: false` the registry file is read but never written.
   */
  load(options: { found?: DiscoveryResult; persist?: boolean } = {}): void {
    this.#loadRuntimesAndRegistry();
    const found = options.found ?? discoverProviders(this.config.providersDir);
    this.#reconcile(found, options.persist !== false);
  }

  /**
   * SIGHUP: reads everything again. New providers start, removed ones stop, changed ones
   * (manifest or enabled flag) restart; untouched providers keep running undisturbed.
   */
  async rescan(): Promise<{ started: string[]; stopped: string[] }> {
    this.#loadRuntimesAndRegistry();
    const found = discoverProviders(this.config.providersDir);
    const { retired, fresh } = this.#reconcile(found, true);
    // Requests for a changed provider wait for its new process while the old one drains and stops.
    for (const entry of fresh)
      if (entry.launchable && entry.supervisor.status !== "disabled") entry.supervisor.expectStart();
    await Promise.all(retired.map((entry) => entry.supervisor.stop("rescan: removed or changed")));
    this.start(fresh);
    return {
      started: fresh.map((entry) => entry.supervisor.code),
      stopped: retired.map((entry) => entry.supervisor.code),
    };
  }

  #loadRuntimesAndRegistry(): void {
    this.#logged = new Set(this.#loadProblems.map((problem) => problem.message));
    this.#loadProblems = [];
    this.runtimes.reset();
    const runtimesFile = join(this.config.providersDir, "runtimes.yaml");
    try {
      this.runtimes.loadFile(runtimesFile);
    } catch (error) {
      this.#problem({ level: "error", file: runtimesFile, message: (error as Error).message });
    }
  }

  /**
   * Reads the registry and records providers seen for the first time, moved or at a new
   * version, as one locked read-modify-write (with `persist: false`, in memory only). Never
   * throws: a registry that cannot be locked, read or written is reported, the gateway goes on
   * with what it knows, and the write is tried again on the next rescan.
   */
  #recordInRegistry(found: DiscoveryResult, persist: boolean): void {
    const now = new Date().toISOString();
    // External providers live in the registry alone (their tokens' hashes too): if the file is
    // deleted or found corrupt, the ones this gateway knows are written back, never lost silently.
    const knownExternals = this.registry.list().filter((entry) => entry.external);
    let lost = false;
    const record = (registry: Registry) => {
      if (lost || registry.lastLoad === "missing") {
        const restored = knownExternals.filter((entry) => !registry.get(entry.code));
        for (const entry of restored) registry.put(entry);
        if (restored.length > 0) {
          this.#log.warn(
            `The registry ${registry.file} was ${lost ? "corrupt" : "missing"}: wrote back the external providers this gateway knows (${restored.map((e) => e.code).join(", ")}), tokens included`,
          );
        }
      }
      for (const { manifest, dir } of found.providers) {
        const registered = registry.get(manifest.code);
        if (registered && registered.source === dir && registered.version === manifest.version) continue;
        registry.put({
          code: manifest.code,
          version: manifest.version,
          enabled: registered?.enabled ?? true,
          installed_at: registered?.installed_at ?? now,
          source: dir,
          external: registered?.external,
        });
      }
    };
    const onCorrupt = (error: RegistryCorruptError) => {
      lost = true;
      this.#problem({ level: "error", file: error.file, message: error.message });
    };
    try {
      if (persist) this.registry.update(record, { onCorrupt });
      else {
        try {
          this.registry.load();
        } catch (error) {
          if (!(error instanceof RegistryCorruptError)) throw error;
          onCorrupt(error);
        }
        record(this.registry);
      }
    } catch (error) {
      this.#problem({
        level: "error",
        file: this.registry.file,
        message: `${(error as Error).message}; the gateway goes on with the registry it has and writes it again on the next change`,
      });
    }
  }

  /**
   * What is wrong now: the last load's problems (runtimes, registry, manifests, namespaces,
   * dependencies), then each provider's spec errors. For `check`, `smoke` and `GET /_gateway/problems`.
   */
  get problems(): Problem[] {
    const problems = [...this.#loadProblems];
    for (const entry of this.providers.values()) {
      const spec = entry.openapi;
      if (!spec || spec.errors.length === 0) continue;
      problems.push({
        level: "error",
        code: entry.supervisor.code,
        file: spec.source,
        message: specLeftOutMessage(entry.supervisor.code, spec),
      });
    }
    return problems;
  }

  /**
   * Makes `providers` match what was found: entries whose manifest, directory and enabled flag
   * are unchanged are kept as they are (running or not); others are created afresh. A manifest
   * that no longer loads, or whose namespace now collides, never stops what runs: the last
   * version that could be applied is kept, with the problem noted. Returns the entries that were
   * replaced or removed (to stop) and the new ones (to start).
   */
  #reconcile(found: DiscoveryResult, persist: boolean): { retired: ProviderEntry[]; fresh: ProviderEntry[] } {
    const previous = new Map(this.providers);
    const retired: ProviderEntry[] = [];
    const fresh: ProviderEntry[] = [];
    const next = new Map<string, ProviderEntry>();
    // One copy of the gateway's environment for all new entries (read, never written).
    const baseEnv = providerBaseEnv();
    this.#recordInRegistry(found, persist);
    const keep = (entry: ProviderEntry, manifestError?: string) => {
      entry.manifestError = manifestError;
      next.set(entry.supervisor.code, entry);
    };
    /** Definitions to create entries for, each with the entry it replaces. */
    const changes: Array<{ discovered: DiscoveredProvider; enabled: boolean; old?: ProviderEntry }> = [];
    // Directories, then the external providers made over the API (kept in the registry only).
    const definitions = [
      ...found.providers,
      ...this.externals.definitions(new Set(found.providers.map((provider) => provider.manifest.code))),
    ];
    for (const discovered of definitions) {
      const { manifest } = discovered;
      const enabled = this.registry.get(manifest.code)?.enabled !== false;
      const old = previous.get(manifest.code);
      if (old && old.enabled === enabled && sameDefinition(old.discovered, discovered)) keep(old);
      else changes.push({ discovered, enabled, old });
    }
    const problems = [...found.problems];
    for (const [code, old] of previous) {
      if (next.has(code) || changes.some((change) => change.old === old)) continue;
      if (!found.broken.has(old.discovered.dir)) continue;
      // Its manifest is there but does not load (an edit under way, a typo): keep what runs.
      const problem = problems.find((p) => p.level === "error" && p.dir === old.discovered.dir);
      const message = `${(problem?.message ?? `Cannot load manifest ${old.discovered.file}`).replace(SKIPPED, "")}; keeping the running version of provider "${code}" until it is fixed`;
      if (problem) {
        problem.message = message;
        problem.code = code;
      }
      const enabled = this.registry.get(code)?.enabled !== false;
      if (old.enabled === enabled) keep(old, message);
      // Disabled or enabled in the registry meanwhile: that still applies, to the last good manifest.
      else changes.push({ discovered: old.discovered, enabled, old });
    }
    for (const problem of problems) this.#problem(problem);
    // Namespaces are claimed by what keeps running first, then by new definitions in code order.
    const mounted = [...next.values()]
      .filter((entry) => entry.mounted)
      .map((entry) => ({ code: entry.supervisor.code, namespace: entry.discovered.manifest.namespace }));
    changes.sort((a, b) => (a.discovered.manifest.code < b.discovered.manifest.code ? -1 : 1));
    for (const { discovered, enabled, old } of changes) {
      const { manifest } = discovered;
      const conflict = old ? namespaceConflict(manifest.namespace, mounted) : null;
      if (old && conflict) {
        const message = `Provider "${manifest.code}" (${discovered.file}): field "namespace" cannot change to ${manifest.namespace}: ${conflict}; keeping the running version until it is fixed`;
        this.#problem({
          level: "error",
          code: manifest.code,
          file: discovered.file,
          field: "namespace",
          message,
        });
        keep(old, message);
        if (old.mounted) mounted.push({ code: manifest.code, namespace: old.discovered.manifest.namespace });
        continue;
      }
      if (old) retired.push(old);
      const entry = this.#createEntry(discovered, enabled, mounted, baseEnv);
      next.set(manifest.code, entry);
      fresh.push(entry);
    }
    for (const [code, old] of previous) if (!next.has(code) && !retired.includes(old)) retired.push(old);
    for (const old of retired) old.unwatchSpec?.();
    this.providers.clear();
    for (const code of [...next.keys()].sort()) this.providers.set(code, next.get(code)!);
    this.table = new NamespaceTable(
      [...this.providers.values()].filter((entry) => entry.mounted).map((entry) => entry.target),
    );
    this.#documentChanged();
    return { retired, fresh };
  }

  #createEntry(
    discovered: DiscoveredProvider,
    enabled: boolean,
    mounted: Array<{ code: string; namespace: string }>,
    baseEnv: Readonly<Record<string, string>>,
  ): ProviderEntry {
    const { manifest } = discovered;
    const external = manifest.runtime === "external";
    const traffic = new Traffic();
    const supervisor: Supervised = external
      ? this.externals.keeper(discovered, enabled)
      : new ProviderSupervisor(manifest, discovered.dir, {
          adapter: this.#adapter,
          runtimes: this.runtimes,
          logger: this.#log,
          gatewayUrl: () => this.url,
          baseEnv,
          onStatus: (event) => this.#onStatus(event),
          ledger: this.ledger,
          drain: (timeoutMs) => traffic.idle(timeoutMs),
        });
    const launchable = manifest.runtime !== undefined && !external;
    const entry: ProviderEntry = {
      supervisor,
      discovered,
      launchable,
      enabled,
      mounted: false,
      specGeneration: 0,
      elementFiles: manifest.element ? new ElementFiles(discovered.dir, manifest.element.source) : undefined,
      target: proxyTarget(supervisor, traffic),
    };
    const conflict = namespaceConflict(manifest.namespace, mounted);
    if (conflict) {
      const message = `Provider "${manifest.code}" (${discovered.file}) is disabled: ${conflict}`;
      this.#problem({
        level: "error",
        code: manifest.code,
        file: discovered.file,
        field: "namespace",
        message,
      });
      supervisor.disable("namespace conflict", message);
      return entry;
    }
    entry.mounted = true;
    mounted.push({ code: manifest.code, namespace: manifest.namespace });
    if (!enabled) {
      supervisor.disable("disabled in the registry (gateway providers enable CODE to start it)");
    } else if (launchable) {
      try {
        this.runtimes.resolve(manifest.runtime!);
      } catch (error) {
        const message = `Provider "${manifest.code}" (${discovered.file}): ${(error as Error).message}`;
        this.#problem({
          level: "error",
          code: manifest.code,
          file: discovered.file,
          field: "runtime",
          message,
        });
        supervisor.disable("unknown runtime", message);
      }
    }
    // Queued: spec files load on the spec worker once the listener is open (ProviderSpecs.release).
    if (manifest.spec) void this.#specs.loadFile(entry);
    return entry;
  }

  /**
   * Whether a provider {@link start} would start runs under a runtime that does not end with the
   * gateway by itself (`dies_with_gateway`): those are spawned behind the parent-death wrapper,
   * whose one-time probe is worth starting early (RuntimeAdapter.prepareSpawning).
   */
  startsWrappedProviders(): boolean {
    for (const entry of this.#startable()) {
      const runtime = entry.discovered.manifest.runtime;
      if (runtime && !this.runtimes.resolve(runtime).dies_with_gateway) return true;
    }
    return false;
  }

  /** Starts every enabled provider (or those given); each waits for its `depends_on` to be ready first. */
  start(entries: Iterable<ProviderEntry> = this.#startable()): void {
    this.trafficHistory.start();
    this.externals.start(this.#externalKeepers());
    const cycle = findDependencyProblems(this.#dependents());
    for (const entry of entries) {
      if (!entry.launchable || entry.supervisor.status === "disabled") continue;
      const { supervisor } = entry;
      const problem = cycle.get(supervisor.code);
      if (problem) {
        this.#problem({
          level: "error",
          code: supervisor.code,
          file: entry.discovered.file,
          field: "depends_on",
          message: `Provider "${supervisor.code}" is not started: ${problem}`,
        });
        supervisor.disable("dependency problem", problem);
        continue;
      }
      supervisor.expectStart();
      void this.#startAfterDependencies(entry);
    }
  }

  /** Resolves once no spec is loading, those of providers that just became ready included. */
  specsSettled(): Promise<void> {
    return this.#specs.settled();
  }

  /** The listener is open: spec files may load now (they waited, so that it opened at once). */
  releaseSpecs(): void {
    this.#specs.releaseSoon();
  }

  /** Resolves once every spec file waiting or loading has loaded (not the upstream fetches). */
  specFilesLoaded(): Promise<void> {
    return this.#specs.filesLoaded();
  }

  /** Resolves when every started provider is ready or has failed. */
  async settled(): Promise<void> {
    await Promise.all([...this.#startable()].map((entry) => entry.supervisor.settled()));
  }

  /**
   * Resolves once no provider is starting, or after `maxMs` at the latest: the end of a
   * start-up wave (a provider that waits for a dependency is not starting yet).
   */
  startupWaveOver(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const over = () => {
        if (this.#anyStarting()) return false;
        done();
        return true;
      };
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      const unsubscribe = this.subscribe(over);
      over();
    });
  }

  /** Stops every provider, dependents before their dependencies. */
  async stop(): Promise<void> {
    // A provider still waiting for a dependency must not start once stopping has begun.
    this.#stopping = true;
    this.#specs.stop();
    this.externals.stop();
    this.trafficHistory.stop();
    const waves = stopWaves(this.#dependents());
    for (const wave of waves) {
      await Promise.all(wave.map(({ entry }) => entry.supervisor.stop("gateway stopping")));
    }
    this.ledger.clear();
    for (const entry of this.providers.values()) entry.unwatchSpec?.();
  }

  /** Whether every enabled provider that runs here is ready, and which are not. */
  readiness(): { ready: boolean; waiting: Array<{ code: string; status: string }> } {
    const waiting = [...this.#startable()]
      .filter((entry) => entry.supervisor.status !== "ready")
      .map((entry) => ({ code: entry.supervisor.code, status: entry.supervisor.status }));
    return { ready: waiting.length === 0, waiting };
  }

  views(): ProviderView[] {
    return [...this.providers.values()].map((entry) => providerView(entry));
  }

  /** One provider's view, or undefined when there is no such provider. */
  view(code: string): ProviderView | undefined {
    const entry = this.providers.get(code);
    return entry && providerView(entry);
  }

  /** The gateway's logger (for the parts that live beside it, such as the MCP server). */
  get logger(): Logger {
    return this.#log;
  }

  /**
   * Calls `listener` whenever the merged document may have changed: a status, a provider's spec,
   * the set of providers. Returns the unsubscribe function.
   */
  onDocumentChange(listener: () => void): () => void {
    this.#documentListeners.add(listener);
    return () => this.#documentListeners.delete(listener);
  }

  #documentChanged(): void {
    this.revision++;
    for (const listener of this.#documentListeners) listener();
  }

  /** Subscribes to status changes (numbered as in {@link events}); returns the unsubscribe function. */
  subscribe(listener: (event: StatusEvent, id: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The keepers of the external providers that are mounted and enabled. */
  *#externalKeepers(): Iterable<ExternalProvider> {
    for (const entry of this.providers.values()) {
      if (entry.mounted && entry.enabled && entry.supervisor instanceof ExternalProvider)
        yield entry.supervisor;
    }
  }

  /** Every provider with what it depends on, for lib/dependencies.ts. */
  #dependents(): Array<{ code: string; dependsOn: readonly string[]; entry: ProviderEntry }> {
    return [...this.providers.values()].map((entry) => ({
      code: entry.supervisor.code,
      dependsOn: entry.discovered.manifest.dependsOn,
      entry,
    }));
  }

  #anyStarting(): boolean {
    for (const entry of this.providers.values()) if (entry.supervisor.status === "starting") return true;
    return false;
  }

  *#startable(): Iterable<ProviderEntry> {
    for (const entry of this.providers.values()) {
      if (entry.launchable && entry.supervisor.status !== "disabled") yield entry;
    }
  }

  async #startAfterDependencies(entry: ProviderEntry): Promise<void> {
    const { supervisor } = entry;
    for (const code of entry.discovered.manifest.dependsOn) {
      const dependency = this.providers.get(code)!.supervisor;
      if (dependency.status !== "ready") {
        supervisor.note(`waiting for dependency ${code}`);
        await dependency.settled();
      }
      if (this.#stopping) return;
      if (dependency.status !== "ready") {
        const message = `dependency "${code}" is ${dependency.status}`;
        supervisor.disable("dependency not ready", message);
        return;
      }
    }
    if (!this.#stopping) supervisor.start();
  }

  #onStatus(event: StatusEvent): void {
    this.#documentChanged();
    if (event.to === "ready") this.#specs.providerReady(event.code);
    this.#specs.fetchSoon();
    const { id } = this.events.append(event);
    for (const listener of this.#listeners) listener(event, id);
  }

  /** Records a load problem; logs it unless the previous load had it too (a rescan repeats them all). */
  #problem(problem: Problem): void {
    const { level, code, file, field, message } = problem;
    this.#loadProblems.push({ level, code, file, field, message });
    if (this.#logged.has(message)) return;
    this.#logged.add(message);
    this.#log.log(level, message, code ? { provider: code } : undefined);
  }
}

function providerView(entry: ProviderEntry): ProviderView {
  return { ...entry.supervisor.view(), manifest_error: entry.manifestError ?? null };
}

function proxyTarget(supervisor: Supervised, traffic: Traffic): ProxyTarget {
  let endpoint: { hostname: string; port: number; key: string } | undefined;
  const { manifest } = supervisor;
  if (supervisor instanceof ExternalProvider) {
    return {
      code: supervisor.code,
      namespace: manifest.namespace,
      upstream: () => (supervisor.status === "ready" ? supervisor.upstream : null),
      // The agent's checked address, pinned at register: never a new lookup per request.
      endpoint: () => supervisor.endpoint,
      status: () => supervisor.status,
      holds: () => supervisor.holds,
      timeoutMs: manifest.timeoutMs,
      holdMs: manifest.holdMs,
      holdQueue: manifest.holdQueue,
      traffic,
      upstreamFailed: (reason) => supervisor.upstreamFailed(reason),
    };
  }
  return {
    code: supervisor.code,
    namespace: manifest.namespace,
    upstream: () => (supervisor.status === "ready" && !supervisor.stopping ? supervisor.upstream : null),
    endpoint: () => {
      if (supervisor.status !== "ready" || supervisor.stopping || !supervisor.upstream || !supervisor.port)
        return null;
      // One object per port, not per request: the proxy reads it on every request.
      if (endpoint?.port !== supervisor.port) {
        endpoint = { hostname: "127.0.0.1", port: supervisor.port, key: `127.0.0.1:${supervisor.port}` };
      }
      return endpoint;
    },
    status: () => (supervisor.stopping ? "stopping" : supervisor.status),
    holds: () => supervisor.holds,
    timeoutMs: manifest.timeoutMs,
    holdMs: manifest.holdMs,
    holdQueue: manifest.holdQueue,
    traffic,
  };
}

function sameDefinition(a: DiscoveredProvider, b: DiscoveredProvider): boolean {
  return a.dir === b.dir && JSON.stringify(a.manifest) === JSON.stringify(b.manifest);
}

function providerBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // A provider must never inherit the compiled gateway's switch into the bun CLI by accident.
    if (value !== undefined && key !== "BUN_BE_BUN") env[key] = value;
  }
  return env;
}
