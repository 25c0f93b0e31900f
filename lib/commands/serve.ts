import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { Gateway } from "../gateway.ts";
import { announceInstance } from "../instance.ts";
import { Logger } from "../logger.ts";
import { watchFiles } from "../openapi/watch.ts";
import { answerResponse } from "../problem.ts";
import { AccessLog } from "../proxy/access-log.ts";
import { answers } from "../proxy/answers.ts";
import { type Front, startFront } from "../proxy/front/index.ts";
import { CLIENT_ADDRESS_HEADER } from "../proxy/headers.ts";
import { isHostValue } from "../proxy/http1.ts";
import type { HttpServer, RuntimeAdapter, TlsFiles } from "../runtime/index.ts";
import { reapOrphans } from "../supervisor/ledger.ts";
import { serveOutput } from "../supervisor/output.ts";
import { watchProviders } from "./watch-providers.ts";

/** How long in-flight requests may take to finish once a stop signal arrives. */
const DRAIN_TIMEOUT_MS = 10_000;
/**
 * Descriptors kept out of the client budget: provider pipes, watchers, the registry, the app's
 * unix socket, spawns. The rest is split between client connections and their upstream ones.
 */
const RESERVED_FILES = 512;

/** `--max-connections` when not given: half of what the open-file limit leaves (each client may need an upstream connection). */
export function defaultMaxConnections(softLimit: number): number {
  return Math.max(64, Math.floor((softLimit - RESERVED_FILES) / 2));
}

/** The JIT gets its normal policy back at the end of the start-up wave, or this long after start at the latest. */
const STARTUP_JIT_MAX_MS = 3000;

type App = ReturnType<typeof import("../../routes/app.ts").createApp>;
/** The HTTP app, or the promise of it while its modules load. */
type AppHandle = () => App | Promise<App>;

/** Runs `use` with the app, at once when it is loaded. */
function withApp<T>(handle: AppHandle, use: (app: App) => T | Promise<T>): T | Promise<T> {
  const app = handle();
  return app instanceof Promise ? app.then(use) : use(app);
}

export interface RunningGateway {
  gateway: Gateway;
  server: HttpServer;
  logger: Logger;
  /** Stops accepting, drains in-flight requests (bounded), stops every provider. */
  shutdown(): Promise<void>;
  /**
   * Reads the TLS certificate and key again and gives new connections the new pair; logs (and
   * keeps the old pair) when they cannot be read or used. A no-op without TLS.
   */
  reloadTls(): void;
}

/** The PEM files of `--tls-cert` and `--tls-key`, read. Throws naming the file that cannot be read. */
function readTls(tls: NonNullable<Config["tls"]>): TlsFiles {
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new Error(`Cannot read ${flag} ${file}: ${(error as Error).message}`);
    }
  };
  return { cert: read(tls.certFile, "--tls-cert"), key: read(tls.keyFile, "--tls-key") };
}

