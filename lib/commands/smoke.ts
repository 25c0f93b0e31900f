import { writeFileSync } from "node:fs";
import type { Config } from "../config.ts";
import type { Gateway } from "../gateway.ts";
import { Logger } from "../logger.ts";
import type { RuntimeAdapter } from "../runtime/index.ts";
import { junitReport } from "./junit.ts";
import { type RunningGateway, startGateway } from "./serve.ts";

export interface SmokeCheck {
  /** A provider's code, or `-` for the gateway as a whole. */
  provider: string;
  check: string;
  ok: boolean;
  detail: string;
  /** How long the check took, in milliseconds. */
  ms?: number;
}

export interface SmokeOptions {
  /** Write a JUnit XML report here. */
  junit?: string;
  /** How long providers may take to settle before those not ready fail. @default 60000 */
  timeoutMs?: number;
}

/**
 * `gateway smoke`: starts every provider behind a gateway on an ephemeral loopback port, waits for
 * them to settle (at most `timeoutMs`), checks each through the gateway, prints a report (and
 * writes JUnit XML), stops everything. Returns 0 when every check passed.
 */
export async function smoke(
  config: Config,
  adapter: RuntimeAdapter,
  version: string,
  options: SmokeOptions = {},
): Promise<number> {
  const logger = new Logger({
    level: config.logLevel === "info" ? "warn" : config.logLevel,
    format: config.logFormat,
  });
  const started = Date.now();
  let running: RunningGateway;
  try {
    running = await startGateway({ ...config, host: "127.0.0.1", port: 0, tls: undefined }, adapter, {
      version,
      logger,
      persistRegistry: false,
    });
  } catch (error) {
    logger.error(`Cannot start the gateway: ${(error as Error).message}`);
    return 1;
  }
  const checks = await runChecks(running.gateway, { timeoutMs: options.timeoutMs, validateDocument: true });
  await running.shutdown();
  printReport(checks);
  if (options.junit) {
    try {
      writeFileSync(
        options.junit,
        junitReport(checks, { name: "gateway smoke", seconds: (Date.now() - started) / 1000 }),
      );
    } catch (error) {
      process.stderr.write(`Cannot write the JUnit report ${options.junit}: ${(error as Error).message}\n`);
      return 1;
    }
  }
  return checks.every((check) => check.ok) ? 0 : 1;
}

/**
 * Checks a started gateway: a failure for every manifest or file that did not load; then, once
 * providers settle (at most `timeoutMs`), each provider's readiness, a request through its
 * namespace, and its spec; and the merged OpenAPI document (validated with `validateDocument`).
 */
export async function runChecks(
  gateway: Gateway,
  options: { timeoutMs?: number; validateDocument?: boolean; externals?: boolean } = {},
): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = [];
  for (const problem of gateway.problems) {
    if (problem.level !== "error") continue;
    checks.push({ provider: problem.code ?? "-", check: "load", ok: false, detail: problem.message });
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  const settleStarted = Date.now();
  // Providers, then the specs of those that became ready, within the one bound.
  const settled = await Promise.race([
    gateway
      .settled()
      .then(() => gateway.specsSettled())
      .then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref?.()),
  ]);
  const settleMs = Date.now() - settleStarted;
  for (const entry of gateway.providers.values()) {
    const { supervisor, launchable } = entry;
    const { manifest } = supervisor;
    if (supervisor.status === "disabled" && supervisor.lastError) {
      checks.push({ provider: manifest.code, check: "start", ok: false, detail: supervisor.lastError });
      continue;
    }
    // External providers are checked only when asked (check --url): their agents are elsewhere.
    const external = manifest.runtime === "external";
    if (!launchable && !(external && options.externals)) continue;
    const ready = supervisor.status === "ready";
    checks.push({
      provider: manifest.code,
      check: "ready",
      ok: ready,
      ms: settleMs,
      detail: ready
        ? `ready on port ${supervisor.port}`
        : `${supervisor.status}${settled ? "" : ` after the --timeout of ${timeoutMs} ms`}: ${supervisor.lastError ?? "no error reported yet"}`,
    });
    if (!ready) continue;
    checks.push(await proxyCheck(gateway, manifest.code, manifest.namespace + (manifest.health.path ?? "/")));
    const spec = entry.openapi;
    if (manifest.spec || spec) {
      // Operations left out as invalid fail the check: the rest is served, but CI is where to hear of them.
      const leftOut = spec?.leftOut ?? [];
      checks.push({
        provider: manifest.code,
        check: "spec",
        ok: spec?.document !== undefined && leftOut.length === 0,
        detail: spec?.document
          ? leftOut.length > 0
            ? `${spec.source} loaded without ${leftOut.length} invalid operation(s): ${leftOut.map((l) => l.reason).join("; ")}`
            : `${spec.source} loaded`
          : spec
            ? spec.errors.join("; ")
            : "the spec has not loaded yet",
      });
    }
  }
  checks.push(await documentCheck(gateway, options.validateDocument === true));
  return checks;
}

async function proxyCheck(gateway: Gateway, code: string, path: string): Promise<SmokeCheck> {
  const started = Date.now();
  try {
    const response = await fetch(gateway.url + path, {
      signal: AbortSignal.timeout(10_000),
      redirect: "manual",
    });
    await response.body?.cancel();
    return {
      provider: code,
      check: "proxy",
      ok: response.status < 500,
      ms: Date.now() - started,
      detail: `GET ${path} -> ${response.status}`,
    };
  } catch (error) {
    return {
      provider: code,
      check: "proxy",
      ok: false,
      ms: Date.now() - started,
      detail: `GET ${path}: ${(error as Error).message}`,
    };
  }
}

/** `/openapi.json` answers an OpenAPI 3.1 document; with `validate`, one the validator accepts. */
async function documentCheck(gateway: Gateway, validate: boolean): Promise<SmokeCheck> {
  const started = Date.now();
  const check = (ok: boolean, detail: string): SmokeCheck => ({
    provider: "-",
    check: "openapi",
    ok,
    ms: Date.now() - started,
    detail,
  });
  try {
    const response = await fetch(`${gateway.url}/openapi.json`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { openapi?: string };
    if (response.status !== 200 || body.openapi !== "3.1.0") {
      return check(false, `GET /openapi.json -> ${response.status}, openapi ${body.openapi ?? "missing"}`);
    }
    if (!validate) return check(true, "GET /openapi.json -> 200");
    const { validateSpec } = await import("../openapi/validate.ts");
    const result = await validateSpec(body as never);
    return result.valid
      ? check(true, "GET /openapi.json -> 200, a valid OpenAPI 3.1 document")
      : check(false, `the merged document does not validate: ${result.errors.join("; ")}`);
  } catch (error) {
    return check(false, (error as Error).message);
  }
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
