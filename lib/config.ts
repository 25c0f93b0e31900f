import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseDuration, parseSize } from "./duration.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./logger.ts";
import { closest } from "./suggest.ts";

/** Everything `gateway serve` (and the commands built on it) is configured with. */
export interface Config {
  providersDir: string;
  host: string;
  port: number;
  registryFile: string;
  adminToken?: string;
  logFormat: LogFormat;
  logLevel: LogLevel;
  externalAllow: string[];
  /** Bytes; `undefined` means no limit. */
  maxBodySize?: number;
  /** Largest request head (request line and headers) in bytes; larger ones get 431. */
  maxHeaderSize: number;
  /** A request head must be complete this long after it began, else 408. @default 10000 */
  headerTimeoutMs: number;
  /** Idle keep-alive connections, and request bodies that make no progress, are closed after this. @default 75000 */
  idleTimeoutMs: number;
  /** Client connections open at once; `undefined`: derived from the open-file limit at start. */
  maxConnections?: number;
  /** Count requests per provider for `GET /metrics`. @default true */
  metrics: boolean;
  watch: boolean;
}

export type Command =
  | { kind: "serve"; config: Config }
  | { kind: "check"; dir: string; config: Config }
  | { kind: "smoke"; config: Config }
  | { kind: "providers"; action: "list" | "enable" | "disable" | "remove"; code?: string; config: Config }
  | { kind: "healthcheck"; url: string }
  | { kind: "help" }
  | { kind: "version" };