/** Whether `host` is a loopback address (or name): only the machine itself reaches it. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}

/** Opens the listener, then starts the providers (the listener answers 503 for them meanwhile). */
export async function startGateway(
  config: Config,
  adapter: RuntimeAdapter,
  options: { version: string; logger?: Logger; persistRegistry?: boolean; gateway?: Gateway },
): Promise<RunningGateway> {
  const logger = options.logger ?? new Logger({ level: config.logLevel, format: config.logFormat });
  const gateway = options.gateway ?? new Gateway(config, { adapter, logger });
  if (!options.gateway) gateway.load({ persist: options.persistRegistry });
  // Started now, it runs on the other core while this one opens the listener.
  const spawningPrepared = gateway.startsWrappedProviders() ? adapter.prepareSpawning() : undefined;
  // Before any provider binds a port: end what a previous run, killed without clean-up, left behind.
  await reapOrphans(gateway.ledger.file, adapter.killGroup, logger);
  // The HTTP app (admin API, OpenAPI, docs, with their modules) is not needed to start the
  // providers: it loads right after they are spawned, and a request that comes first waits for it.
  let app: App | undefined;
  let loading: Promise<App> | undefined;
  const appHandle: AppHandle = () => {
    if (app) return app;
    loading ??= import("../../routes/app.ts").then(({ createApp }) => {
      app = createApp(gateway, { version: options.version });
      return app;
    });
    return loading;
  };
  // Raised to the hard limit first: a gateway that runs out of descriptors stops accepting anyone.
  const files = adapter.raiseOpenFileLimit();
  gateway.openFileLimit = files?.soft;
  const maxConnections = config.maxConnections ?? (files ? defaultMaxConnections(files.soft) : undefined);
  if (files) {
    logger.debug(
      `open-file limit ${files.soft} (hard ${files.hard}); at most ${maxConnections} client connections`,
    );
    if (config.maxConnections && config.maxConnections > defaultMaxConnections(files.soft)) {
      logger.warn(
        `--max-connections ${config.maxConnections} is more than the open-file limit of ${files.soft} leaves room for (about ${defaultMaxConnections(files.soft)}): near it, new connections wait until descriptors free up; raise the limit (ulimit -n) or lower --max-connections`,
      );
    }
  }
  const tls = config.tls ? readTls(config.tls) : undefined;
  if (!tls && !isLoopback(config.host)) {
    logger.warn(
      `Listening on ${config.host} without TLS: admin and provider tokens cross the network in clear text; give --tls-cert and --tls-key`,
    );
  }
  const server = await listen({ ...config, maxConnections }, adapter, gateway, appHandle, logger, tls);
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  gateway.url = `${tls ? "https" : "http"}://${host}:${server.port}`;
  await spawningPrepared;
  gateway.start();
  // Only now, with the listener open and the providers spawned: spec files take CPU time to read
  // (ProviderSpecs loads them one per event-loop turn). The app (admin API, documents, dashboard)
  // loads when a request first needs it: health checks and the proxy never do (the front answers
  // /healthz and /readyz), which keeps its 8 MB out of a gateway that only proxies.
  gateway.releaseSpecs();
  // The JIT waits for the end of the start-up wave: during it, compiling run-once code on a
  // second core only slows the providers starting (scripts/build.ts).
  void gateway.startupWaveOver(STARTUP_JIT_MAX_MS).then(() => adapter.startupDone());
  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      const drained = server.stop(false);
      const inTime = await Promise.race([
        drained.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS)),
      ]);
      if (!inTime)
        logger.warn(`In-flight requests did not finish within ${DRAIN_TIMEOUT_MS} ms; closing them`);
      await Promise.all([gateway.stop(), inTime ? undefined : server.stop(true)]);
    })();
    return stopping;
  };
  const reloadTls = () => {
    if (!config.tls) return;
    try {
      if (!server.reloadTls)
        throw new Error("this runtime's listener cannot change its certificate while it runs");
      server.reloadTls(readTls(config.tls));
      logger.info(`TLS certificate reloaded from ${config.tls.certFile}`);
    } catch (error) {
      logger.error(`Keeping the TLS certificate in use: ${(error as Error).message}`);
    }
  };
  return { gateway, server, logger, shutdown, reloadTls };
}

/**
 * Opens the listener. Where the runtime has byte-level sockets (Bun), a byte-level front proxies
 * namespaces itself and hands everything else to the Hono app on a private unix socket;
 * elsewhere (Deno, or GATEWAY_PROXY_MODE=fetch) the Hono app serves all, proxying with fetch.
 */
