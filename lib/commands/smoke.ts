import type { Config } from "../config.ts";
import type { Gateway } from "../gateway.ts";
import { Logger } from "../logger.ts";
import type { RuntimeAdapter } from "../runtime/index.ts";
import { type RunningGateway, startGateway } from "./serve.ts";

export interface SmokeCheck {
  provider: string;
  check: string;
  ok: boolean;
  detail: string;
}

/**
 * Starts every provider behind a gateway on an ephemeral loopback port, waits for them to settle,
 * sends one request through each namespace, prints a report, stops everything.
 * Returns 0 when every check passed.
 */
export async function smoke(config: Config, adapter: RuntimeAdapter, version: string): Promise<number> {
  const logger = new Logger({
    level: config.logLevel === "info" ? "warn" : config.logLevel,
    format: config.logFormat,
  });
  let running: RunningGateway;
  try {
    running = await startGateway({ ...config, host: "127.0.0.1", port: 0 }, adapter, {
      version,
      logger,
      persistRegistry: false,
    });
  } catch (error) {
    logger.error(`Cannot start the gateway: ${(error as Error).message}`);
    return 1;
  }
  const checks = await runChecks(running.gateway);
  await running.shutdown();
  printReport(checks);
  return checks.every((check) => check.ok) ? 0 : 1;
}

/** Waits for providers to settle, then checks each through the gateway. */
export async function runChecks(gateway: Gateway): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = [];
  for (const problem of gateway.problems) {
    if (problem.level === "error")
      checks.push({ provider: problem.code ?? "-", check: "load", ok: false, detail: problem.message });
  }
  await gateway.settled();
  for (const entry of gateway.providers.values()) {
    const { supervisor, launchable } = entry;
    const { manifest } = supervisor;
    if (supervisor.status === "disabled" && supervisor.lastError) {
      checks.push({ provider: manifest.code, check: "start", ok: false, detail: supervisor.lastError });
      continue;
    }
    if (!launchable) continue;
    const ready = supervisor.status === "ready";
    checks.push({
      provider: manifest.code,
      check: "ready",
      ok: ready,
      detail: ready
        ? `ready on port ${supervisor.port}`
        : `${supervisor.status}: ${supervisor.lastError ?? ""}`,
    });
    if (!ready) continue;
    const path = manifest.namespace + (manifest.health.path ?? "/");
    try {
      const response = await fetch(gateway.url + path, {
        signal: AbortSignal.timeout(10_000),
        redirect: "manual",
      });
      await response.body?.cancel();
      const ok = response.status < 500;
      checks.push({
        provider: manifest.code,
        check: "proxy",
        ok,
        detail: `GET ${path} -> ${response.status}`,
      });
    } catch (error) {
      checks.push({
        provider: manifest.code,
        check: "proxy",
        ok: false,
        detail: `GET ${path}: ${(error as Error).message}`,
      });
    }
  }
  try {
    const response = await fetch(`${gateway.url}/openapi.json`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { openapi?: string };
    checks.push({
      provider: "-",
      check: "openapi",
      ok: response.status === 200 && body.openapi === "3.1.0",
      detail: `GET /openapi.json -> ${response.status}`,
    });
  } catch (error) {
    checks.push({ provider: "-", check: "openapi", ok: false, detail: (error as Error).message });
  }
  return checks;
}

function printReport(checks: SmokeCheck[]): void {
  const width = Math.max(8, ...checks.map((check) => check.provider.length));
  for (const check of checks) {
    process.stdout.write(
      `${check.ok ? "ok  " : "FAIL"}  ${check.provider.padEnd(width)}  ${check.check.padEnd(7)}  ${check.detail}\n`,
    );
  }
  const failed = checks.filter((check) => !check.ok).length;
  process.stdout.write(`smoke: ${checks.length - failed} passed, ${failed} failed\n`);
}
