/**
 * Every setting of `gateway serve` (and the commands built on it), in one table: its flag,
 * environment variable, config-file key, the zod schema that turns its text into a value, its
 * default, and its help. lib/config.ts parses from it, `--help` is printed from it, and the
 * README's table of flags is generated from it (`bun scripts/settings-table.ts`; a test keeps the
 * README in step), so the lists cannot drift apart.
 */
import * as z from "zod/mini";
import { parseDuration, parseSize } from "./duration.ts";
import { LOG_LEVELS } from "./logger.ts";
import "./zod-setup.ts";

/** One setting. A `switch` is a flag without a value (`--no-watch`); in a config file, `true` or `false`. */
export interface Setting {
  flag: `--${string}`;
  env: `GATEWAY_${string}` | "";
  /** Its key in the config file (`gateway.yaml`). */
  file: string;
  kind: "value" | "switch";
  /** Turns the text given (flag, variable, or file value as text) into the value; its message says what to use. */
  schema: z.ZodMiniType<unknown, string>;
  /** The text used when nothing is given; undefined: no value (or derived, see `defaultText`). */
  default?: string;
  /** The default as documented, when it is not a plain text (`<providers-dir>/registry.yaml`). */
  defaultText?: string;
  /** Metavariable for `--help` (`DIR`, `SIZE`). */
  value?: string;
  /** One line for `--help`. */
  help: string;
}

/** Text turned into a value by `convert`, which returns `z.NEVER` for text it cannot use (the message then says what to give). */
const converted = <T>(message: string, convert: (value: string) => T) =>
  z.pipe(
    z.string(),
    z.transform((value: string, ctx) => {
      const result = convert(value);
      if (result === z.NEVER) ctx.issues.push({ code: "custom", message, input: value });
      return result;
    }),
  );
/** A whole number (of digits) that `accepts`. */
const wholeNumber = (message: string, accepts: (n: number) => boolean) =>
  z.pipe(z.string().check(z.regex(/^\d+$/, message)), z.transform(Number)).check(z.refine(accepts, message));

const text = z.string().check(z.minLength(1, "give a value"));
const size = (what: string, min: number, max: number, example: string) =>
  converted(`use a ${what} such as ${example}`, (value) => {
    const bytes = parseSize(value);
    return bytes === undefined || bytes < min || bytes > max ? z.NEVER : bytes;
  });
const duration = converted("use a duration such as 500ms, 10s or 2m", (value) => {
  const ms = parseDuration(value);
  return ms === undefined || ms <= 0 ? z.NEVER : ms;
});
const on = z.pipe(
  z.string(),
  z.transform(() => true),
);

