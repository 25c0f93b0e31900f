import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { z } from "zod";
import { parseDuration } from "./duration.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./logger.ts";
import { yamlPackage } from "./runtime/packages.ts";
import { SETTINGS, type Setting, type SettingName, settingsHelp } from "./settings.ts";
import { closest } from "./suggest.ts";

/** Everything `gateway serve` (and the commands built on it) is configured with. */
export interface Config {
  providersDir: string;
  host: string;
  port: number;
  registryFile: string;
  /** The config file read, when there was one. */
  configFile?: string;
  adminToken?: string;
  /** The base URL handed to external agents; undefined: the listener's. */
  publicUrl?: string;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** Log one line per proxied request. */
  accessLog: boolean;
  externalAllow: string[];
  /** The DNS server agents' host names are resolved with; undefined: the system's. */
  resolver?: string;
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
  /** The listener's certificate and key files (PEM): HTTPS when set. */
  tls?: { certFile: string; keyFile: string };
  watch: boolean;
}

export type Command =
  | { kind: "serve"; config: Config }
  | { kind: "check"; dir: string; config: Config }
  | { kind: "check-url"; url: string; config: Config }
  | { kind: "smoke"; config: Config; junit?: string; timeoutMs?: number }
  | {
      kind: "providers";
      action: "list" | "enable" | "disable" | "remove";
      code?: string;
      /** `list --json`: a JSON array instead of the table. */
      json?: boolean;
      config: Config;
    }
  | { kind: "healthcheck"; url: string }
  | { kind: "mcp"; config: Config }
  | {
      kind: "agent";
      gateway: string;
      token: string;
      upstream: string;
      logLevel: LogLevel;
      logFormat: LogFormat;
    }
  | { kind: "help" }
  | { kind: "version" };

/** A command line the gateway cannot act on; exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Flags that only some commands take, outside the settings table: healthcheck's, smoke's. */
const COMMAND_FLAGS = ["--url", "--junit", "--timeout"] as const;
const BOOLEAN_FLAGS = ["--help", "-h", "--version", "-V", "--json"] as const;
const COMMANDS = ["serve", "check", "smoke", "providers", "healthcheck", "mcp"] as const;

const SETTING_LIST = Object.entries(SETTINGS) as Array<[SettingName, Setting]>;
const BY_FLAG = new Map(SETTING_LIST.map(([name, setting]) => [setting.flag as string, name]));
const BY_FILE_KEY = new Map(SETTING_LIST.filter(([, s]) => s.file).map(([name, s]) => [s.file, name]));

export const USAGE = `gateway: one API in front of a folder of local services

Usage:
  gateway [serve] [flags]               start every provider and serve them (the default)
  gateway check DIR | --url URL         conformance check of one provider directory, or of an
                                        agent's URL (not registered anywhere yet)
  gateway smoke [flags] [--junit FILE] [--timeout DURATION]
                                        start all, verify, report (JUnit XML to FILE), stop;
                                        providers not ready within DURATION (60s) fail; exit 0 or 1
  gateway providers list [--json] | enable|disable|remove CODE [--providers-dir DIR]
  gateway mcp [flags]                   serve, plus an MCP server on stdin/stdout (port 0 unless given)
  gateway agent --gateway URL --token TOKEN --upstream URL [--log-level L] [--log-format F]
                                        serve a provider on this machine through a tunnel dialled
                                        out to the gateway (GATEWAY_AGENT_GATEWAY, _TOKEN, _UPSTREAM)
  gateway healthcheck [--url URL]       exit 0 iff /healthz answers 200
  gateway --help | --version

Flags (environment variable, default); each is also a key of the config file (--config):
${settingsHelp()}

Flags win over environment variables, which win over the config file, which wins over defaults.

Restarts: a start that fails spends restart.max_restarts; a provider that was ready and then
died is restarted for as long as the gateway runs (100 ms after a run that served 1 s or more,
doubling up to 30 s for runs that did not).
`;

/** What the command line gave: setting texts by flag, switches, positionals. */
interface ParsedArgs {
  values: Map<SettingName, string>;
  commandFlags: Map<(typeof COMMAND_FLAGS)[number], string>;
  booleans: Set<string>;
  positionals: string[];
}

