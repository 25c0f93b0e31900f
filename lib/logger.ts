/** Levels in increasing severity; a logger prints its own level and above. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = "pretty" | "json";
export type LogFields = Record<string, unknown>;

export interface LoggerOptions {
  /** @default "info" */
  level?: LogLevel;
  /** @default "pretty" */
  format?: LogFormat;
  /** Where lines go. @default process.stderr */
  write?: (line: string) => void;
}

/**
 * A small structured logger: `pretty` prints `LEVEL [scope] message key=value`, `json` prints one
 * object per line with `time`, `level`, `msg` and the fields.
 */
export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly #write: (line: string) => void;
  readonly #min: number;
  readonly #bound: LogFields;

  constructor(options: LoggerOptions = {}, bound: LogFields = {}) {
    this.level = options.level ?? "info";
    this.format = options.format ?? "pretty";
    this.#write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.#min = LOG_LEVELS.indexOf(this.level);
    this.#bound = bound;
  }

  /** A logger that adds `fields` to every record (e.g. `{provider: "x"}`). */
  child(fields: LogFields): Logger {
    return new Logger(
      { level: this.level, format: this.format, write: this.#write },
      { ...this.#bound, ...fields },
    );
  }

  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#min;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const all = fields ? { ...this.#bound, ...fields } : this.#bound;
    if (this.format === "json") {
      this.#write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...all }));
      return;
    }
    const { provider, ...rest } = all;
    const scope = provider ? ` [${String(provider)}]` : "";
    const extras = Object.entries(rest)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => ` ${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join("");
    this.#write(`${level.toUpperCase().padEnd(5)}${scope} ${msg}${extras}`);
  }
}
