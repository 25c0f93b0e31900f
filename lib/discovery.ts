import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadManifest, type Manifest, ManifestError } from "./manifest.ts";
import type { Problem } from "./problems.ts";

/** A provider directory whose manifest validated. */
export interface DiscoveredProvider {
  manifest: Manifest;
  /** Absolute provider directory. */
  dir: string;
  /** The manifest file that was read. */
  file: string;
}

/** Ends the message of a manifest that did not load; the gateway may keep a running version instead. */
export const SKIPPED = "; the provider is skipped";

/** A problem found in a provider directory; `level: "error"` means the provider was skipped. */
export interface DiscoveryProblem extends Problem {
  dir: string;
}

export interface DiscoveryResult {
  providers: DiscoveredProvider[];
  problems: DiscoveryProblem[];
  /**
   * Directories whose manifest exists but did not load (bad YAML, a field that fails
   * validation, a code another directory has): a provider running from one keeps running.
   */
  broken: Set<string>;
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
    return { providers: [], problems, broken: new Set() };
  }
  try {
    const { manifest, warnings } = loadManifest(file);
    for (const { field, message } of warnings)
      problems.push({ level: "warn", dir, file, field, code: manifest.code, message });
    return { providers: [{ manifest, dir, file }], problems, broken: new Set() };
  } catch (error) {
    const message = error instanceof ManifestError ? error.message : String(error);
    const field = error instanceof ManifestError && error.field ? error.field : undefined;
    problems.push({ level: "error", dir, file, field, message: `${message}${SKIPPED}` });
    return { providers: [], problems, broken: new Set([dir]) };
  }
}

/**
 * Scans `<providersDir>/*` for provider directories. Never throws for a bad provider: every
 * problem is returned, and every valid provider is returned, sorted by code.
 */
export function discoverProviders(providersDir: string): DiscoveryResult {
  const result: DiscoveryResult = { providers: [], problems: [], broken: new Set() };
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
    for (const broken of found.broken) result.broken.add(broken);
    for (const provider of found.providers) {
      const other = seen.get(provider.manifest.code);
      if (other) {
        result.problems.push({
          level: "error",
          dir,
          file: provider.file,
          code: provider.manifest.code,
          field: "code",
          message: `Provider code "${provider.manifest.code}" in ${provider.file} is already used by ${other}; this one is skipped`,
        });
        result.broken.add(dir);
        continue;
      }
      seen.set(provider.manifest.code, provider.file);
      result.providers.push(provider);
    }
  }
  result.providers.sort((a, b) => (a.manifest.code < b.manifest.code ? -1 : 1));
  return result;
}
