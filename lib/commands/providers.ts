import type { Config } from "../config.ts";
import { discoverProviders } from "../discovery.ts";
import { Registry, RegistryCorruptError } from "../registry.ts";

/** `gateway providers list|enable|disable|remove`: edits the registry file. Returns the exit code. */
export function providersCommand(
  action: "list" | "enable" | "disable" | "remove",
  code: string | undefined,
  config: Config,
): number {
  const registry = new Registry(config.registryFile);
  try {
    registry.load();
  } catch (error) {
    if (!(error instanceof RegistryCorruptError)) throw error;
    process.stderr.write(`${error.message}\n`);
  }
  const found = discoverProviders(config.providersDir);
  if (action === "list") {
    const rows = new Map<string, { code: string; enabled: boolean; version: string; source: string }>();
    for (const provider of found.providers) {
      const entry = registry.get(provider.manifest.code);
      rows.set(provider.manifest.code, {
        code: provider.manifest.code,
        enabled: entry?.enabled ?? true,
        version: provider.manifest.version ?? "-",
        source: provider.dir,
      });
    }
    for (const entry of registry.list()) {
      if (!rows.has(entry.code)) {
        rows.set(entry.code, {
          code: entry.code,
          enabled: entry.enabled,
          version: entry.version ?? "-",
          source: entry.external ? "external" : `${entry.source ?? "-"} (missing)`,
        });
      }
    }
    const list = [...rows.values()].sort((a, b) => (a.code < b.code ? -1 : 1));
    const width = Math.max(4, ...list.map((row) => row.code.length));
    process.stdout.write(`${"CODE".padEnd(width)}  ENABLED  VERSION   SOURCE\n`);
    for (const row of list) {
      process.stdout.write(
        `${row.code.padEnd(width)}  ${(row.enabled ? "yes" : "no").padEnd(7)}  ${row.version.padEnd(8)}  ${row.source}\n`,
      );
    }
    for (const problem of found.problems)
      if (problem.level === "error") process.stderr.write(`${problem.message}\n`);
    return 0;
  }
  const name = code!;
  const discovered = found.providers.find((provider) => provider.manifest.code === name);
  const entry = registry.get(name);
  if (!entry && !discovered) {
    process.stderr.write(`No provider "${name}" in ${config.providersDir} nor in ${config.registryFile}\n`);
    return 1;
  }
  if (action === "remove") {
    if (!entry) {
      process.stderr.write(`Provider "${name}" is not in the registry ${config.registryFile}\n`);
      return 1;
    }
    registry.remove(name);
    registry.save();
    process.stdout.write(
      discovered
        ? `Removed "${name}" from the registry; its directory ${discovered.dir} is still there, so the next scan adds it again (delete the directory, or use disable)\n`
        : `Removed "${name}" from the registry\n`,
    );
    return 0;
  }
  registry.put({
    code: name,
    version: entry?.version ?? discovered?.manifest.version,
    enabled: action === "enable",
    installed_at: entry?.installed_at ?? new Date().toISOString(),
    source: entry?.source ?? discovered?.dir,
    external: entry?.external,
  });
  registry.save();
  process.stdout.write(`Provider "${name}" is ${action}d; a running gateway picks this up when restarted\n`);
  return 0;
}
