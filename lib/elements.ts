import { realpath } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";

/** The URL a provider's element `source` is served at (`GET /assets/:code/*`). */
export function elementUrl(code: string, source: string): string {
  const clean = source.replace(/^\.\//, "");
  return `/assets/${code}/${clean}`;
}

/**
 * The files of one provider's UI element: only the folder holding its `source` is served, and no
 * path may leave it nor the provider dir, symlinks included. The real paths of both folders are
 * read once, on the first request, not per request.
 */
export class ElementFiles {
  readonly #providerDir: string;
  readonly #root: string;
  #real: Promise<{ providerDir: string; root: string }> | undefined;

  constructor(providerDir: string, source: string) {
    this.#providerDir = resolve(providerDir);
    this.#root = dirname(resolve(this.#providerDir, source));
  }

  /**
   * The real path of `relative` (a path under the provider dir, as the URL gives it) when it is
   * a file of the element's folder; null otherwise, or when it does not exist.
   */
  async find(relative: string): Promise<string | null> {
    if (relative.includes("\0")) return null;
    const file = resolve(this.#providerDir, relative);
    if (!(file.startsWith(this.#root + sep) && file.startsWith(this.#providerDir + sep))) return null;
    try {
      this.#real ??= Promise.all([realpath(this.#providerDir), realpath(this.#root)]).then(
        ([providerDir, root]) => ({ providerDir, root }),
      );
      const { providerDir, root } = await this.#real;
      // Symlinks are followed only if they stay inside both the provider dir and the element's folder.
      const real = await realpath(file);
      return real.startsWith(root + sep) && real.startsWith(providerDir + sep) ? real : null;
    } catch {
      // Gone, unreadable, or a folder that does not exist (then tried again next time).
      this.#real = undefined;
      return null;
    }
  }
}
