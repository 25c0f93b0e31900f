import { closeAfterSpawn, outputPairs, type SocketPairCall, socketReadable } from "./bun-output.ts";
import { parentDeathPrefix, probeParentDeathAhead, requireExecutable } from "./parent-death.ts";
import { raiseNoFile } from "./rlimit.ts";
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
  };
}

const bunRawSockets: RawSockets = {
  listen({ hostname, port, handlers, data, tls, replacing }) {
    const socketHandlers = bunHandlers(handlers);
    const open = socketHandlers.open;
    if (tls && port !== 0 && !replacing) {
      // A TLS listener takes its port with SO_REUSEPORT, so a new certificate can be put in
      // place by opening a second listener before closing the first (Bun cannot swap the
      // certificate of a running one). First prove the port free: another program (or a second
      // gateway) on it must be an error, not a silent share of its connections.
      Bun.listen({ hostname, port, exclusive: true, socket: { data() {} } }).stop(true);
    }
    const listener = Bun.listen({
      hostname,
      port,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key }, reusePort: true } : {}),
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
    if ("unix" in address || !address.tls) {
      const options = "unix" in address ? { unix: address.unix, socket, data } : { ...address, socket, data };
      Bun.connect(options as Parameters<typeof Bun.connect>[0]).catch(() => {
        // connectError has already reported it.
      });
      return;
    }
    // TLS: writes before the handshake are not taken (write returns 0), so the connection counts
    // as open only once it is done, and only with a certificate valid for the server name.
    const open = socket.open;
    Bun.connect({
      hostname: address.hostname,
      port: address.port,
      data,
      tls: { serverName: address.tls.serverName, rejectUnauthorized: true },
      socket: {
        ...socket,
        open: undefined,
        handshake(raw: AnySocket, authorized: boolean, error: Error | null) {
          if (authorized) {
            open?.(raw);
            return;
          }
          const reason = error
            ? `${(error as { code?: string }).code ?? ""} ${error.message}`.trim()
            : "not authorized";
          socket.connectError?.(
            raw,
            new Error(`TLS handshake with ${address.tls!.serverName} failed: ${reason}`),
          );
          raw.terminate();
        },
      },
    } as unknown as Parameters<typeof Bun.connect>[0]).catch(() => {
      // connectError has already reported it.
    });
  },

  collectGarbage() {
    Bun.gc(true);
  },

  serveUnix(path, fetch) {
    const options = {
      unix: path,
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      // server.timeout(request, 0) does not lift the idle timeout on a unix socket (Bun 1.4.5,
      // seen in tests): streams such as /_gateway/events would be cut after ~10 s of quiet. The
      // byte-level front owns client connections, so this private server needs no idle timeout.
      idleTimeout: 0,
      fetch(request: Request, srv: Bun.Server<unknown>) {
        return fetch(request, { remoteAddress: "", keepOpen: () => srv.timeout(request, 0) });
      },
    };
    // Bun's types allow idleTimeout only on TCP servers; the runtime honours it on unix sockets too.
    const server = Bun.serve(options as unknown as Parameters<typeof Bun.serve>[0]);
    return { hostname: path, port: 0, stop: (force) => server.stop(force) };
  },
};

/** Runs `cmd` to its end; true when it exits 0 (the parent-death probe). */
function runsToSuccess(cmd: string[]): boolean {
  return Bun.spawnSync({ cmd, stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

/** {@link runsToSuccess} without waiting. */
async function willRunToSuccess(cmd: string[]): Promise<boolean> {
  return (await Bun.spawn({ cmd, stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited) === 0;
}

interface Libc {
  flock(fd: number, operation: number): number;
  getrlimit(resource: number, limits: BigUint64Array): number;
  setrlimit(resource: number, limits: BigUint64Array): number;
  socketpair: SocketPairCall;
}

/** libc through Bun's FFI, opened on first use (about 1 ms); null where it cannot be opened. */
let libc: Libc | null | undefined;
function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const lib = dlopen(process.platform === "darwin" ? "libc.dylib" : "libc.so.6", {
      flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    });
    const symbols = lib.symbols as unknown as Record<keyof Libc, (...args: unknown[]) => number>;
    libc = {
      flock: (fd, operation) => symbols.flock(fd, operation),
      getrlimit: (resource, limits) => symbols.getrlimit(resource, limits),
      setrlimit: (resource, limits) => symbols.setrlimit(resource, limits),
      socketpair: (domain, type, protocol, fds) => symbols.socketpair(domain, type, protocol, fds),
    };
  } catch {
    // No FFI or no glibc (musl): callers fall back (see tryLock, raiseOpenFileLimit).
  }
  return libc;
}

/** LOCK_EX | LOCK_NB (<sys/file.h>, the same on Linux and macOS). */
const LOCK_EX_NB = 2 | 4;

/** Runtime adapter for Bun, and for the compiled `./gateway`. */
export const bunAdapter: RuntimeAdapter = {
  name: "bun",
  raw: bunRawSockets,

  spawn(options: SpawnOptions): ChildProcess {
    const prefix = options.diesWithParent ? [] : parentDeathPrefix(runsToSuccess);
    if (prefix.length > 0) requireExecutable(options);
    // Output over the gateway's own socketpairs where it can (lib/runtime/bun-output.ts says why).
    const pairs = outputPairs(openLibc()?.socketpair);
    let proc: Bun.Subprocess<"ignore", "pipe" | number, "pipe" | number>;
    let failed = true;
    try {
      proc = Bun.spawn({
        cmd: [...prefix, ...options.cmd],
        cwd: options.cwd,
        env: options.env,
        stdin: "ignore",
        stdout: pairs ? pairs[0][1] : "pipe",
        stderr: pairs ? pairs[1][1] : "pipe",
        detached: true,
      });
      failed = false;
    } finally {
      if (pairs) closeAfterSpawn(pairs, failed);
    }
    const exited = proc.exited.then(
      (): ExitInfo => ({
        code: proc.signalCode ? null : proc.exitCode,
        signal: proc.signalCode == null ? null : String(proc.signalCode),
      }),
    );
    return {
      pid: proc.pid,
      stdout: pairs ? socketReadable(pairs[0][0]) : (proc.stdout as ReadableStream<Uint8Array>),
      stderr: pairs ? socketReadable(pairs[1][0]) : (proc.stderr as ReadableStream<Uint8Array>),
      exited,
      diesWithParent: options.diesWithParent === true || prefix.length > 0,
    };
  },

  killGroup(pid, signal) {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  },

  freePort() {
    // Synchronous, unlike node:net's listen/close (two event-loop turns per provider).
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    return port;
  },

  async serve(options: ServeOptions): Promise<HttpServer> {
    const server = Bun.serve({
      hostname: options.hostname,
      port: options.port,
      tls: options.tls,
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

  prepareSpawning() {
    return probeParentDeathAhead(willRunToSuccess);
  },

  startupDone() {
    Bun.unsafe.setJITPolicy(1);
  },

  get tryLock() {
    const lib = openLibc();
    return lib ? (fd: number) => lib.flock(fd, LOCK_EX_NB) === 0 : undefined;
  },

  raiseOpenFileLimit() {
    const lib = openLibc();
    return lib ? raiseNoFile(lib, process.platform === "darwin" ? 8 : 7) : undefined;
  },

  args() {
    return process.argv.slice(2);
  },

  exit(code): never {
    process.exit(code);
  },
};
