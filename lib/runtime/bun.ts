import type {
  ChildProcess,
  ExitInfo,
  HttpServer,
  RuntimeAdapter,
  ServeOptions,
  SpawnOptions,
} from "./types.ts";

/** Runtime adapter for Bun, and for the compiled `./gateway`. */
export const bunAdapter: RuntimeAdapter = {
  name: "bun",

  spawn(options: SpawnOptions): ChildProcess {
    const proc = Bun.spawn({
      cmd: options.cmd,
      cwd: options.cwd,
      env: options.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
    const exited = proc.exited.then(
      (): ExitInfo => ({
        code: proc.signalCode ? null : proc.exitCode,
        signal: proc.signalCode == null ? null : String(proc.signalCode),
      }),
    );
    return { pid: proc.pid, stdout: proc.stdout, stderr: proc.stderr, exited };
  },

  killGroup(pid, signal) {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  },

  async serve(options: ServeOptions): Promise<HttpServer> {
    const server = Bun.serve({
      hostname: options.hostname,
      port: options.port,
      // Bun's default is 128 MiB; the gateway streams bodies of any size unless --max-body-size says otherwise.
      maxRequestBodySize: options.maxRequestBodySize ?? Number.MAX_SAFE_INTEGER,
      idleTimeout: 30,
      fetch(request, srv) {
        return options.fetch(request, {
          remoteAddress: srv.requestIP(request)?.address ?? "",
          // Bun cuts connections idle for idleTimeout even mid-stream (oven-sh/bun #27479, #14439).
          keepOpen: () => srv.timeout(request, 0),
        });
      },
    });
    return {
      hostname: server.hostname ?? options.hostname,
      port: server.port ?? options.port,
      stop: (force) => server.stop(force),
    };
  },

  onSignal(signal, handler) {
    process.on(signal, handler);
  },

  bunCommand() {
    // In a compiled gateway, execPath is the gateway: BUN_BE_BUN=1 makes it act as the bun CLI
    // instead of re-running the gateway. Under plain `bun`, the variable is harmless.
    return { cmd: [process.execPath], env: { BUN_BE_BUN: "1" } };
  },

  args() {
    return process.argv.slice(2);
  },

  exit(code): never {
    process.exit(code);
  },
};
