import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import * as z from "zod/mini";
import type { Manifest } from "./manifest.ts";
import { findOnPath, isExecutableFile } from "./runtime/executables.ts";
import { yamlPackage } from "./runtime/packages.ts";
import { BUILTIN_RUNTIMES } from "./runtimes.defaults.ts";
import { closest } from "./suggest.ts";
import "./zod-setup.ts";

export const RuntimeDefinitionSchema = z.strictObject({
  description: z._default(z.string(), ""),
  /** Which manifest field names the program: `binary`, `entry`, or `nothing` (external). */
  requires: z.enum(["binary", "entry", "nothing"]),
  command: z.array(z.string()),
  env: z._default(z.record(z.string(), z.string()), {}),
  /**
   * The command ends itself when the gateway dies, even by SIGKILL (as `bun run --no-orphans`
   * does with the kernel's parent-death signal), so the gateway need not wrap it in
   * `setpriv --pdeathsig`: one exec less per start.
   */
  dies_with_gateway: z._default(z.boolean(), false),
});
export type RuntimeDefinition = z.infer<typeof RuntimeDefinitionSchema>;

const RuntimesFileSchema = z.strictObject({
  runtimes: z.record(z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]*$/)), RuntimeDefinitionSchema),
});

/** Raised when a provider cannot be launched; `field` names the manifest field at fault. */
export class LaunchError extends Error {
  override name = "LaunchError";
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The runtime registry: built-in definitions plus `<providers-dir>/runtimes.yaml`. */
export class RuntimeRegistry {
  readonly #runtimes = new Map<string, RuntimeDefinition & { source: string }>();

  constructor() {
    this.reset();
  }

  /** Back to the built-in runtimes only. */
  reset(): void {
    this.#runtimes.clear();
    for (const [name, definition] of Object.entries(BUILTIN_RUNTIMES)) {
      this.#runtimes.set(name, {
        ...RuntimeDefinitionSchema.parse({ ...definition, command: [...definition.command] }),
        source: "built-in",
      });
    }
  }

  /** Adds the runtimes of a `runtimes.yaml` file, if it exists. Throws with file and field on error. */
  loadFile(file: string): void {
    if (!existsSync(file)) return;
    let data: unknown;
    try {
      data = yamlPackage().parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new Error(`Cannot load runtimes file ${file}: ${(error as Error).message.split("\n")[0]}`);
    }
    const result = RuntimesFileSchema.safeParse(data);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new Error(`Cannot load runtimes file ${file}: field "${issue.path.join(".")}" ${issue.message}`);
    }
    for (const [name, definition] of Object.entries(result.data.runtimes)) {
      if (name === "external")
        throw new Error(`Cannot load runtimes file ${file}: "external" cannot be redefined`);
      this.#runtimes.set(name, { ...definition, source: file });
    }
  }

  /** All runtimes, by name. */
  list(): Array<{ name: string } & RuntimeDefinition & { source: string }> {
    return [...this.#runtimes].map(([name, definition]) => ({ name, ...definition }));
  }

  /**
   * The runtime called `name`; `x-default` resolves to `x`. Throws a {@link LaunchError} listing
   * the known runtimes when there is none: never falls back to another runtime.
   */
  resolve(name: string): RuntimeDefinition & { name: string } {
    const base = name.endsWith("-default") ? name.slice(0, -"-default".length) : name;
    const definition = this.#runtimes.get(base);
    if (!definition) {
      const known = [...this.#runtimes.keys()];
      const hint = closest(base, known);
      throw new LaunchError(
        `Unknown runtime "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; known runtimes: ${known.join(", ")}`,
        "runtime",
      );
    }
    return { name: base, ...definition };
  }
}

export interface LaunchInput {
  manifest: Manifest;
  dir: string;
  port: number;
  /** The provider's full environment (gateway env, contract variables, manifest env). */
  env: Record<string, string>;
  /** How to run the embedded Bun. */
  bun: { cmd: string[]; env: Record<string, string> };
}

/** Builds the command line that starts a provider. Throws {@link LaunchError}. */
export function buildLaunchCommand(
  runtime: RuntimeDefinition & { name: string },
  input: LaunchInput,
): { cmd: string[]; env: Record<string, string>; diesWithParent: boolean } {
  const { manifest, dir, env } = input;
  const values: Record<string, string[]> = {
    args: manifest.args.map((arg) => expandVariables(arg, env)),
    namespace: [manifest.namespace],
    port: [String(input.port)],
    bun: input.bun.cmd,
  };
  if (runtime.requires === "binary") {
    if (!manifest.binary) {
      throw new LaunchError(
        `Runtime "${runtime.name}" needs a binary; add "binary: ./path/to/program"`,
        "binary",
      );
    }
    values.binary = [resolveBinary(manifest.binary, dir, env.PATH ?? "")];
  } else if (runtime.requires === "entry") {
    if (!manifest.entry) {
      throw new LaunchError(`Runtime "${runtime.name}" needs an entry; add "entry: ./server.ts"`, "entry");
    }
    values.entry = [resolveInsideDir(manifest.entry, dir, "entry")];
  }
  const cmd = runtime.command.flatMap((part) => {
    const whole = /^\{(\w+)\}$/.exec(part);
    if (whole) {
      const value = values[whole[1]!];
      if (!value)
        throw new LaunchError(`Runtime "${runtime.name}" uses an unknown placeholder ${part}`, "runtime");
      return value;
    }
    return [part.replace(/\{(\w+)\}/g, (_, key: string) => values[key]?.join(" ") ?? `{${key}}`)];
  });
  if (cmd.length === 0) throw new LaunchError(`Runtime "${runtime.name}" starts no process`, "runtime");
  const runtimeEnv = runtime.name === "bun" ? { ...runtime.env, ...input.bun.env } : runtime.env;
  return { cmd, env: { ...runtimeEnv, ...env }, diesWithParent: runtime.dies_with_gateway };
}

/** Expands `${VAR}` from `env` (no shell: no globbing, quoting or command substitution). */
export function expandVariables(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? "");
}

/**
 * A path inside the provider directory, refusing `..` escapes and symlinks that lead out of it.
 * Returns the absolute path.
 */
export function resolveInsideDir(path: string, dir: string, field: string): string {
  if (isAbsolute(path)) return requireFile(path, field);
  const lexical = resolve(dir, path);
  if (!isInside(lexical, resolve(dir))) {
    throw new LaunchError(`The ${field} path leaves the provider directory: ${path}`, field);
  }
  requireFile(lexical, field);
  const real = realpathSync(lexical);
  if (!isInside(real, realpathSync(dir))) {
    throw new LaunchError(
      `The ${field} is a link that leads out of the provider directory: ${path} -> ${real}`,
      field,
    );
  }
  return lexical;
}

function resolveBinary(binary: string, dir: string, pathEnv: string): string {
  // A bare name ("python3") that is not a file in the provider dir is looked up on PATH, as a shell would.
  if (!binary.includes("/") && !existsSync(join(dir, binary))) {
    const found = findOnPath(binary, pathEnv);
    if (found) return found;
    throw new LaunchError(`The binary is neither in the provider directory nor on PATH: ${binary}`, "binary");
  }
  const path = resolveInsideDir(binary, dir, "binary");
  if (!isExecutableFile(path)) {
    throw new LaunchError(`The binary is not executable (chmod +x it): ${binary}`, "binary");
  }
  return path;
}

function requireFile(path: string, field: string): string {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new LaunchError(`The ${field} does not exist: ${path}`, field);
  }
  if (!stat.isFile()) throw new LaunchError(`The ${field} is not a file: ${path}`, field);
  return path;
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}