/** A command line the gateway cannot act on; exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const VALUE_FLAGS = {
  "--providers-dir": "GATEWAY_PROVIDERS_DIR",
  "--host": "GATEWAY_HOST",
  "--port": "GATEWAY_PORT",
  "--registry": "GATEWAY_REGISTRY",
  "--admin-token": "GATEWAY_ADMIN_TOKEN",
  "--log-format": "GATEWAY_LOG_FORMAT",
  "--log-level": "GATEWAY_LOG_LEVEL",
  "--external-allow": "GATEWAY_EXTERNAL_ALLOW",
  "--max-body-size": "GATEWAY_MAX_BODY_SIZE",
  "--max-header-size": "GATEWAY_MAX_HEADER_SIZE",
  "--header-timeout": "GATEWAY_HEADER_TIMEOUT",
  "--idle-timeout": "GATEWAY_IDLE_TIMEOUT",
  "--max-connections": "GATEWAY_MAX_CONNECTIONS",
  "--url": "",
} as const;
type ValueFlag = keyof typeof VALUE_FLAGS;
const BOOLEAN_FLAGS = ["--no-watch", "--no-metrics", "--help", "-h", "--version", "-V"] as const;
const COMMANDS = ["serve", "check", "smoke", "providers", "healthcheck"] as const;

export const USAGE = `gateway: one API in front of a folder of local services

Usage:
  gateway [serve] [--providers-dir DIR] [--host HOST] [--port PORT] [--registry FILE]
                  [--admin-token TOKEN] [--log-format pretty|json] [--log-level debug|info|warn|error]
                  [--external-allow CIDR|HOST,...] [--max-body-size SIZE] [--max-header-size SIZE]
                  [--header-timeout DURATION] [--idle-timeout DURATION] [--max-connections N]
                  [--no-watch] [--no-metrics]
  gateway check DIR                     conformance check of one provider directory
  gateway smoke [--providers-dir DIR]   start all, verify, report, stop; exit 0 or 1
  gateway providers list|enable|disable|remove CODE [--providers-dir DIR]
  gateway healthcheck [--url URL]       exit 0 iff /healthz answers 200
  gateway --help | --version

Flags (environment variable, default):
  --providers-dir   GATEWAY_PROVIDERS_DIR   ~/.core/providers
  --host            GATEWAY_HOST            127.0.0.1
  --port            GATEWAY_PORT            8080 (0 = ephemeral)
  --registry        GATEWAY_REGISTRY        <providers-dir>/registry.yaml
  --admin-token     GATEWAY_ADMIN_TOKEN     none
  --log-format      GATEWAY_LOG_FORMAT      pretty
  --log-level       GATEWAY_LOG_LEVEL       info
  --external-allow  GATEWAY_EXTERNAL_ALLOW  none
  --max-body-size   GATEWAY_MAX_BODY_SIZE   none (bodies of any size stream through); e.g. 10mb, 1gb
  --max-header-size GATEWAY_MAX_HEADER_SIZE 64kb (request line and headers; larger heads get 431)
  --header-timeout  GATEWAY_HEADER_TIMEOUT  10s (a request head not complete by then gets 408)
  --idle-timeout    GATEWAY_IDLE_TIMEOUT    75s (idle keep-alive connections and stalled request bodies)
  --max-connections GATEWAY_MAX_CONNECTIONS (open-file limit - 512) / 2; past it, 503 and close
  --no-watch                                apply changes to the providers dir on SIGHUP only
  --no-metrics                              do not count requests (GET /metrics keeps the rest)

Restarts: a start that fails spends restart.max_restarts; a provider that was ready and then
died is restarted for as long as the gateway runs (100 ms after a run that served 1 s or more,
doubling up to 30 s for runs that did not).
`;

/** Parses the command line (flags win over environment variables, which win over defaults). */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined>): Command {
  const values = new Map<ValueFlag, string>();
  const booleans = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("-")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg : arg.slice(0, eq);
      if (name in VALUE_FLAGS) {
        const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
        if (value === undefined) throw new UsageError(`Flag ${name} needs a value`);
        values.set(name as ValueFlag, value);
      } else if ((BOOLEAN_FLAGS as readonly string[]).includes(name)) {
        if (eq !== -1) throw new UsageError(`Flag ${name} takes no value; write ${name} alone`);
        booleans.add(name);
      } else {
        const hint = closest(name, [...Object.keys(VALUE_FLAGS), ...BOOLEAN_FLAGS]);
        throw new UsageError(
          `Unknown flag ${name}${hint ? ` (did you mean ${hint}?)` : ""}; see gateway --help`,
        );
      }
      continue;
    }
    positionals.push(arg);
  }
  if (booleans.has("--help") || booleans.has("-h")) return { kind: "help" };
  if (booleans.has("--version") || booleans.has("-V")) return { kind: "version" };

  const command = positionals.shift() ?? "serve";
  if (!(COMMANDS as readonly string[]).includes(command)) {
    const hint = closest(command, COMMANDS);
    throw new UsageError(
      `Unknown command "${command}"${hint ? ` (did you mean "${hint}"?)` : ""}; see gateway --help`,
    );
  }
  const pick = (flag: ValueFlag): string | undefined => {
    const fromFlag = values.get(flag);
    if (fromFlag !== undefined) return fromFlag;
    const name = VALUE_FLAGS[flag];
    const fromEnv = name ? env[name] : undefined;
    return fromEnv === "" ? undefined : fromEnv;
  };
  if (command === "healthcheck") {
    expectPositionals(command, positionals, 0);
    const port = pick("--port") ?? "8080";
    return { kind: "healthcheck", url: values.get("--url") ?? `http://127.0.0.1:${port}/healthz` };
  }
  if (values.has("--url")) throw new UsageError("Flag --url belongs to gateway healthcheck");
  // Errors name where a bad value came from: the flag, or the environment variable.
  const origin = (flag: ValueFlag): string => (values.has(flag) ? flag : VALUE_FLAGS[flag] || flag);
  const config = buildConfig(pick, origin, booleans, env);
  switch (command) {
    case "check": {
      expectPositionals(command, positionals, 1);
      return { kind: "check", dir: resolve(positionals[0]!), config };
    }
    case "smoke":
      expectPositionals(command, positionals, 0);
      return { kind: "smoke", config };
    case "providers": {
      const action = positionals.shift();
      if (action !== "list" && action !== "enable" && action !== "disable" && action !== "remove") {
        throw new UsageError(
          `gateway providers needs list, enable, disable or remove (got ${action ?? "nothing"})`,
        );
      }
      if (action === "list") {
        expectPositionals("providers list", positionals, 0);
        return { kind: "providers", action, config };
      }
      expectPositionals(`providers ${action}`, positionals, 1);
      return { kind: "providers", action, code: positionals[0]!, config };
    }
    default:
      expectPositionals("serve", positionals, 0);
      return { kind: "serve", config };
  }
}