async function listen(
  config: Config,
  adapter: RuntimeAdapter,
  gateway: Gateway,
  app: AppHandle,
  logger: Logger,
  tls: TlsFiles | undefined,
): Promise<HttpServer & { reloadTls?: (tls: TlsFiles) => void }> {
  const raw = adapter.raw;
  if (!raw || process.env.GATEWAY_PROXY_MODE === "fetch") {
    return adapter.serve({
      hostname: config.host,
      port: config.port,
      tls,
      maxRequestBodySize: config.maxBodySize,
      fetch: (request, context) => {
        // As the front refuses it: Deno.serve builds the URL from Host, so `Host: x/api/v1/a`
        // would route by it rather than by the request-target.
        const host = request.headers.get("host");
        if (host !== null && !isHostValue(host))
          return answerResponse(answers.badRequest("The Host header is not a host[:port]"));
        return withApp(app, (loaded) => loaded.fetch(request, { context }));
      },
    });
  }
  const socketDir = mkdtempSync(join(tmpdir(), "gateway-"));
  const socketPath = join(socketDir, "app.sock");
  const internal = raw.serveUnix(socketPath, (request, context) =>
    withApp(app, (loaded) =>
      loaded.fetch(request, {
        context: {
          remoteAddress: request.headers.get(CLIENT_ADDRESS_HEADER) ?? "",
          keepOpen: context.keepOpen,
        },
      }),
    ),
  );
  let front: Front;
  try {
    front = startFront(raw, {
      hostname: config.host,
      port: config.port,
      table: () => gateway.table,
      internal: { unix: socketPath },
      maxBodySize: config.maxBodySize,
      maxHeaderSize: config.maxHeaderSize,
      headerTimeoutMs: config.headerTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      maxConnections: config.maxConnections,
      metrics: config.metrics,
      accessLog: config.accessLog ? new AccessLog(logger.child({ log: "access" })).add : undefined,
      tls,
      tunnels: gateway.tunnels,
      readiness: () => gateway.readiness(),
    });
  } catch (error) {
    await internal.stop(true);
    rmSync(socketDir, { recursive: true, force: true });
    throw error;
  }
  // Requests held for a provider that is starting go on (or are refused) as its status changes.
  gateway.subscribe((event) => front.providerChanged(event.code));
  gateway.openConnections = () => front.openConnections();
  gateway.tunnels.attach(front);
  return {
    hostname: front.hostname,
    port: front.port,
    reloadTls: (next) => front.reloadTls(next),
    async stop(force) {
      if (force) front.closeAll();
      else await front.drain();
      // After the drain: requests in flight down a tunnel finish first.
      gateway.tunnels.stop();
      await internal.stop(force);
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}

/**
 * The MCP server of `gateway mcp` on stdin/stdout (lib/mcp/server.ts). It is connected before the
 * gateway listens, so `initialize` is answered at once; what needs the gateway waits for
 * `gateway`. `onEnd` is called (once) when stdin closes. Loaded only for `gateway mcp`.
 */
async function serveMcpOnStdio(
  gateway: Promise<Gateway>,
  config: Config,
  version: string,
  logger: Logger,
  onEnd: () => void,
): Promise<{ close(): Promise<void> }> {
  const [{ McpHub }, { StdioServerTransport }] = await Promise.all([
    import("../mcp/server.ts"),
    import("@modelcontextprotocol/sdk/server/stdio.js"),
  ]);
  const hub = new McpHub({ gateway, adminToken: config.adminToken, version, logger });
  const server = hub.server();
  await server.connect(new StdioServerTransport());
  // One turn of the event loop: an `initialize` already waiting on stdin is answered before the
  // gateway's synchronous start-up work (discovery, spawning) runs.
  await new Promise((resolve) => setTimeout(resolve, 0));
  // Both events may come; the gateway stops once.
  let ended = false;
  const endOnce = () => {
    if (!ended) onEnd();
    ended = true;
  };
  process.stdin.once("end", endOnce);
  process.stdin.once("close", endOnce);
  return {
    async close() {
      hub.close();
      await server.close().catch(() => {});
    },
  };
}

/** `gateway serve`: runs until SIGTERM or SIGINT. Returns the exit code. */
export async function serve(
  config: Config,
  adapter: RuntimeAdapter,
  version: string,
  options: { mcp?: boolean } = {},
): Promise<number> {
  // Logs onto stderr, bounded; on a terminal, a live start-up view on stdout
  // (lib/supervisor/display.ts), but never in `gateway mcp`, whose stdout is the protocol's alone.
  const { logger, startDisplay } = serveOutput(config, { display: !options.mcp });
  // Signals are handled from the first moment: one that arrives while the gateway is still
  // loading, reaping orphans or opening its listener is acted on as soon as it can be.
  let onStopSignal: ((signal: string) => void) | null = null;
  let earlyStop: string | null = null;
  let onHangUp: (() => void) | null = null;
  let earlyHangUp = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    adapter.onSignal(signal, () => {
      if (onStopSignal) onStopSignal(signal);
      else earlyStop ??= signal;
    });
  }
  adapter.onSignal("SIGHUP", () => {
    if (onHangUp) onHangUp();
    else earlyHangUp = true;
  });

  // `gateway mcp`: the MCP server on stdin/stdout, before anything else; closing stdin stops the
  // gateway as SIGTERM does.
  let listening: (gateway: Gateway) => void = () => {};
  const mcp = options.mcp
    ? await serveMcpOnStdio(
        new Promise<Gateway>((resolve) => {
          listening = resolve;
        }),
        config,
        version,
        logger,
        () => {
          if (onStopSignal) onStopSignal("stdin closed");
          else earlyStop ??= "stdin closed";
        },
      )
    : undefined;
  let running: RunningGateway;
  try {
    running = await startGateway(config, adapter, { version, logger });
  } catch (error) {
    logger.error(`Cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
    await mcp?.close();
    return 1;
  }
  const { gateway } = running;
  listening(gateway);
  if (config.logFormat === "json" || options.mcp) logger.info("listening", { url: gateway.url });
  else process.stdout.write(`gateway listening on ${gateway.url}\n`);
  // So `gateway providers enable|disable` can tell whether this gateway took its change.
  const withdraw = announceInstance(config.registryFile, gateway.url, config.watch);
  const display = startDisplay();
  void display?.follow(gateway);
  logger.info(
    `${gateway.providers.size} provider(s) from ${config.providersDir}; try ${gateway.url}/_gateway/providers and ${gateway.url}/openapi.json`,
  );

  return new Promise<number>((resolve) => {
    let signals = 0;
    let stopping = false;
    let unwatch = () => {};
    onStopSignal = (signal: string) => {
      signals++;
      if (signals > 1) {
        logger.warn(
          `${signal} again: providers are being stopped already; they get SIGKILL after their grace period`,
        );
        return;
      }
      display?.close();
      stopping = true;
      unwatch();
      unwatchTls();
      logger.info(`${signal}: stopping`);
      void mcp?.close();
      void running.shutdown().then(() => {
        withdraw();
        logger.info("stopped");
        resolve(0);
      });
    };
    // One rescan at a time; a request during a rescan queues another.
    let rescanning: Promise<unknown> = Promise.resolve();
    const rescan = (why: string) => {
      rescanning = rescanning.then(async () => {
        if (stopping) return;
        logger.info(`${why}: rescanning providers and registry`);
        const { started, stopped } = await gateway.rescan();
        logger.info(`rescan done: ${started.length} started, ${stopped.length} stopped`, {
          started: started.join(",") || undefined,
          stopped: stopped.join(",") || undefined,
        });
        if (config.watch && !stopping) {
          // The set of provider dirs may have changed: watch the new set.
          unwatch();
          unwatch = watchProviders(gateway, () => rescan("providers dir changed"));
        }
      });
    };
    onHangUp = () => {
      running.reloadTls();
      rescan("SIGHUP");
    };
    // A renewed certificate (certbot, cert-manager) is taken as soon as its files change.
    const unwatchTls =
      config.tls && config.watch
        ? watchFiles([config.tls.certFile, config.tls.keyFile], () => running.reloadTls(), {
            debounceMs: 300,
          })
        : () => {};
    if (config.watch) unwatch = watchProviders(gateway, () => rescan("providers dir changed"));
    if (earlyStop) onStopSignal(earlyStop);
    else if (earlyHangUp) rescan("SIGHUP");
  });
}
