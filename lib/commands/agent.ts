/**
 * `gateway agent`: the dial-out agent (lib/agent/agent.ts) as a command. Needs byte-level sockets
 * (Bun, so the compiled binary); SIGTERM and SIGINT drain it, then it exits 0.
 */
import { TunnelAgent } from "../agent/agent.ts";
import { type LogFormat, Logger, type LogLevel } from "../logger.ts";
import type { RuntimeAdapter } from "../runtime/index.ts";

export async function agent(
  options: { gateway: string; token: string; upstream: string; logLevel: LogLevel; logFormat: LogFormat },
  runtime: RuntimeAdapter,
  version: string,
): Promise<number> {
  const log = new Logger({ level: options.logLevel, format: options.logFormat }).child({ agent: "tunnel" });
  if (!runtime.raw) {
    log.error(
      `gateway agent needs byte-level sockets, which ${runtime.name} does not offer here: run the compiled gateway (Bun)`,
    );
    return 1;
  }
  let tunnel: TunnelAgent;
  try {
    tunnel = new TunnelAgent({ ...options, log, sockets: runtime.raw, version });
  } catch (error) {
    log.error((error as Error).message);
    return 2;
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) runtime.onSignal(signal, () => tunnel.stop());
  return tunnel.run();
}