export const SETTINGS = {
  providersDir: {
    flag: "--providers-dir",
    env: "GATEWAY_PROVIDERS_DIR",
    file: "providers_dir",
    kind: "value",
    schema: text,
    default: "~/.core/providers",
    value: "DIR",
    help: "the folder of provider directories",
  },
  host: {
    flag: "--host",
    env: "GATEWAY_HOST",
    file: "host",
    kind: "value",
    schema: z
      .string()
      .check(z.refine((v: string) => v.length > 0 && !/[\s/]/.test(v), "use an address such as 127.0.0.1")),
    default: "127.0.0.1",
    value: "HOST",
    help: "the address to listen on",
  },
  port: {
    flag: "--port",
    env: "GATEWAY_PORT",
    file: "port",
    kind: "value",
    schema: wholeNumber("use a number from 0 to 65535 (0 = ephemeral)", (port) => port <= 65535),
    default: "8080",
    value: "PORT",
    help: "the port to listen on; 0 picks a free one",
  },
  registryFile: {
    flag: "--registry",
    env: "GATEWAY_REGISTRY",
    file: "registry",
    kind: "value",
    schema: text,
    defaultText: "<providers-dir>/registry.yaml",
    value: "FILE",
    help: "the registry of installed providers",
  },
  configFile: {
    flag: "--config",
    env: "GATEWAY_CONFIG",
    file: "",
    kind: "value",
    schema: text,
    defaultText: "<providers-dir>/gateway.yaml if it exists",
    value: "FILE",
    help: "a YAML file of settings, each flag a key (max_body_size: 10mb)",
  },
  adminToken: {
    flag: "--admin-token",
    env: "GATEWAY_ADMIN_TOKEN",
    file: "admin_token",
    kind: "value",
    schema: text,
    defaultText: "none",
    value: "TOKEN",
    help: "required as Bearer token by the mutating admin routes",
  },
  publicUrl: {
    flag: "--public-url",
    env: "GATEWAY_PUBLIC_URL",
    file: "public_url",
    kind: "value",
    schema: z.string().check(
      z.refine((value: string) => {
        try {
          const url = new URL(value);
          return (
            (url.protocol === "http:" || url.protocol === "https:") && url.search === "" && url.hash === ""
          );
        } catch {
          return false;
        }
      }, "use the base URL agents reach the gateway at, such as https://gateway.example.com"),
    ),
    defaultText: "the listener's URL",
    value: "URL",
    help: "the base URL handed to external agents (never taken from request headers)",
  },
  logFormat: {
    flag: "--log-format",
    env: "GATEWAY_LOG_FORMAT",
    file: "log_format",
    kind: "value",
    schema: z.enum(["pretty", "json"], { message: "use pretty or json" }),
    default: "pretty",
    value: "pretty|json",
    help: "how log lines look",
  },
  logLevel: {
    flag: "--log-level",
    env: "GATEWAY_LOG_LEVEL",
    file: "log_level",
    kind: "value",
    schema: z.enum(LOG_LEVELS, { message: `use ${LOG_LEVELS.join(", ")}` }),
    default: "info",
    value: LOG_LEVELS.join("|"),
    help: "the least important level logged",
  },
  accessLog: {
    flag: "--access-log",
    env: "GATEWAY_ACCESS_LOG",
    file: "access_log",
    kind: "switch",
    schema: on,
    defaultText: "off",
    help: "log one line per proxied request",
  },
  externalAllow: {
    flag: "--external-allow",
    env: "GATEWAY_EXTERNAL_ALLOW",
    file: "external_allow",
    kind: "value",
    schema: z.pipe(
      z.string(),
      z.transform((value: string) =>
        value
          .split(",")
          .map((item) => item.trim())
          .filter(Boolean),
      ),
    ),
    defaultText: "none",
    value: "CIDR|HOST,...",
    help: "addresses and host names external agents may register at (default: loopback and private ones, while the gateway listens on loopback)",
  },
  resolver: {
    flag: "--resolver",
    env: "GATEWAY_RESOLVER",
    file: "resolver",
    kind: "value",
    schema: z
      .string()
      .check(
        z.regex(
          /^(\[[0-9a-fA-F:]+\]|[^:\s]+)(:\d+)?$/,
          "use a DNS server as HOST or HOST:PORT, such as 10.0.0.2:53",
        ),
      ),
    defaultText: "the system's (getaddrinfo)",
    value: "HOST:PORT",
    help: "the DNS server external agents' host names are resolved with",
  },
  maxBodySize: {
    flag: "--max-body-size",
    env: "GATEWAY_MAX_BODY_SIZE",
    file: "max_body_size",
    kind: "value",
    schema: converted("use a size such as 512kb, 10mb or 1gb, or none", (value) => {
      if (value === "none") return undefined;
      const bytes = parseSize(value);
      return bytes === undefined || bytes <= 0 ? z.NEVER : bytes;
    }),
    defaultText: "none",
    value: "SIZE",
    help: "largest request body (413); none: bodies of any size stream through",
  },
  maxHeaderSize: {
    flag: "--max-header-size",
    env: "GATEWAY_MAX_HEADER_SIZE",
    file: "max_header_size",
    kind: "value",
    schema: size("size from 1kb to 16mb", 1024, 16 * 1024 * 1024, "64kb"),
    default: "64kb",
    value: "SIZE",
    help: "largest request line and headers (431)",
  },
  headerTimeoutMs: {
    flag: "--header-timeout",
    env: "GATEWAY_HEADER_TIMEOUT",
    file: "header_timeout",
    kind: "value",
    schema: duration,
    default: "10s",
    value: "DURATION",
    help: "a request head not complete by then gets 408",
  },
  idleTimeoutMs: {
    flag: "--idle-timeout",
    env: "GATEWAY_IDLE_TIMEOUT",
    file: "idle_timeout",
    kind: "value",
    schema: duration,
    default: "75s",
    value: "DURATION",
    help: "idle keep-alive connections and stalled request bodies are closed after this",
  },
  maxConnections: {
    flag: "--max-connections",
    env: "GATEWAY_MAX_CONNECTIONS",
    file: "max_connections",
    kind: "value",
    schema: wholeNumber("use a whole number of 1 or more", (n) => n >= 1),
    defaultText: "(open-file limit - 512) / 2",
    value: "N",
    help: "client connections at once; past it, 503 and close",
  },
  tlsCert: {
    flag: "--tls-cert",
    env: "GATEWAY_TLS_CERT",
    file: "tls_cert",
    kind: "value",
    schema: text,
    defaultText: "none: plain HTTP",
    value: "FILE",
    help: "with --tls-key, the listener speaks HTTPS with this PEM certificate chain (re-read on SIGHUP and change)",
  },
  tlsKey: {
    flag: "--tls-key",
    env: "GATEWAY_TLS_KEY",
    file: "tls_key",
    kind: "value",
    schema: text,
    defaultText: "none",
    value: "FILE",
    help: "the PEM private key of --tls-cert",
  },
  noWatch: {
    flag: "--no-watch",
    env: "",
    file: "no_watch",
    kind: "switch",
    schema: on,
    defaultText: "watching",
    help: "apply changes to the providers dir and registry on SIGHUP only",
  },
  noMetrics: {
    flag: "--no-metrics",
    env: "",
    file: "no_metrics",
    kind: "switch",
    schema: on,
    defaultText: "counting",
    help: "do not count requests for /metrics (provider and process figures remain)",
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The settings' `--help` section: one line each, flag, variable, default, help. */
export function settingsHelp(): string {
  const rows = Object.values(SETTINGS).map((s: Setting) => [
    s.kind === "value" ? `${s.flag} ${s.value ?? "VALUE"}` : s.flag,
    s.env || "-",
    s.default ?? s.defaultText ?? "",
    s.help,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) => `  ${row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ")}`.trimEnd())
    .join("\n");
}

/** The README's table of settings, as Markdown. */
export function settingsTable(): string {
  const lines = [
    "| flag | environment variable | config file key | default | meaning |",
    "| --- | --- | --- | --- | --- |",
  ];
  // A | inside a cell would end it, even in code; <…> outside code would be read as HTML.
  const cell = (value: string) => value.replaceAll("|", "\\|");
  const code = (value: string) => `\`${cell(value)}\``;
  for (const s of Object.values(SETTINGS) as Setting[]) {
    const flag = code(s.kind === "value" ? `${s.flag} ${s.value ?? "VALUE"}` : s.flag);
    const key = s.file ? code(s.file) : "-";
    const text = s.defaultText ?? "";
    const fallback = s.default !== undefined ? code(s.default) : text.includes("<") ? code(text) : cell(text);
    lines.push(`| ${flag} | ${s.env ? code(s.env) : "-"} | ${key} | ${fallback} | ${cell(s.help)} |`);
  }
  return lines.join("\n");
}