function expectPositionals(command: string, positionals: string[], count: number): void {
  if (positionals.length > count) {
    throw new UsageError(
      `Unexpected argument "${positionals[count]}" for gateway ${command}; see gateway --help`,
    );
  }
  if (positionals.length < count)
    throw new UsageError(`gateway ${command} needs ${count} argument(s); see gateway --help`);
}

function buildConfig(
  pick: (flag: ValueFlag) => string | undefined,
  origin: (flag: ValueFlag) => string,
  booleans: Set<string>,
  env: Record<string, string | undefined>,
): Config {
  const home = env.HOME || homedir();
  const providersDir = resolve(expandHome(pick("--providers-dir") ?? join(home, ".core", "providers"), home));
  const portText = pick("--port") ?? "8080";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new UsageError(
      `Invalid ${origin("--port")} "${portText}": use a number from 0 to 65535 (0 = ephemeral)`,
    );
  }
  const logFormat = pick("--log-format") ?? "pretty";
  if (logFormat !== "pretty" && logFormat !== "json") {
    throw new UsageError(`Invalid ${origin("--log-format")} "${logFormat}": use pretty or json`);
  }
  const logLevel = pick("--log-level") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`Invalid ${origin("--log-level")} "${logLevel}": use ${LOG_LEVELS.join(", ")}`);
  }
  const sizeText = pick("--max-body-size");
  let maxBodySize: number | undefined;
  if (sizeText !== undefined && sizeText !== "none") {
    maxBodySize = parseSize(sizeText);
    if (maxBodySize === undefined || maxBodySize <= 0) {
      throw new UsageError(
        `Invalid ${origin("--max-body-size")} "${sizeText}": use a size such as 512kb, 10mb or 1gb`,
      );
    }
  }
  const headerText = pick("--max-header-size") ?? "64kb";
  const maxHeaderSize = parseSize(headerText);
  if (maxHeaderSize === undefined || maxHeaderSize < 1024 || maxHeaderSize > 16 * 1024 * 1024) {
    throw new UsageError(
      `Invalid ${origin("--max-header-size")} "${headerText}": use a size from 1kb to 16mb such as 64kb`,
    );
  }
  const timeout = (flag: "--header-timeout" | "--idle-timeout", fallback: string): number => {
    const text = pick(flag) ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0)
      throw new UsageError(`Invalid ${origin(flag)} "${text}": use a duration such as 500ms, 10s or 2m`);
    return ms;
  };
  const connectionsText = pick("--max-connections");
  let maxConnections: number | undefined;
  if (connectionsText !== undefined) {
    maxConnections = Number(connectionsText);
    if (!/^\d+$/.test(connectionsText) || maxConnections < 1)
      throw new UsageError(
        `Invalid ${origin("--max-connections")} "${connectionsText}": use a whole number of 1 or more`,
      );
  }
  const host = pick("--host") ?? "127.0.0.1";
  if (!host || /[\s/]/.test(host))
    throw new UsageError(`Invalid ${origin("--host")} "${host}": use an address such as 127.0.0.1`);
  return {
    providersDir,
    host,
    port,
    registryFile: resolve(expandHome(pick("--registry") ?? join(providersDir, "registry.yaml"), home)),
    adminToken: pick("--admin-token"),
    logFormat,
    logLevel: logLevel as LogLevel,
    externalAllow: (pick("--external-allow") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    maxBodySize,
    maxHeaderSize,
    headerTimeoutMs: timeout("--header-timeout", "10s"),
    idleTimeoutMs: timeout("--idle-timeout", "75s"),
    maxConnections,
    metrics: !booleans.has("--no-metrics"),
    watch: !booleans.has("--no-watch"),
  };
}

function expandHome(path: string, home: string): string {
  return path === "~" || path.startsWith("~/") ? join(home, path.slice(1)) : path;
}
