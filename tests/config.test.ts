import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { type Command, type Config, parseCommandLine, UsageError } from "../lib/config.ts";

const HOME = "/home/tester";
const ENV = { HOME };

/** Parses `argv` expecting the serve command, and returns its config. */
function serve(argv: string[], env: Record<string, string | undefined> = ENV): Config {
  const command = parseCommandLine(argv, env);
  if (command.kind !== "serve") throw new Error(`expected serve, got ${command.kind}`);
  return command.config;
}

/** Parses `argv` expecting a UsageError, and returns it. */
function usageError(argv: string[], env: Record<string, string | undefined> = ENV): UsageError {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`parseCommandLine accepted ${JSON.stringify(argv)}`);
}

function configOf(command: Command): Config {
  if (!("config" in command)) throw new Error(`${command.kind} has no config`);
  return command.config;
}

describe("parseCommandLine defaults and sources", () => {
  test("parseCommandLine serves with the documented defaults when given nothing", () => {
    expect(serve([])).toEqual({
      providersDir: join(HOME, ".core", "providers"),
      host: "127.0.0.1",
      port: 8080,
      registryFile: join(HOME, ".core", "providers", "registry.yaml"),
      adminToken: undefined,
      logFormat: "pretty",
      logLevel: "info",
      accessLog: false,
      configFile: undefined,
      publicUrl: undefined,
      externalAllow: [],
      resolver: undefined,
      maxBodySize: undefined,
      maxHeaderSize: 65536,
      headerTimeoutMs: 10_000,
      idleTimeoutMs: 75_000,
      maxConnections: undefined,
      metrics: true,
      watch: true,
    });
  });

  test("parseCommandLine accepts serve spelt out", () => {
    expect(serve(["serve"])).toEqual(serve([]));
  });

  test("parseCommandLine reads every setting from the environment", () => {
    const config = serve([], {
      HOME,
      GATEWAY_PROVIDERS_DIR: "/srv/providers",
      GATEWAY_HOST: "0.0.0.0",
      GATEWAY_PORT: "9090",
      GATEWAY_REGISTRY: "/var/lib/gateway/registry.yaml",
      GATEWAY_ADMIN_TOKEN: "s3cret",
      GATEWAY_LOG_FORMAT: "json",
      GATEWAY_LOG_LEVEL: "debug",
      GATEWAY_EXTERNAL_ALLOW: "10.0.0.0/8, agent.example",
      GATEWAY_MAX_BODY_SIZE: "10mb",
      GATEWAY_HEADER_TIMEOUT: "5s",
      GATEWAY_IDLE_TIMEOUT: "2m",
      GATEWAY_MAX_CONNECTIONS: "500",
    });
    expect(config).toEqual({
      providersDir: "/srv/providers",
      host: "0.0.0.0",
      port: 9090,
      registryFile: "/var/lib/gateway/registry.yaml",
      adminToken: "s3cret",
      logFormat: "json",
      logLevel: "debug",
      accessLog: false,
      configFile: undefined,
      publicUrl: undefined,
      externalAllow: ["10.0.0.0/8", "agent.example"],
      resolver: undefined,
      maxBodySize: 10 * 1024 * 1024,
      maxHeaderSize: 65536,
      headerTimeoutMs: 5000,
      idleTimeoutMs: 120_000,
      maxConnections: 500,
      metrics: true,
      watch: true,
    });
  });

  test("parseCommandLine lets flags beat environment variables", () => {
    const env = {
      HOME,
      GATEWAY_PROVIDERS_DIR: "/env/providers",
      GATEWAY_PORT: "9090",
      GATEWAY_LOG_LEVEL: "debug",
      GATEWAY_ADMIN_TOKEN: "from-env",
    };
    const config = serve(
      ["--providers-dir", "/flag/providers", "--port", "7070", "--log-level=warn", "--admin-token=from-flag"],
      env,
    );
    expect(config.providersDir).toBe("/flag/providers");
    expect(config.registryFile).toBe("/flag/providers/registry.yaml");
    expect(config.port).toBe(7070);
    expect(config.logLevel).toBe("warn");
    expect(config.adminToken).toBe("from-flag");
  });

  test("parseCommandLine ignores an empty environment variable", () => {
    expect(serve([], { HOME, GATEWAY_PORT: "", GATEWAY_HOST: "" })).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
    });
  });

  test("parseCommandLine accepts --port=0 for an ephemeral port", () => {
    expect(serve(["--port=0"]).port).toBe(0);
    expect(serve(["--port", "0"]).port).toBe(0);
  });

  test("parseCommandLine expands ~ and resolves relative directories", () => {
    expect(serve(["--providers-dir", "~/p"]).providersDir).toBe(join(HOME, "p"));
    expect(serve(["--providers-dir", "rel/p"]).providersDir).toBe(resolve("rel/p"));
    expect(serve(["--registry", "~/r.yaml"]).registryFile).toBe(join(HOME, "r.yaml"));
  });

  test("parseCommandLine turns --no-watch off the watcher", () => {
    expect(serve(["--no-watch"]).watch).toBe(false);
  });

  test("parseCommandLine reads --max-body-size and none", () => {
    expect(serve(["--max-body-size", "1gb"]).maxBodySize).toBe(1024 ** 3);
    expect(serve(["--max-body-size=512"]).maxBodySize).toBe(512);
    expect(
      serve(["--max-body-size", "none"], { HOME, GATEWAY_MAX_BODY_SIZE: "1mb" }).maxBodySize,
    ).toBeUndefined();
  });
});

