import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadManifest, type Manifest, ManifestError } from "./manifest.ts";

/** A provider directory whose manifest validated. */
export interface DiscoveredProvider {
  manifest: Manifest;
  /** Absolute provider directory. */
  dir: string;
  /** The manifest file that was read. */
  file: string;
}

/** Something the operator should hear about; `level: "error"` means a provider was skipped. */
export interface DiscoveryProblem {
  level: "warn" | "error";
  message: string;
  dir: string;
  file?: string;
  code?: string;
}

export interface DiscoveryResult {
  providers: DiscoveredProvider[];
  problems: DiscoveryProblem[];
}

/**
 * Finds the manifest of one provider directory: `.core/manifest.yaml` wins over `manifest.yaml`
 * (Core's layout), with a warning when both exist.
 */
export function findManifest(dir: string): { file?: string; problem?: DiscoveryProblem } {
  const core = join(dir, ".core", "manifest.yaml");
  const plain = join(dir, "manifest.yaml");
  const hasCore = existsSync(core);
  const hasPlain = existsSync(plain);
  if (hasCore && hasPlain) {
    return {
      file: core,
      problem: {
        level: "warn",
        dir,
        file: core,
        message: `Both ${core} and ${plain} exist; using ${core} (Core's layout) and ignoring manifest.yaml`,
      },
    };
  }
  if (hasCore) return { file: core };
  if (hasPlain) return { file: plain };
  return {};
}

/** Loads one provider directory. */
export function discoverProvider(dir: string): DiscoveryResult {
  const problems: DiscoveryProblem[] = [];
  const { file, problem } = findManifest(dir);
  if (problem) problems.push(problem);
  if (!file) {
    problems.push({
      level: "warn",
      dir,
      message: `Skipping ${dir} as it has no manifest.yaml nor .core/manifest.yaml`,
    });
    return { providers: [], problems };
  }
  try {
    const { manifest, warnings } = loadManifest(file);
    for (const message of warnings) problems.push({ level: "warn", dir, file, code: manifest.code, message });
    return { providers: [{ manifest, dir, file }], problems };
  } catch (error) {
    const message = error instanceof ManifestError ? error.message : String(error);
    problems.push({ level: "error", dir, file, message: `${message}; the provider is skipped` });
    return { providers: [], problems };
  }
}

/**
 * Scans `<providersDir>/*` for provider directories. Never throws for a bad provider: every
 * problem is returned, and every valid provider is returned, sorted by code.
 */
export function discoverProviders(providersDir: string): DiscoveryResult {
  const result: DiscoveryResult = { providers: [], problems: [] };
  let entries: string[];
  try {
    entries = readdirSync(providersDir).sort();
  } catch (error) {
    result.problems.push({
      level: "error",
      dir: providersDir,
      message: `Cannot read providers directory ${providersDir}: ${(error as Error).message}`,
    });
    return result;
  }
  const seen = new Map<string, string>();
  for (const entry of entries) {
    if (entry.startsWith(".")) continue;
    const dir = join(providersDir, entry);
    try {
      if (!statSync(dir).isDirectory()) continue;
    } catch {
      continue;
    }
    const found = discoverProvider(dir);
    result.problems.push(...found.problems);
    for (const provider of found.providers) {
      const other = seen.get(provider.manifest.code);
      if (other) {
        result.problems.push({
          level: "error",
          dir,
          file: provider.file,
          code: provider.manifest.code,
          message: `Provider code "${provider.manifest.code}" in ${provider.file} is already used by ${other}; this one is skipped`,
        });
        continue;
      }
      seen.set(provider.manifest.code, provider.file);
      result.providers.push(provider);
    }
  }
  result.providers.sort((a, b) => (a.manifest.code < b.manifest.code ? -1 : 1));
  return result;
}
