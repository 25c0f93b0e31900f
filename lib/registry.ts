import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import * as z from "zod/mini";
import { withFileLock } from "./file-lock.ts";
import { yamlPackage } from "./runtime/packages.ts";
import { nativeYamlParse } from "./runtime/yaml.ts";
import "./zod-setup.ts";

const ExternalSchema = z.strictObject({
  /** sha256 of the provider token, hex; the token itself is never stored. */
  token_sha256: z.optional(z.string()),
  /** The token replaced by the last rotation, valid until `previous_expires_at`. */
  previous_token_sha256: z.optional(z.string()),
  previous_expires_at: z.optional(z.string()),
  /** The agent's URL, as last registered. */
  url: z.optional(z.string()),
  namespace: z.optional(z.string()),
  name: z.optional(z.string()),
  heartbeat_interval_ms: z.optional(z.number().check(z.int(), z.positive())),
  health_path: z.optional(z.string()),
});
export type ExternalRecord = z.infer<typeof ExternalSchema>;

export const RegistryEntrySchema = z.strictObject({
  code: z.string(),
  version: z.optional(z.string()),
  enabled: z._default(z.boolean(), true),
  installed_at: z.string(),
  /** Absolute provider directory, for discovered providers. */
  source: z.optional(z.string()),
  external: z.optional(ExternalSchema),
});
export type RegistryEntry = z.infer<typeof RegistryEntrySchema>;

const RegistryFileSchema = z.strictObject({
  version: z._default(z.literal(1), 1),
  providers: z._default(z.array(RegistryEntrySchema), []),
});

/** Raised when the registry file exists but cannot be used; it has been moved to `keptAs`. */
export class RegistryCorruptError extends Error {
  override name = "RegistryCorruptError";
  constructor(
    readonly file: string,
    readonly keptAs: string,
    readonly reason: string,
  ) {
    super(`Cannot read registry ${file}: ${reason}; it was kept aside as ${keptAs} and a new one is started`);
  }
}

/**
 * `registry.yaml`: which providers are installed and whether they are enabled. Every save is
 * atomic (temp file, fsync, rename), so a crash mid-write leaves the previous file whole.
 */
/** Native YAML where the runtime has it; the `yaml` package explains a failure. */
function parseYamlText(text: string): unknown {
  if (nativeYamlParse) {
    try {
      return nativeYamlParse(text);
    } catch {
      // Below, for the message.
    }
  }
  return yamlPackage().parse(text);
}

export class Registry {
  readonly file: string;
  /** The lock every read-modify-write holds (see {@link update}). */
  readonly lockFile: string;
  #entries = new Map<string, RegistryEntry>();
  /** The file's text as last read or written; null when it did not exist. */
  #known: string | null = null;
  /** Entries changed since the last load or save. */
  #dirty = false;
  /** What the last load found: the file read, no file, or a corrupt one (kept aside). */
  lastLoad: "read" | "missing" | "corrupt" = "missing";

  constructor(file: string) {
    this.file = file;
    this.lockFile = `${file}.lock`;
  }

  /**
   * A read-modify-write of the file under its cross-process lock, so concurrent edits (CLI
   * commands, a running gateway, the admin API) never overwrite each other: reads the file
   * afresh, runs `change`, and saves if anything changed. A corrupt file is kept aside and a new
   * one started, reported to `onCorrupt`. Throws when the lock cannot be had in time
   * ({@link LockTimeoutError}), the file cannot be read, or the save fails (the previous file is
   * then unchanged; the entries in memory keep the change, for the caller to retry).
   */
  update<T>(
    change: (registry: Registry) => T,
    options: { onCorrupt?: (error: RegistryCorruptError) => void } = {},
  ): T {
    return withFileLock(this.lockFile, () => {
      try {
        this.load();
      } catch (error) {
        if (!(error instanceof RegistryCorruptError)) throw error;
        options.onCorrupt?.(error);
        // Write the new, empty registry even if `change` adds nothing: the bad one is gone.
        this.#dirty = true;
      }
      const result = change(this);
      if (this.#dirty) this.save();
      return result;
    });
  }

  /** Whether the file now differs from what this registry last read or wrote (an edit by someone else). */
  changedOnDisk(): boolean {
    let text: string | null;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      text = null;
    }
    return text !== this.#known;
  }

  /**
   * Reads the file. A missing file is an empty registry. A corrupt one is renamed to
   * `registry.yaml.bad-<time>` (never deleted nor overwritten) and reported by throwing
   * {@link RegistryCorruptError} after the registry has been reset to empty.
   */
  load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        this.#entries.clear();
        this.#known = null;
        this.#dirty = false;
        this.lastLoad = "missing";
        return;
      }
      throw new Error(`Cannot read registry ${this.file}: ${(error as Error).message}`);
    }
    this.#known = text;
    this.#dirty = false;
    this.lastLoad = "read";
    let reason: string | undefined;
    let parsed: z.infer<typeof RegistryFileSchema> | undefined;
    try {
      const data = parseYamlText(text) ?? {};
      const result = RegistryFileSchema.safeParse(data);
      if (result.success) parsed = result.data;
      else {
        const issue = result.error.issues[0]!;
        reason = `field "${issue.path.join(".")}" ${issue.message}`;
      }
    } catch (error) {
      reason = `it is not valid YAML (${(error as Error).message.split("\n")[0]})`;
    }
    if (!parsed) {
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      let keptAs = `${this.file}.bad-${stamp}`;
      // Never overwrite a file kept aside earlier.
      for (let n = 2; existsSync(keptAs); n++) keptAs = `${this.file}.bad-${stamp}-${n}`;
      renameSync(this.file, keptAs);
      this.#entries.clear();
      this.#known = null;
      this.lastLoad = "corrupt";
      throw new RegistryCorruptError(this.file, keptAs, reason ?? "unknown reason");
    }
    this.#entries = new Map(parsed.providers.map((entry) => [entry.code, entry]));
  }

  /** Writes the registry atomically. */
  save(): void {
    const body = yamlPackage().stringify({ version: 1, providers: this.list() });
    const temp = join(dirname(this.file), `.${basename(this.file)}.${process.pid}.${Date.now()}.tmp`);
    const text = `# Written by the gateway; edit with \`gateway providers\`, or by hand (a running gateway applies it).\n${body}`;
    const bytes = Buffer.from(text);
    try {
      const fd = openSync(temp, "w", 0o600);
      try {
        // writeSync may take fewer bytes than given (disk full, file size limit) without throwing.
        let written = 0;
        while (written < bytes.length) {
          const n = writeSync(fd, bytes, written, bytes.length - written);
          if (n <= 0) throw new Error(`could write only ${written} of ${bytes.length} bytes`);
          written += n;
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.file);
      this.#known = text;
      this.#dirty = false;
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // Never created.
      }
      throw new Error(
        `Cannot save registry ${this.file}: ${(error as Error).message}; the previous file is unchanged`,
      );
    }
  }

  list(): RegistryEntry[] {
    return [...this.#entries.values()].sort((a, b) => (a.code < b.code ? -1 : 1));
  }

  get(code: string): RegistryEntry | undefined {
    return this.#entries.get(code);
  }

  /** Adds or replaces the entry with `entry.code`. */
  put(entry: RegistryEntry): void {
    this.#entries.set(entry.code, RegistryEntrySchema.parse(entry));
    this.#dirty = true;
  }

  /** Removes an entry; returns whether it existed. */
  remove(code: string): boolean {
    const existed = this.#entries.delete(code);
    if (existed) this.#dirty = true;
    return existed;
  }
}