describe("parseCommandLine usage errors", () => {
  test.each([["abc"], ["-1"], ["65536"], ["80.5"], [""], ["8080x"]])(
    "parseCommandLine refuses the port %p naming --port",
    (port) => {
      const error = usageError([`--port=${port}`]);
      expect(error.message).toContain("--port");
      expect(error.message).toContain(`"${port}"`);
    },
  );

  test("parseCommandLine refuses a bad port from the environment naming the variable", () => {
    expect(usageError([], { HOME, GATEWAY_PORT: "http" }).message).toContain("GATEWAY_PORT");
  });

  test("parseCommandLine refuses a bad log level naming --log-level and the choices", () => {
    const error = usageError(["--log-level", "verbose"]);
    expect(error.message).toContain("--log-level");
    expect(error.message).toContain('"verbose"');
    expect(error.message).toContain("debug");
  });

  test("parseCommandLine refuses a bad log format naming --log-format", () => {
    expect(usageError(["--log-format", "xml"]).message).toContain("--log-format");
  });

  test.each([["huge"], ["10tb"], ["0"], ["-5mb"]])(
    "parseCommandLine refuses the body size %p naming --max-body-size",
    (size) => {
      const error = usageError(["--max-body-size", size]);
      expect(error.message).toContain("--max-body-size");
    },
  );

  test.each([["big"], ["512"], ["32mb"]])(
    "parseCommandLine refuses the header size %p naming --max-header-size",
    (size) => {
      expect(usageError(["--max-header-size", size]).message).toContain("--max-header-size");
    },
  );

  test("parseCommandLine reads --max-header-size and its variable, 64kb by default", () => {
    expect(serve([]).maxHeaderSize).toBe(64 * 1024);
    expect(serve(["--max-header-size", "8kb"]).maxHeaderSize).toBe(8 * 1024);
    expect(serve([], { HOME, GATEWAY_MAX_HEADER_SIZE: "16kb" }).maxHeaderSize).toBe(16 * 1024);
    expect(usageError([], { HOME, GATEWAY_MAX_HEADER_SIZE: "huge" }).message).toContain(
      "GATEWAY_MAX_HEADER_SIZE",
    );
  });

  test.each([
    ["--header-timeout", "soon"],
    ["--header-timeout", "0"],
    ["--idle-timeout", "-5s"],
    ["--max-connections", "0"],
    ["--max-connections", "many"],
  ])("parseCommandLine refuses %s %p, naming the flag", (flag, value) => {
    expect(usageError([flag, value]).message).toContain(flag);
  });

  test.each([
    ["--max-body-size", "huge", "use a size such as 512kb, 10mb or 1gb, or none"],
    ["--max-header-size", "big", "use a size from 1kb to 16mb such as 64kb"],
    ["--header-timeout", "soon", "use a duration such as 500ms, 10s or 2m"],
    ["--port", "http", "use a number from 0 to 65535 (0 = ephemeral)"],
    ["--port", "70000", "use a number from 0 to 65535 (0 = ephemeral)"],
    ["--max-connections", "0", "use a whole number of 1 or more"],
    ["--log-format", "xml", "use pretty or json"],
  ])("parseCommandLine refusing %s %p says what to give", (flag, value, advice) => {
    expect(usageError([flag, value]).message).toBe(`Invalid ${flag} "${value}": ${advice}`);
  });

  test("parseCommandLine reads the timeouts as durations and --max-connections as a count", () => {
    const config = serve(["--header-timeout", "500ms", "--idle-timeout=30s", "--max-connections", "64"]);
    expect([config.headerTimeoutMs, config.idleTimeoutMs, config.maxConnections]).toEqual([500, 30_000, 64]);
  });

  test("parseCommandLine refuses a host with a slash or a space", () => {
    expect(usageError(["--host", "http://0.0.0.0"]).message).toContain("--host");
    expect(usageError(["--host", "a b"]).message).toContain("--host");
  });

  test("parseCommandLine refuses an unknown flag and suggests the closest", () => {
    const error = usageError(["--prot", "80"]);
    expect(error.message).toContain("--prot");
    expect(error.message).toContain("did you mean --port");
  });

  test("parseCommandLine refuses an unknown flag without suggesting a far one", () => {
    const error = usageError(["--completely-different"]);
    expect(error.message).toContain("--completely-different");
    expect(error.message).not.toContain("did you mean");
  });

  test("parseCommandLine refuses a value flag given without its value", () => {
    expect(usageError(["--port"]).message).toContain("--port");
  });

  test("parseCommandLine refuses an unknown command and suggests the closest", () => {
    const error = usageError(["serv"]);
    expect(error.message).toContain('"serv"');
    expect(error.message).toContain('did you mean "serve"');
  });

  test("parseCommandLine refuses a stray argument to serve", () => {
    expect(usageError(["serve", "extra"]).message).toContain('"extra"');
  });

  test("parseCommandLine refuses --url outside healthcheck", () => {
    expect(usageError(["--url", "http://x/healthz"]).message).toContain("--url");
  });
});

