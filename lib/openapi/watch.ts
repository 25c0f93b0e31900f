import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { debounce } from "../debounce.ts";

/**
 * Calls `onChange` once a burst of changes to any of `files` has settled (`debounceMs` without
 * another). Directories are watched rather than files, so that a file replaced by a rename (as
 * editors save) or created later is still seen. Watchers never keep the process alive. Returns
 * the function that stops watching.
 * @param options.debounceMs default 100
 */
export function watchFiles(
  files: readonly string[],
  onChange: () => void,
  options: { debounceMs?: number } = {},
): () => void {
  const byDir = new Map<string, Set<string>>();
  for (const file of files) {
    const dir = dirname(file);
    byDir.set(dir, (byDir.get(dir) ?? new Set()).add(basename(file)));
  }
  const settled = debounce(onChange, options.debounceMs ?? 100);
  const changed = () => settled.trigger();
  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, filename) => {
        // Without a name (some platforms) any change in the directory counts.
        if (filename === null || names.has(basename(String(filename)))) changed();
      });
      watcher.on("error", () => {});
      watchers.push(watcher);
    } catch {
      // The directory is gone or unreadable: nothing to watch there.
    }
  }
  return () => {
    settled.cancel();
    for (const watcher of watchers) watcher.close();
  };
}