function readArgs(argv: string[]): ParsedArgs {
  const parsed: ParsedArgs = {
    values: new Map(),
    commandFlags: new Map(),
    booleans: new Set(),
    positionals: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-")) {
      parsed.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const setting = BY_FLAG.get(name);
    const takesValue = setting
      ? SETTINGS[setting].kind === "value"
      : (COMMAND_FLAGS as readonly string[]).includes(name);
    if (takesValue) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new UsageError(`Flag ${name} needs a value`);
      if (setting) parsed.values.set(setting, value);
      else parsed.commandFlags.set(name as (typeof COMMAND_FLAGS)[number], value);
    } else if (setting || (BOOLEAN_FLAGS as readonly string[]).includes(name)) {
      if (eq !== -1) throw new UsageError(`Flag ${name} takes no value; write ${name} alone`);
      if (setting) parsed.values.set(setting, "");
      else parsed.booleans.add(name);
    } else {
      const hint = closest(name, [...BY_FLAG.keys(), ...COMMAND_FLAGS, ...BOOLEAN_FLAGS]);
      throw new UsageError(
        `Unknown flag ${name}${hint ? ` (did you mean ${hint}?)` : ""}; see gateway --help`,
      );
    }
  }
  return parsed;
}

/** Reads a file's text, or undefined when it does not exist. */
export type ReadFile = (path: string) => string | undefined;

const readFileIfThere: ReadFile = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`Cannot read config file ${path}: ${(error as Error).message}`);
  }
};

/**
 * The settings of a config file: a YAML mapping whose keys are the settings' file keys (the flag
 * without its dashes, `-` as `_`). Strict: an unknown key is an error suggesting the closest.
 */
