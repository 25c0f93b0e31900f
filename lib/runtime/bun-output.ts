/**
 * A provider's stdout and stderr over socketpairs the gateway makes itself, read as Bun sockets
 * (Linux; elsewhere, or without FFI, Bun's own pipes are used).
 *
 * Why: Bun's `stdout: "pipe"` is a socketpair too, but it is read through a stream whose native
 * reader holds a 256 KB buffer per pipe and reports it to the garbage collector. The 100 readers
 * of a 50-provider start added 25 MB of "extra memory", which brought 3-4 collections into the
 * start-up wave. A Bun socket reads into the event loop's one shared buffer. Measured
 * (bench/supervisor/run.ts, 9 rounds): start to /readyz 156.7 against 167.9 ms, 1.04× against
 * 1.11× the floor, the gateway's CPU by then 50 against 57 ms.
 */

import { closeSync } from "node:fs";

/** <sys/socket.h> on Linux: AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC. */
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

/** Queued bytes past which the socket stops reading (the reader is rate-limited, lib/supervisor/logs.ts). */
const HIGH_WATER_BYTES = 64 * 1024;

export type SocketPairCall = (domain: number, type: number, protocol: number, fds: Int32Array) => number;

/**
 * A connected pair of stream sockets, both close-on-exec: `[gateway's end, child's end]`. The
 * child's end stays blocking, as a program expects of its stdout; spawning dup2s it onto fd 1 or
 * 2, which clears close-on-exec there only. Throws when the call fails.
 */
export function socketPair(call: SocketPairCall): [number, number] {
  const fds = new Int32Array(2);
  if (call(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) !== 0) {
    throw new Error(
      "cannot make a socket pair for its output: socketpair(2) failed, most likely for want of file descriptors (raise ulimit -n)",
    );
  }
  return [fds[0]!, fds[1]!];
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}

/**
 * The output pairs for one spawn, `[stdout, stderr]`, or undefined where Bun's pipes serve
 * (not Linux, or no FFI). When the second pair cannot be made, the first is closed.
 */
export function outputPairs(
  call: SocketPairCall | undefined,
): [[number, number], [number, number]] | undefined {
  if (!call || process.platform !== "linux") return undefined;
  const out = socketPair(call);
  try {
    return [out, socketPair(call)];
  } catch (error) {
    closeQuietly(out[0]);
    closeQuietly(out[1]);
    throw error;
  }
}

/** Closes the child's ends once it has them (its own copies), and the gateway's too when `failed`. */
export function closeAfterSpawn(pairs: [[number, number], [number, number]], failed: boolean): void {
  for (const [gatewayEnd, childEnd] of pairs) {
    closeQuietly(childEnd);
    if (failed) closeQuietly(gatewayEnd);
  }
}

interface Reading {
  controller: ReadableStreamDefaultController<Uint8Array>;
  socket?: Bun.Socket<Reading>;
  paused: boolean;
  done: boolean;
}

function finish(reading: Reading, error?: Error): void {
  if (reading.done) return;
  reading.done = true;
  if (error) reading.controller.error(error);
  else reading.controller.close();
}

/** One set of handlers for every output socket (per-socket state is in `socket.data`). */
const HANDLERS: Bun.SocketHandler<Reading, "buffer"> = {
  binaryType: "buffer",
  open(socket) {
    socket.data.socket = socket;
    if (socket.data.paused) socket.pause();
  },
  data(socket, chunk) {
    const reading = socket.data;
    if (reading.done) return;
    reading.controller.enqueue(chunk);
    if ((reading.controller.desiredSize ?? 1) <= 0 && !reading.paused) {
      // The reader is behind (its rate limit): the kernel's buffer fills, then the child's writes wait.
      reading.paused = true;
      socket.pause();
    }
  },
  end(socket) {
    finish(socket.data);
  },
  close(socket, error) {
    finish(socket.data, error);
  },
  error(socket, error) {
    finish(socket.data, error);
  },
};

/** The gateway's end of an output pair as a byte stream, with backpressure; it owns (and closes) `fd`. */
export function socketReadable(fd: number): ReadableStream<Uint8Array> {
  let reading: Reading | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        reading = { controller, paused: false, done: false };
        const state = reading;
        // The types name connect's TCP and unix forms only; Bun takes { fd } as well.
        (Bun.connect as unknown as (options: Bun.FdSocketOptions<Reading>) => Promise<Bun.Socket<Reading>>)({
          fd,
          data: state,
          socket: HANDLERS,
        }).catch((error: Error) => {
          closeQuietly(fd);
          finish(state, error);
        });
      },
      pull() {
        if (!reading?.paused) return;
        reading.paused = false;
        reading.socket?.resume();
      },
      cancel() {
        if (!reading) return;
        reading.done = true;
        reading.socket?.end();
      },
    },
    { highWaterMark: HIGH_WATER_BYTES, size: (chunk) => chunk?.byteLength ?? 0 },
  );
}
