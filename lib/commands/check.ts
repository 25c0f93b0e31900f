import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Config } from "../config.ts";
import { discoverProvider } from "../discovery.ts";
import { ExternalError } from "../external/externals.ts";
import { Gateway } from "../gateway.ts";
import { Logger } from "../logger.ts";
import type { RuntimeAdapter } from "../runtime/index.ts";
import { startGateway } from "./serve.ts";
import { runChecks, type SmokeCheck } from "./smoke.ts";

/**
 * `gateway check DIR`: validates one provider directory's manifest, starts it behind a private
 * gateway, checks health, proxying and spec, and stops it. Returns 0 when it conforms.
 */
export async function check(
  dir: string,
  config: Config,
  adapter: RuntimeAdapter,
  version: string,
): Promise<number> {
  const logger = new Logger({
    level: config.logLevel === "info" ? "warn" : config.logLevel,
    format: config.logFormat,
  });
  const found = discoverProvider(dir);
  for (const problem of found.problems)
    process.stdout.write(`${problem.level === "error" ? "FAIL" : "warn"}  ${problem.message}\n`);
  const provider = found.providers[0];
  if (!provider) return 1;
  const m = provider.manifest;
  process.stdout.write(
    `ok    manifest ${provider.file}: ${m.code} (${m.name}), runtime ${m.runtime ?? "none"}, namespace ${m.namespace}\n`,
  );
  // A private registry (never written) and process ledger, removed when the check is done.
  const scratch = mkdtempSync(join(tmpdir(), "gateway-check-"));
  const gateway = new Gateway(
    {
      ...config,
      providersDir: dirname(dir),
      registryFile: join(scratch, "registry.yaml"),
      host: "127.0.0.1",
      port: 0,
      tls: undefined,
    },
    { adapter, logger },
  );
  gateway.load({ found, persist: false });
  const running = await startGateway(gateway.config, adapter, { version, logger, gateway });
  const checks = await runChecks(gateway);
  await running.shutdown();
  rmSync(scratch, { recursive: true, force: true });
  for (const c of checks)
    process.stdout.write(`${c.ok ? "ok  " : "FAIL"}  ${c.check.padEnd(7)}  ${c.detail}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(`check: ${checks.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

/**
 * `gateway check --url URL`: the provider-facing part of the contract against an agent that is
 * not registered anywhere yet, so its author can check it before handing it to an operator. A
 * private gateway on a loopback port creates an external provider, registers the URL (the checks
 * and the probe an operator's gateway makes), then checks readiness, a request through the
 * namespace, and the spec; the same `ok`/`FAIL` table as `gateway check DIR`.
 */
export async function checkUrl(
  url: string,
  config: Config,
  adapter: RuntimeAdapter,
  version: string,
): Promise<number> {
  const logger = new Logger({
    level: config.logLevel === "info" ? "warn" : config.logLevel,
    format: config.logFormat,
  });
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    process.stdout.write(`FAIL  url      "${url}" is not a URL\n`);
    return 1;
  }
  const scratch = mkdtempSync(join(tmpdir(), "gateway-check-"));
  // The author's own agent: its host is allowed here whatever it is (metadata and the like still are not).
  const gateway = new Gateway(
    {
      ...config,
      providersDir: join(scratch, "providers"),
      registryFile: join(scratch, "registry.yaml"),
      host: "127.0.0.1",
      port: 0,
      tls: undefined,
      externalAllow: [host],
      watch: false,
    },
    { adapter, logger },
  );
  gateway.load({ persist: true });
  const running = await startGateway(gateway.config, adapter, { version, logger, gateway });
  const checks: SmokeCheck[] = [];
  try {
    await gateway.externals.create({ code: "agent", runtime: "external", url });
    checks.push({
      provider: "agent",
      check: "register",
      ok: true,
      detail: `${url} passed the address checks and the probe`,
    });
    checks.push(
      ...(await runChecks(gateway, { externals: true })).filter(
        (c) => c.provider !== "-" || c.check === "openapi",
      ),
    );
  } catch (error) {
    const detail = error instanceof ExternalError ? error.message : String(error);
    checks.push({ provider: "agent", check: "register", ok: false, detail });
  } finally {
    await running.shutdown();
    rmSync(scratch, { recursive: true, force: true });
  }
  for (const c of checks)
    process.stdout.write(`${c.ok ? "ok  " : "FAIL"}  ${c.check.padEnd(8)}  ${c.detail}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(`check: ${checks.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}
