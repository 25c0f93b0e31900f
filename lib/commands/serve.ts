import { createApp } from "../../routes/app.ts";
import type { Config } from "../config.ts";
import { Gateway } from "../gateway.ts";
import { Logger } from "../logger.ts";
import type { HttpServer, RuntimeAdapter } from "../runtime/index.ts";
import { reapOrphans } from "../supervisor/ledger.ts";

/** How long in-flight requests may take to finish once a stop signal arrives. */
const DRAIN_TIMEOUT_MS = 10_000;

export interface RunningGateway {
  gateway: Gateway;
  server: HttpServer;
  logger: Logger;
  /** Stops accepting, drains in-flight requests (bounded), stops every provider. */
  shutdown(): Promise<void>;
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
  // Before any provider binds a port: end what a previous run, killed without clean-up, left behind.
  await reapOrphans(gateway.ledger.file, adapter.killGroup, logger);
  const app = createApp(gateway, { version: options.version });
  const server = await adapter.serve({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize: config.maxBodySize,
    fetch: (request, context) => app.fetch(request, { context }),
  });
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  gateway.url = `http://${host}:${server.port}`;
  gateway.start();
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
  return { gateway, server, logger, shutdown };
}

/** `gateway serve`: runs until SIGTERM or SIGINT. Returns the exit code. */
export async function serve(config: Config, adapter: RuntimeAdapter, version: string): Promise<number> {
  const logger = new Logger({ level: config.logLevel, format: config.logFormat });
  let running: RunningGateway;
  try {
    running = await startGateway(config, adapter, { version, logger });
  } catch (error) {
    logger.error(`Cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
    return 1;
  }
  const { gateway } = running;
  if (config.logFormat === "json") logger.info("listening", { url: gateway.url });
  else process.stdout.write(`gateway listening on ${gateway.url}\n`);
  logger.info(
    `${gateway.providers.size} provider(s) from ${config.providersDir}; try ${gateway.url}/_gateway/providers and ${gateway.url}/openapi.json`,
  );

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onStop = (signal: string) => () => {
      signals++;
      if (signals > 1) {
        logger.warn(
          `${signal} again: providers are being stopped already; they get SIGKILL after their grace period`,
        );
        return;
      }
      logger.info(`${signal}: stopping`);
      void running.shutdown().then(() => {
        logger.info("stopped");
        resolve(0);
      });
    };
    adapter.onSignal("SIGTERM", onStop("SIGTERM"));
    adapter.onSignal("SIGINT", onStop("SIGINT"));
    let rescanning: Promise<unknown> = Promise.resolve();
    adapter.onSignal("SIGHUP", () => {
      // One rescan at a time; a SIGHUP during a rescan queues another.
      rescanning = rescanning.then(async () => {
        logger.info("SIGHUP: rescanning providers and registry");
        const { started, stopped } = await gateway.rescan();
        logger.info(`rescan done: ${started.length} started, ${stopped.length} stopped`, {
          started: started.join(",") || undefined,
          stopped: stopped.join(",") || undefined,
        });
      });
    });
  });
}