describe("parseCommandLine commands", () => {
  test("parseCommandLine reads gateway check DIR with the directory resolved", () => {
    const command = parseCommandLine(["check", "examples/providers/hello"], ENV);
    expect(command.kind).toBe("check");
    if (command.kind === "check") expect(command.dir).toBe(resolve("examples/providers/hello"));
  });

  test("parseCommandLine requires the directory of gateway check", () => {
    expect(usageError(["check"]).message).toContain("check");
  });

  test("parseCommandLine reads gateway smoke with its providers dir", () => {
    const command = parseCommandLine(["smoke", "--providers-dir", "/srv/p"], ENV);
    expect(command.kind).toBe("smoke");
    expect(configOf(command).providersDir).toBe("/srv/p");
  });

  test("parseCommandLine reads gateway providers list", () => {
    const command = parseCommandLine(["providers", "list", "--providers-dir=/srv/p"], ENV);
    expect(command).toMatchObject({ kind: "providers", action: "list" });
    expect(configOf(command).providersDir).toBe("/srv/p");
  });

  test.each([["enable"], ["disable"], ["remove"]])(
    "parseCommandLine reads gateway providers %s CODE",
    (action) => {
      const command = parseCommandLine(["providers", action, "weather"], ENV);
      expect(command).toMatchObject({ kind: "providers", action, code: "weather" });
    },
  );

  test("parseCommandLine requires a code for gateway providers enable", () => {
    expect(usageError(["providers", "enable"]).message).toContain("providers enable");
  });

  test("parseCommandLine refuses an unknown providers action", () => {
    expect(usageError(["providers", "purge", "x"]).message).toContain("purge");
    expect(usageError(["providers"]).message).toContain("nothing");
  });

  test("parseCommandLine reads gateway healthcheck with its default URL", () => {
    expect(parseCommandLine(["healthcheck"], ENV)).toEqual({
      kind: "healthcheck",
      url: "http://127.0.0.1:8080/healthz",
    });
  });

  test("parseCommandLine builds the healthcheck URL from the configured port", () => {
    expect(parseCommandLine(["healthcheck"], { HOME, GATEWAY_PORT: "9191" })).toEqual({
      kind: "healthcheck",
      url: "http://127.0.0.1:9191/healthz",
    });
  });

  test("parseCommandLine reads gateway healthcheck --url", () => {
    expect(parseCommandLine(["healthcheck", "--url", "http://10.0.0.5:8080/healthz"], ENV)).toEqual({
      kind: "healthcheck",
      url: "http://10.0.0.5:8080/healthz",
    });
  });

  test.each([["--help"], ["-h"]])("parseCommandLine answers help for %s", (flag) => {
    expect(parseCommandLine([flag], ENV)).toEqual({ kind: "help" });
    expect(parseCommandLine(["smoke", flag], ENV)).toEqual({ kind: "help" });
  });

  test.each([["--version"], ["-V"]])("parseCommandLine answers version for %s", (flag) => {
    expect(parseCommandLine([flag], ENV)).toEqual({ kind: "version" });
  });

  test("parseCommandLine answers help even when a flag value is bad", () => {
    expect(parseCommandLine(["--port", "nope", "--help"], ENV)).toEqual({ kind: "help" });
  });
});

