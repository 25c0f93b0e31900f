import type { Config } from "../config.ts";
import { discoverProviders } from "../discovery.ts";
import { findInstance } from "../instance.ts";
import { Registry, RegistryCorruptError } from "../registry.ts";

/** How long the command waits for a running gateway to apply its change. */
const APPLY_WAIT_MS = 3000;

type Action = "list" | "enable" | "disable" | "remove";

/**
 * `gateway providers list|enable|disable|remove`: lists (with the live status when a gateway runs
 * on the registry; `--json` as an array) or edits the registry file. Returns the exit code.
 */
export async function providersCommand(
  action: Action,
  code: string | undefined,
  config: Config,
  options: { json?: boolean } = {},
): Promise<number> {
  const registry = new Registry(config.registryFile);
  const found = discoverProviders(config.providersDir);
  if (action === "list") {
    try {
      registry.load();
    } catch (error) {
      if (!(error instanceof RegistryCorruptError)) throw error;
      process.stderr.write(`${error.message}\n`);
    }
    await printList(registry, found, config.registryFile, options.json === true);
    return 0;
  }
  const name = code!;
  const discovered = found.providers.find((provider) => provider.manifest.code === name);
  let outcome: { ok: true; message: string } | { ok: false; message: string };
  try {
    // One locked read-modify-write: an edit made meanwhile by another command or the gateway is kept.
    outcome = registry.update(
      (current) => {
        const entry = current.get(name);
        if (!entry && !discovered)
          return {
            ok: false,
            message: `No provider "${name}" in ${config.providersDir} nor in ${config.registryFile}`,
          };
        if (action === "remove") {
          if (!entry)
            return { ok: false, message: `Provider "${name}" is not in the registry ${config.registryFile}` };
          current.remove(name);
          return {
            ok: true,
            message: discovered
              ? `Removed "${name}" from the registry; its directory ${discovered.dir} is still there, so the next scan adds it again (delete the directory, or use disable)`
              : `Removed "${name}" from the registry`,
          };
        }
        current.put({
          code: name,
          version: entry?.version ?? discovered?.manifest.version,
          enabled: action === "enable",
          installed_at: entry?.installed_at ?? new Date().toISOString(),
          source: entry?.source ?? discovered?.dir,
          external: entry?.external,
        });
        return { ok: true, message: `Provider "${name}" is ${action}d in ${config.registryFile}` };
      },
      { onCorrupt: (error) => process.stderr.write(`${error.message}\n`) },
    );
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
  if (!outcome.ok) {
    process.stderr.write(`${outcome.message}\n`);
    return 1;
  }
  process.stdout.write(`${outcome.message}\n`);
  process.stdout.write(
    `${await runningGatewayNote(config.registryFile, name, action, discovered !== undefined)}\n`,
  );
  return 0;
}

/**
 * Whether a running gateway took the change: it applies registry edits within a second
 * (watching the file), and its admin API shows the provider's new state.
 */
async function runningGatewayNote(
  registryFile: string,
  code: string,
  action: Action,
  onDisk: boolean,
): Promise<string> {
  const instance = findInstance(registryFile);
  if (!instance) return "No gateway is running on this registry: the change applies when one starts";
  const who = `The running gateway (pid ${instance.pid}, ${instance.url})`;
  if (!instance.watching)
    return `${who} runs with --no-watch: it applies the change on SIGHUP (kill -HUP ${instance.pid})`;
  const took = (status: string | null) => {
    if (action === "disable") return status === "disabled";
    if (action === "enable") return status !== null && status !== "disabled";
    // Removed: gone from the gateway, or (its directory still there) added back enabled.
    return onDisk ? status !== null && status !== "disabled" : status === null;
  };
  const deadline = Date.now() + APPLY_WAIT_MS;
  let status: string | null = null;
  for (;;) {
    try {
      const response = await fetch(`${instance.url}/_gateway/providers/${code}`, {
        signal: AbortSignal.timeout(1000),
      });
      status = response.status === 404 ? null : ((await response.json()) as { status: string }).status;
      if (response.status !== 404 && response.status !== 200) status = `HTTP ${response.status}`;
    } catch (error) {
      return `${who} did not answer (${(error as Error).message}): check it applied the change`;
    }
    if (took(status)) {
      return status === null
        ? `${who} took the change: "${code}" is gone`
        : `${who} took the change: "${code}" is ${status}`;
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return `${who} has not applied the change within ${APPLY_WAIT_MS} ms ("${code}" is ${status ?? "unknown to it"}); see its log`;
}

interface ListRow {
  code: string;
  enabled: boolean;
  version: string | null;
  source: string;
  /** The running gateway's status of it; null when no gateway runs on this registry (or it does not know it). */
  status: string | null;
}

/** The status of every provider as the gateway running on `registryFile` reports it, if one runs. */
async function liveStatuses(registryFile: string): Promise<Map<string, string> | undefined> {
  const instance = findInstance(registryFile);
  if (!instance) return undefined;
  try {
    const response = await fetch(`${instance.url}/_gateway/providers`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { providers: Array<{ code: string; status: string }> };
    return new Map(body.providers.map((provider) => [provider.code, provider.status]));
  } catch {
    return undefined;
  }
}

async function printList(
  registry: Registry,
  found: ReturnType<typeof discoverProviders>,
  registryFile: string,
  json: boolean,
): Promise<void> {
  const live = await liveStatuses(registryFile);
  const rows = new Map<string, ListRow>();
  for (const provider of found.providers) {
    const entry = registry.get(provider.manifest.code);
    rows.set(provider.manifest.code, {
      code: provider.manifest.code,
      enabled: entry?.enabled ?? true,
      version: provider.manifest.version ?? null,
      source: provider.dir,
      status: live?.get(provider.manifest.code) ?? null,
    });
  }
  for (const entry of registry.list()) {
    if (!rows.has(entry.code)) {
      rows.set(entry.code, {
        code: entry.code,
        enabled: entry.enabled,
        version: entry.version ?? null,
        source: entry.external ? "external" : `${entry.source ?? "-"} (missing)`,
        status: live?.get(entry.code) ?? null,
      });
    }
  }
  const list = [...rows.values()].sort((a, b) => (a.code < b.code ? -1 : 1));
  if (json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  } else {
    const width = Math.max(4, ...list.map((row) => row.code.length));
    const statusWidth = Math.max(6, ...list.map((row) => (row.status ?? "-").length));
    const status = (row: ListRow) => (live ? `${(row.status ?? "-").padEnd(statusWidth)}  ` : "");
    process.stdout.write(
      `${"CODE".padEnd(width)}  ENABLED  ${live ? `${"STATUS".padEnd(statusWidth)}  ` : ""}VERSION   SOURCE\n`,
    );
    for (const row of list) {
      process.stdout.write(
        `${row.code.padEnd(width)}  ${(row.enabled ? "yes" : "no").padEnd(7)}  ${status(row)}${(row.version ?? "-").padEnd(8)}  ${row.source}\n`,
      );
    }
  }
  for (const problem of found.problems)
    if (problem.level === "error") process.stderr.write(`${problem.message}\n`);
}