function readConfigFile(path: string, readFile: ReadFile, required: boolean): Map<SettingName, string> {
  const settings = new Map<SettingName, string>();
  const source = readFile(path);
  if (source === undefined) {
    if (required) throw new UsageError(`Config file ${path} does not exist (--config)`);
    return settings;
  }
  let data: unknown;
  try {
    data = yamlPackage().parse(source);
  } catch (error) {
    throw new UsageError(`Config file ${path} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (data === null || data === undefined) return settings;
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new UsageError(`Config file ${path} must be a mapping of settings such as max_body_size: 10mb`);
  }
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const name = BY_FILE_KEY.get(key);
    if (!name) {
      const hint = closest(key, BY_FILE_KEY.keys());
      throw new UsageError(
        `Unknown key "${key}" in config file ${path}${hint ? ` (did you mean "${hint}"?)` : ""}; see gateway --help`,
      );
    }
    const setting: Setting = SETTINGS[name];
    if (setting.kind === "switch") {
      if (typeof value !== "boolean")
        throw new UsageError(`Invalid "${key}" in config file ${path}: use true or false`);
      if (value) settings.set(name, "");
      continue;
    }
    if (typeof value === "object" && value !== null) {
      throw new UsageError(
        `Invalid "${key}" in config file ${path}: use a single value, as on the command line`,
      );
    }
    if (value !== null && value !== undefined) settings.set(name, String(value));
  }
  return settings;
}

/**
 * Parses the command line: flags win over environment variables, which win over the config
 * file (`--config`, else `<providers-dir>/gateway.yaml` when it exists), which wins over defaults.
 */
export function parseCommandLine(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: ReadFile = readFileIfThere,
): Command {
  // The agent runs on another machine with flags of its own: none of the gateway's settings apply.
  if (argv[0] === "agent") return parseAgentArgs(argv.slice(1), env);
  const args = readArgs(argv);
  const { booleans, positionals, commandFlags } = args;
  if (booleans.has("--help") || booleans.has("-h")) return { kind: "help" };
  if (booleans.has("--version") || booleans.has("-V")) return { kind: "version" };

  const command = positionals.shift() ?? "serve";
  if (!(COMMANDS as readonly string[]).includes(command)) {
    const hint = closest(command, COMMANDS);
    throw new UsageError(
      `Unknown command "${command}"${hint ? ` (did you mean "${hint}"?)` : ""}; see gateway --help`,
    );
  }
  const fromEnv = (name: SettingName): string | undefined => {
    const variable = SETTINGS[name].env;
    const value = variable ? env[variable] : undefined;
    return value === "" ? undefined : value;
  };
  const early = (name: SettingName) => args.values.get(name) ?? fromEnv(name);
  if (command === "healthcheck") {
    expectPositionals(command, positionals, 0);
    const port = early("port") ?? "8080";
    return { kind: "healthcheck", url: commandFlags.get("--url") ?? `http://127.0.0.1:${port}/healthz` };
  }
  if (commandFlags.has("--url") && command !== "check") {
    throw new UsageError("Flag --url belongs to gateway healthcheck and gateway check");
  }
  if (booleans.has("--json") && !(command === "providers" && positionals[0] === "list")) {
    throw new UsageError("Flag --json belongs to gateway providers list");
  }
  if (command !== "smoke") {
    for (const flag of ["--junit", "--timeout"] as const) {
      if (commandFlags.has(flag)) throw new UsageError(`Flag ${flag} belongs to gateway smoke`);
    }
  }

  const home = env.HOME || homedir();
  // The config file: given, or gateway.yaml in the providers dir (which the file cannot then set).
  const explicitFile = early("configFile");
  const earlyDir = early("providersDir");
  const dirFor = (text: string) => resolve(expandHome(text, home));
  const configPath = explicitFile
    ? dirFor(explicitFile)
    : join(dirFor(earlyDir ?? SETTINGS.providersDir.default), "gateway.yaml");
  const file = readConfigFile(configPath, readFile, explicitFile !== undefined);
  if (!explicitFile && file.has("providersDir")) {
    throw new UsageError(
      `Config file ${configPath} sets providers_dir, but it is read from the providers dir itself; give the file with --config to choose the dir in it`,
    );
  }
  const value = <N extends SettingName>(name: N): z.output<(typeof SETTINGS)[N]["schema"]> | undefined => {
    const setting: Setting = SETTINGS[name];
    // The first source that gives it, in order of precedence; the origin names it in errors.
    const sources: Array<[string | undefined, string]> = [
      [args.values.get(name), setting.flag],
      [fromEnv(name), setting.env],
      [file.get(name), `${setting.file} in ${configPath}`],
      [setting.default, setting.flag],
    ];
    const found = sources.find(([given]) => given !== undefined);
    if (!found) return undefined;
    const [given, origin] = found;
    const result = setting.schema.safeParse(given);
    if (!result.success) {
      throw new UsageError(`Invalid ${origin} "${given}": ${result.error.issues[0]!.message}`);
    }
    return result.data as z.output<(typeof SETTINGS)[N]["schema"]>;
  };
  const providersDir = dirFor(value("providersDir")!);
  const registry = value("registryFile");
  const config: Config = {
    providersDir,
    host: value("host")!,
    port: value("port")!,
    registryFile: registry ? dirFor(registry) : join(providersDir, "registry.yaml"),
    configFile: file.size > 0 || explicitFile ? configPath : undefined,
    adminToken: value("adminToken"),
    publicUrl: value("publicUrl")?.replace(/\/+$/, ""),
    logFormat: value("logFormat")!,
    logLevel: value("logLevel")!,
    accessLog: value("accessLog") === true,
    externalAllow: value("externalAllow") ?? [],
    resolver: value("resolver"),
    maxBodySize: value("maxBodySize"),
    maxHeaderSize: value("maxHeaderSize")!,
    headerTimeoutMs: value("headerTimeoutMs")!,
    idleTimeoutMs: value("idleTimeoutMs")!,
    maxConnections: value("maxConnections"),
    metrics: value("noMetrics") !== true,
    tls: tlsFiles(value("tlsCert"), value("tlsKey"), dirFor),
    watch: value("noWatch") !== true,
  };
  switch (command) {
    case "check": {
      const url = commandFlags.get("--url");
      if (url !== undefined) {
        expectPositionals("check --url", positionals, 0);
        return { kind: "check-url", url, config };
      }
      expectPositionals(command, positionals, 1);
      return { kind: "check", dir: resolve(positionals[0]!), config };
    }
    case "smoke": {
      expectPositionals(command, positionals, 0);
      const timeout = commandFlags.get("--timeout");
      const timeoutMs = timeout === undefined ? undefined : parseDuration(timeout);
      if (timeout !== undefined && (timeoutMs === undefined || timeoutMs <= 0)) {
        throw new UsageError(`Invalid --timeout "${timeout}": use a duration such as 30s or 2m`);
      }
      const junit = commandFlags.get("--junit");
      return { kind: "smoke", config, junit: junit === undefined ? undefined : resolve(junit), timeoutMs };
    }
    case "providers": {
      const action = positionals.shift();
      if (action !== "list" && action !== "enable" && action !== "disable" && action !== "remove") {
        throw new UsageError(
          `gateway providers needs list, enable, disable or remove (got ${action ?? "nothing"})`,
        );
      }
      if (action === "list") {
        expectPositionals("providers list", positionals, 0);
        return { kind: "providers", action, json: booleans.has("--json"), config };
      }
      expectPositionals(`providers ${action}`, positionals, 1);
      return { kind: "providers", action, code: positionals[0]!, config };
    }
    case "mcp": {
      expectPositionals(command, positionals, 0);
      // Its listener is on an ephemeral port unless one is asked for: the client talks over stdio.
      const portGiven = args.values.has("port") || fromEnv("port") !== undefined || file.has("port");
      return { kind: "mcp", config: portGiven ? config : { ...config, port: 0 } };
    }
    default:
      expectPositionals("serve", positionals, 0);
      return { kind: "serve", config };
  }
}

function tlsFiles(
  cert: string | undefined,
  key: string | undefined,
  path: (text: string) => string,
): Config["tls"] {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new UsageError(
      `${cert === undefined ? "--tls-key" : "--tls-cert"} needs ${cert === undefined ? "--tls-cert" : "--tls-key"} too: give both, or neither for plain HTTP`,
    );
  }
  return { certFile: path(cert), keyFile: path(key) };
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

function expandHome(path: string, home: string): string {
  return path === "~" || path.startsWith("~/") ? join(home, path.slice(1)) : path;
}

/** `gateway agent` flags, each also from the environment. */
function parseAgentArgs(argv: string[], env: Record<string, string | undefined>): Command {
  const flags = new Map<string, string>();
  const known = ["--gateway", "--token", "--upstream", "--log-level", "--log-format"];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!known.includes(name)) {
      const hint = closest(name, known);
      throw new UsageError(
        `Unknown flag ${JSON.stringify(arg)} for gateway agent${hint ? ` (did you mean ${hint}?)` : ""}`,
      );
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`Flag ${name} needs a value`);
    flags.set(name, value);
  }
  const need = (flag: string, variable: string, what: string) => {
    const value = flags.get(flag) ?? (env[variable] || undefined);
    if (!value) throw new UsageError(`gateway agent needs ${flag} (or ${variable}): ${what}`);
    return value;
  };
  const level = flags.get("--log-level") ?? env.GATEWAY_LOG_LEVEL ?? "info";
  const format = flags.get("--log-format") ?? env.GATEWAY_LOG_FORMAT ?? "pretty";
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new UsageError(`Invalid --log-level "${level}": use ${LOG_LEVELS.join(", ")}`);
  if (format !== "pretty" && format !== "json")
    throw new UsageError(`Invalid --log-format "${format}": use pretty or json`);
  return {
    kind: "agent",
    gateway: need(
      "--gateway",
      "GATEWAY_AGENT_GATEWAY",
      "the gateway's URL, as its connection block gives it",
    ),
    token: need("--token", "GATEWAY_AGENT_TOKEN", "the provider token (gwp_…)"),
    upstream: need(
      "--upstream",
      "GATEWAY_AGENT_UPSTREAM",
      "the URL of the service to serve, such as http://127.0.0.1:8080",
    ),
    logLevel: level as LogLevel,
    logFormat: format as LogFormat,
  };
}