describe("the config file", () => {
  /** parseCommandLine with `files` as the only files that exist. */
  const withFiles = (argv: string[], files: Record<string, string>, env: Record<string, string> = ENV) =>
    parseCommandLine(argv, env, (path) => files[path]);
  const serveWith = (argv: string[], files: Record<string, string>, env: Record<string, string> = ENV) => {
    const command = withFiles(argv, files, env);
    if (command.kind !== "serve") throw new Error(`expected serve, got ${command.kind}`);
    return command.config;
  };

  test("gateway.yaml in the providers dir is read when it exists: every flag is a key", () => {
    const config = serveWith(["--providers-dir", "/srv/p"], {
      "/srv/p/gateway.yaml":
        "port: 9000\nmax_body_size: 10mb\nlog_format: json\nno_watch: true\naccess_log: true\n",
    });
    expect(config).toMatchObject({
      port: 9000,
      maxBodySize: 10 * 1024 * 1024,
      logFormat: "json",
      watch: false,
      accessLog: true,
      configFile: "/srv/p/gateway.yaml",
    });
  });

  test("flags beat environment variables, which beat the file, which beats the defaults", () => {
    const files = { "/etc/gw.yaml": "port: 9000\nhost: 0.0.0.0\nlog_level: warn\nmax_header_size: 8kb\n" };
    const config = serveWith(["--config", "/etc/gw.yaml", "--port", "7000"], files, {
      HOME,
      GATEWAY_PORT: "7500",
      GATEWAY_HOST: "10.0.0.1",
    });
    expect(config.port).toBe(7000);
    expect(config.host).toBe("10.0.0.1");
    expect(config.logLevel).toBe("warn");
    expect(config.maxHeaderSize).toBe(8 * 1024);
    expect(config.idleTimeoutMs).toBe(75_000);
  });

  test("an explicit --config may choose the providers dir; GATEWAY_CONFIG names it too", () => {
    const files = { "/etc/gw.yaml": "providers_dir: /srv/elsewhere\n" };
    expect(serveWith(["--config", "/etc/gw.yaml"], files).providersDir).toBe("/srv/elsewhere");
    expect(serveWith([], files, { HOME, GATEWAY_CONFIG: "/etc/gw.yaml" }).providersDir).toBe(
      "/srv/elsewhere",
    );
  });

  test("an unknown key is an error naming the file and suggesting the closest key", () => {
    const error = (() => {
      try {
        withFiles(["--providers-dir", "/p"], { "/p/gateway.yaml": "max_body_sise: 1mb\n" });
      } catch (caught) {
        return caught as UsageError;
      }
      throw new Error("accepted");
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain('"max_body_sise"');
    expect(error.message).toContain("/p/gateway.yaml");
    expect(error.message).toContain('did you mean "max_body_size"');
  });

  test.each([
    ["a bad value, naming the key and the file", "port: eighty\n", "port in /p/gateway.yaml"],
    ["a switch that is not true or false", "no_watch: yes please\n", '"no_watch"'],
    ["a list where one value goes", "host: [a, b]\n", '"host"'],
    ["YAML that does not parse", "port: [\n", "not valid YAML"],
    ["a file that is not a mapping", "- port\n", "must be a mapping"],
    ["providers_dir in the providers dir's own file", "providers_dir: /x\n", "providers_dir"],
  ])("refuses %s", (_, text, expected) => {
    expect(() => withFiles(["--providers-dir", "/p"], { "/p/gateway.yaml": text })).toThrow(expected);
  });

  test("a --config file that does not exist is an error; a missing gateway.yaml is not", () => {
    expect(() => withFiles(["--config", "/nope.yaml"], {})).toThrow("/nope.yaml does not exist");
    expect(serveWith(["--providers-dir", "/p"], {}).configFile).toBeUndefined();
  });
});

describe("the settings table", () => {
  test("--help lists every setting with its flag and variable", async () => {
    const { USAGE } = await import("../lib/config.ts");
    const { SETTINGS } = await import("../lib/settings.ts");
    for (const setting of Object.values(SETTINGS)) {
      expect(USAGE).toContain(setting.flag);
      if (setting.env) expect(USAGE).toContain(setting.env);
    }
  });

  test("the README's table of settings is the one the settings table makes (bun scripts/settings-table.ts)", async () => {
    const { readFileSync } = await import("node:fs");
    const { settingsTable } = await import("../lib/settings.ts");
    const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
    const start = readme.indexOf("<!-- settings:start -->");
    const end = readme.indexOf("<!-- settings:end -->");
    expect(start).toBeGreaterThan(-1);
    // Cells compared trimmed: the formatter pads the README's columns.
    const cells = (table: string) =>
      table
        .trim()
        .split("\n")
        .map((row) => row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/^-+$/, "---")));
    expect(cells(readme.slice(start + "<!-- settings:start -->".length, end))).toEqual(
      cells(settingsTable()),
    );
  });
});
