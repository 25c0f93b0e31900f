import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DenoNet, denoRawSockets } from "./deno-sockets.ts";
import { parentDeathPrefix, probeParentDeathAhead, requireExecutable } from "./parent-death.ts";
import { raiseNoFile } from "./rlimit.ts";
import type {
  ChildProcess,
  ExitInfo,
  HttpServer,
  RuntimeAdapter,
  ServeOptions,
  SpawnOptions,
} from "./types.ts";

/** The slice of the Deno namespace this adapter uses (typed here so `tsc` needs no Deno types). */
interface DenoApi {
  Command: new (
    cmd: string,
    options: {
      args: string[];
      cwd?: string;
      env?: Record<string, string>;
      clearEnv?: boolean;
      stdin: "null";
      stdout: "piped" | "null";
      stderr: "piped" | "null";
      detached?: boolean;
    },
  ) => {
    outputSync(): { code: number };
    output(): Promise<{ code: number }>;
    spawn(): {
      pid: number;
      stdout: ReadableStream<Uint8Array>;
      stderr: ReadableStream<Uint8Array>;
      status: Promise<{ code: number; signal: string | null }>;
    };
  };
  kill(pid: number, signal: string): void;
  listen(options: { hostname: string; port: number }): { addr: { port: number }; close(): void };
  serve(
    options: {
      hostname: string;
      port: number;
      cert?: string;
      key?: string;
      onListen?: (addr: { hostname: string; port: number }) => void;
    },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void>; addr: { hostname: string; port: number } };
  addSignalListener(signal: string, handler: () => void): void;
  dlopen(
    path: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => number> };
  build: { os: string };
  args: string[];
  exit(code: number): never;
}

const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

/** libc through Deno's FFI, opened on first use; null where it cannot be opened. */
let libc:
  | (Parameters<typeof raiseNoFile>[0] & { flock(fd: number, operation: number): number })
  | null
  | undefined;
function openLibc(): typeof libc {
  if (libc !== undefined) return libc;
  libc = null;
  try {
    const { symbols } = Deno.dlopen(Deno.build.os === "darwin" ? "libc.dylib" : "libc.so.6", {
      flock: { parameters: ["i32", "i32"], result: "i32" },
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
    libc = {
      flock: (fd, operation) => symbols.flock!(fd, operation),
      getrlimit: (resource, limits) => symbols.getrlimit!(resource, limits),
      setrlimit: (resource, limits) => symbols.setrlimit!(resource, limits),
    };
  } catch {
    // No FFI permission or no glibc: callers fall back (see tryLock, raiseOpenFileLimit).
  }
  return libc;
}

/** Runs `cmd` to its end; true when it exits 0 (the parent-death probe). */
function runsToSuccess(cmd: string[]): boolean {
  const [program, ...args] = cmd;
  try {
    return (
      new Deno.Command(program!, { args, stdin: "null", stdout: "null", stderr: "null" }).outputSync()
        .code === 0
    );
  } catch {
    return false;
  }
}

/** {@link runsToSuccess} without waiting. */
async function willRunToSuccess(cmd: string[]): Promise<boolean> {
  const [program, ...args] = cmd;
  try {
    const { code } = await new Deno.Command(program!, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

/**
 * Whether Deno runs with --unstable-net (SO_REUSEPORT for a second TLS listener). Deno has no API
 * that says, and asking for an unstable option without the flag ends the process, so the flag is
 * looked for on Deno's own command line (Linux; elsewhere, as if absent).
 */
let unstableNetSeen: boolean | undefined;
function unstableNet(): boolean {
  if (unstableNetSeen === undefined) {
    try {
      const words = readFileSync("/proc/self/cmdline", "utf8").split("\0");
      // Deno's own flags come before the script; the gateway's after it are not Deno's.
      const script = words.findIndex((word) => word.endsWith(".ts") || word.endsWith(".js"));
      const own = script === -1 ? words : words.slice(0, script);
      unstableNetSeen = own.includes("--unstable-net") || own.includes("--unstable");
    } catch {
      unstableNetSeen = false;
    }
  }
  return unstableNetSeen;
}

/** Runtime adapter for running `main.ts` under Deno. */
export const denoAdapter: RuntimeAdapter = {
  name: "deno",
  raw: denoRawSockets(Deno as unknown as DenoNet, unstableNet),

  spawn(options: SpawnOptions): ChildProcess {
    const prefix = options.diesWithParent ? [] : parentDeathPrefix(runsToSuccess);
    if (prefix.length > 0) requireExecutable(options);
    const [program, ...args] = [...prefix, ...options.cmd];
    const child = new Deno.Command(program!, {
      args,
      cwd: options.cwd,
      env: options.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    const exited = child.status.then(
      (status): ExitInfo => ({ code: status.signal ? null : status.code, signal: status.signal }),
    );
    return {
      pid: child.pid,
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      diesWithParent: options.diesWithParent === true || prefix.length > 0,
    };
  },

  freePort() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    return port;
  },

  killGroup(pid, signal) {
    try {
      Deno.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  },

  async serve(options: ServeOptions): Promise<HttpServer> {
    let resolveListening: (addr: { hostname: string; port: number }) => void = () => {};
    const listening = new Promise<{ hostname: string; port: number }>((resolve) => {
      resolveListening = resolve;
    });
    const server = Deno.serve(
      {
        hostname: options.hostname,
        port: options.port,
        ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
        onListen: (addr) => resolveListening(addr),
      },
      (request, info) =>
        options.fetch(request, { remoteAddress: info.remoteAddr.hostname, keepOpen: () => {} }),
    );
    const addr = await listening;
    return { hostname: addr.hostname, port: addr.port, stop: () => server.shutdown() };
  },

  onSignal(signal, handler) {
    Deno.addSignalListener(signal, handler);
  },

  bunCommand() {
    // Deno has no embedded Bun: use the one npm installed beside the gateway, else bun on PATH.
    const here = dirname(fileURLToPath(import.meta.url));
    const local = join(here, "..", "..", "node_modules", ".bin", "bun");
    return { cmd: [existsSync(local) ? local : "bun"], env: {} };
  },

  get tryLock() {
    const lib = openLibc();
    // LOCK_EX | LOCK_NB. Deno's node:fs hands out real file descriptors, which flock takes.
    return lib ? (fd: number) => lib.flock(fd, 2 | 4) === 0 : undefined;
  },

  raiseOpenFileLimit() {
    // Deno does not raise the soft limit itself (Bun does).
    const lib = openLibc();
    return lib ? raiseNoFile(lib, Deno.build.os === "darwin" ? 8 : 7) : undefined;
  },

  prepareSpawning() {
    return probeParentDeathAhead(willRunToSuccess);
  },

  startupDone() {
    // Deno's JIT has no policy to restore.
  },

  args() {
    return Deno.args;
  },

  exit(code): never {
    return Deno.exit(code);
  },
};
