/**
 * gateway: flags → config → command. The only place that exits the process.
 */

// First, so zod is configured before any module parses with it.
import "./lib/zod-setup.ts";
import { parseCommandLine, USAGE, UsageError } from "./lib/config.ts";
import { runtime } from "./lib/runtime/index.ts";
import packageJson from "./package.json" with { type: "json" };

const VERSION: string = packageJson.version;

async function main(): Promise<number> {
  let command: ReturnType<typeof parseCommandLine>;
  try {
    command = parseCommandLine(runtime.args(), process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`gateway: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  switch (command.kind) {
    case "help":
      process.stdout.write(USAGE);
      return 0;
    case "version":
      process.stdout.write(`gateway ${VERSION} (${runtime.name})\n`);
      return 0;
    // Each command loads only its own modules: `gateway healthcheck` (a container's HEALTHCHECK)
    // starts without the supervisor or the HTTP app, and `serve` without the others.
    case "healthcheck":
      return (await import("./lib/commands/healthcheck.ts")).healthcheck(command.url);
    case "providers":
      return (await import("./lib/commands/providers.ts")).providersCommand(
        command.action,
        command.code,
        command.config,
        { json: command.json },
      );
    case "check":
      return (await import("./lib/commands/check.ts")).check(command.dir, command.config, runtime, VERSION);
    case "check-url":
      return (await import("./lib/commands/check.ts")).checkUrl(
        command.url,
        command.config,
        runtime,
        VERSION,
      );
    case "smoke":
      return (await import("./lib/commands/smoke.ts")).smoke(command.config, runtime, VERSION, {
        junit: command.junit,
        timeoutMs: command.timeoutMs,
      });
    case "serve":
      return (await import("./lib/commands/serve.ts")).serve(command.config, runtime, VERSION);
    case "mcp":
      return (await import("./lib/commands/serve.ts")).serve(command.config, runtime, VERSION, { mcp: true });
    case "agent":
      return (await import("./lib/commands/agent.ts")).agent(command, runtime, VERSION);
  }
}

main().then(
  (code) => runtime.exit(code),
  (error) => {
    process.stderr.write(`gateway: unexpected failure: ${(error as Error).stack ?? error}\n`);
    runtime.exit(1);
  },
);
