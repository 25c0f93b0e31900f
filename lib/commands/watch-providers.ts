import { type FSWatcher, watch } from "node:fs";
import { basename, dirname, join } from "node:path";
import { debounce } from "../debounce.ts";
import type { Gateway } from "../gateway.ts";

/** Files in a provider dir whose change means the provider must be read again. */
const PROVIDER_FILES = new Set(["manifest.yaml", ".core"]);
const CORE_FILES = new Set(["manifest.yaml"]);

/**
 * Watches the providers dir (a provider added or removed, `runtimes.yaml`), every provider's
 * manifest and the registry file, and calls `onChange` once a burst of changes has settled. The
 * gateway's own writes (registry, process ledger, their temp and lock files) are not taken for
 * edits: the registry counts as changed only when its text differs from what the gateway last
 * read or wrote. Returns the function that stops it.
 * @param options.debounceMs default 300
 */
export function watchProviders(
  gateway: Gateway,
  onChange: () => void,
  options: { debounceMs?: number } = {},
): () => void {
  const { providersDir } = gateway.config;
  const registry = gateway.registry;
  const own = new Set([basename(registry.file), basename(registry.lockFile), basename(gateway.ledger.file)]);
  const settled = debounce(onChange, options.debounceMs ?? 300);
  const changed = () => settled.trigger();
  const watchers: FSWatcher[] = [];
  const add = (dir: string, relevant: (name: string) => boolean) => {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, filename) => {
        if (filename === null || relevant(String(filename))) changed();
      });
      watcher.on("error", () => {});
      watchers.push(watcher);
    } catch {
      // A dir that vanished (or never was): the providers dir watch sees it come back.
    }
  };
  add(providersDir, (name) => {
    if (own.has(name) || name.startsWith(".")) return false;
    return true;
  });
  // The registry: `gateway providers enable|disable`, or an edit by hand.
  add(dirname(registry.file), (name) => name === basename(registry.file) && registry.changedOnDisk());
  for (const entry of gateway.providers.values()) {
    const dir = entry.discovered.dir;
    add(dir, (name) => PROVIDER_FILES.has(name));
    add(join(dir, ".core"), (name) => CORE_FILES.has(name));
  }
  return () => {
    settled.cancel();
    for (const watcher of watchers) watcher.close();
  };
}
