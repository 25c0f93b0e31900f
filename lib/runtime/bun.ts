import { existsSync } from "node:fs";
import type {
  ChildProcess,
  ExitInfo,
  HttpServer,
  RawHandlers,
  RawSocket,
  RawSockets,
  RuntimeAdapter,
  ServeOptions,
  SpawnOptions,
} from "./types.ts";

const SETPRIV = existsSync("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null;

/** Bun's sockets already have the RawSocket shape; these casts only name that. */
type AnySocket = Bun.Socket<unknown>;
const asRaw = <T>(socket: AnySocket) => socket as unknown as RawSocket<T>;

function bunHandlers<T>(handlers: RawHandlers<T>): Bun.SocketHandler<unknown, "buffer"> {
  return {
    binaryType: "buffer",
    open: handlers.open ? (socket) => handlers.open!(asRaw<T>(socket)) : undefined,
    data: (socket, chunk) => handlers.data(asRaw<T>(socket), chunk),
    drain: (socket) => handlers.drain(asRaw<T>(socket)),
    close: (socket, error) => handlers.close(asRaw<T>(socket), error),
    connectError: handlers.connectError
      ? (socket, error) => handlers.connectError!(asRaw<T>(socket), error)
      : undefined,
    timeout: handlers.timeout ? (socket) => handlers.timeout!(asRaw<T>(socket)) : undefined,
  };
}

const bunRawSockets: RawSockets = {
  listen({ hostname, port, handlers, data }) {
    const socketHandlers = bunHandlers(handlers);
    const open = socketHandlers.open;
    const listener = Bun.listen({
      hostname,
      port,
      socket: {
        ...socketHandlers,
        open(socket) {
          socket.data = data();
          open?.(socket);
        },
      },
    });
    return { hostname: listener.hostname, port: listener.port, stop: () => listener.stop(false) };
  },

  connect(address, handlers, data) {
    const socket = bunHandlers(handlers);
    const options = "unix" in address ? { unix: address.unix, socket, data } : { ...address, socket, data };
    Bun.connect(options as Parameters<typeof Bun.connect>[0]).catch(() => {
      // connectError has already reported it.
    });
  },

  serveUnix(path, fetch) {
    const server = Bun.serve({
      unix: path,
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch(request, srv) {
        return fetch(request, { remoteAddress: "", keepOpen: () => srv.timeout(request, 0) });
      },
    });
    return { hostname: path, port: 0, stop: (force) => server.stop(force) };
  },
};

/** Runtime adapter for Bun, and for the compiled `./gateway`. */
export const bunAdapter: RuntimeAdapter = {
  name: "bun",
  raw: bunRawSockets,

  spawn(options: SpawnOptions): ChildProcess {
    // setpriv --pdeathsig makes the kernel SIGKILL the provider if the gateway dies, even by
    // SIGKILL; the flag survives exec. Where setpriv is missing the process ledger still cleans up.
    const diesWithParent = SETPRIV !== null;
    const proc = Bun.spawn({
      cmd: diesWithParent ? [SETPRIV!, "--pdeathsig", "SIGKILL", "--", ...options.cmd] : options.cmd,
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
    return { pid: proc.pid, stdout: proc.stdout, stderr: proc.stderr, exited, diesWithParent };
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
