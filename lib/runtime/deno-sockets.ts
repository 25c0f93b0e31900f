/**
 * Byte-level sockets on Deno (`Deno.listen`, `Deno.connect`), in the shape of Bun's that the
 * byte-level front and the dial-out agent are written against (RawSockets in ./types.ts).
 *
 * Deno's reads and writes are promises where Bun's are callbacks and synchronous writes, so each
 * socket here runs one read loop and one write loop:
 * - a read fills the connection's own buffer and hands a copy of what came to `data` (the buffer
 *   is read into again at once; the copy is what the front may keep);
 * - `write` takes a copy of the bytes (callers reuse head buffers) into a queue that one loop
 *   writes out, and returns their length; once WRITE_HIGH_WATER bytes wait it takes nothing
 *   (returns 0), so the caller keeps the rest and pauses its other side until `drain` comes,
 *   which it does when the queue is empty: the same backpressure as a full kernel buffer on Bun.
 */
import { Buffer } from "node:buffer";
import type { HttpServer, RawAddress, RawHandlers, RawSocket, RawSockets, TlsFiles } from "./types.ts";

/** The slice of Deno's network API used here (typed here so `tsc` needs no Deno types). */
interface DenoConn {
  readonly remoteAddr: { hostname?: string; path?: string };
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  close(): void;
  /** Sends the FIN (shutdown(2) SHUT_WR); reading goes on. */
  closeWrite?(): Promise<void>;
  setNoDelay?(noDelay?: boolean): void;
  handshake?(): Promise<unknown>;
}
interface DenoListener {
  readonly addr: { hostname: string; port: number };
  accept(): Promise<DenoConn>;
  close(): void;
}
export interface DenoNet {
  listen(options: { hostname: string; port: number }): DenoListener;
  listenTls(options: {
    hostname: string;
    port: number;
    cert: string;
    key: string;
    reusePort?: boolean;
  }): DenoListener;
  connect(
    options: { hostname: string; port: number } | { transport: "unix"; path: string },
  ): Promise<DenoConn>;
  startTls(conn: DenoConn, options: { hostname: string }): Promise<DenoConn>;
  serve(
    options: { path: string; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
}

/** Bytes a socket queues before `write` refuses more (about what a kernel send buffer holds). */
const WRITE_HIGH_WATER = 256 * 1024;
/** Each connection reads into a buffer of its own this large (an idle client holds one). */
const READ_BUFFER = 16 * 1024;
/**
 * After `end()` this side's FIN goes out once the queue is written; the socket then reads (and
 * drops) until the peer's own FIN, so a close never meets unread bytes, which would make the
 * kernel send a reset that can destroy the response just written (the over-capacity 503, a 413
 * during an upload). Past this long it is closed all the same (nginx's lingering_timeout is 5 s).
 */
const LINGER_MS = 5000;

const utf8 = new TextEncoder();

class DenoSocket<T> implements RawSocket<T> {
  remoteAddress = "";
  #conn: DenoConn | null = null;
  #state: "connecting" | "open" | "ending" | "closed" = "connecting";
  #queue: Uint8Array[] = [];
  /** Bytes taken by `write` and not yet written out, the one in flight included. */
  #queued = 0;
  #writing = false;
  #refused = false;
  #paused = false;
  #wake: (() => void) | null = null;
  /** The peer's FIN has come. */
  #readEnded = false;
  #linger: ReturnType<typeof setTimeout> | undefined;

  constructor(
    public data: T,
    readonly handlers: RawHandlers<T>,
  ) {}

  /** Starts reading `conn`; `open` goes to the handlers first. */
  attach(conn: DenoConn): void {
    this.#conn = conn;
    this.#state = "open";
    this.remoteAddress = conn.remoteAddr.hostname ?? "";
    try {
      conn.setNoDelay?.(true);
    } catch {
      // Unix sockets take no such option.
    }
    if (this.handlers.open) this.#call(() => this.handlers.open!(this));
    if (!this.#isClosed()) this.#readLoop(conn).catch((error: Error) => this.#close(error));
  }

  write(data: Uint8Array | string): number {
    if (this.#state !== "open") return -1;
    if (this.#queued >= WRITE_HIGH_WATER) {
      this.#refused = true;
      return 0;
    }
    const bytes = typeof data === "string" ? utf8.encode(data) : new Uint8Array(data);
    if (bytes.length === 0) return 0;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing) this.#writeLoop().catch((error: Error) => this.#close(error));
    return data.length;
  }

  end(): void {
    if (this.#state !== "open") return;
    this.#state = "ending";
    this.#linger = setTimeout(() => this.#close(), LINGER_MS);
    (this.#linger as { unref?: () => void }).unref?.();
    if (!this.#writing) this.#finishWriting();
  }

  terminate(): void {
    this.#close();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** A method, not a comparison, so the state is read again after an await (tsc narrows fields). */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  /**
   * Runs a handler. One that throws closes this socket with its error (and says so on stderr)
   * instead of ending a read loop silently or, as an unhandled rejection, the Deno process.
   */
  #call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      console.error("A socket handler threw; the connection is closed:", error);
      this.#close(error as Error);
    }
  }

  async #readLoop(conn: DenoConn): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER);
    for (;;) {
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        this.#close(error as Error);
        return;
      }
      if (this.#isClosed()) return;
      if (count === null) {
        this.#readEnded = true;
        // The peer is done sending. As on Bun (no half-open sockets), this side ends too: what
        // was already written goes out first. Once ending, its FIN was the wait's end.
        if (this.#state === "open") this.end();
        else if (!this.#writing) this.#close();
        return;
      }
      // Ending: what still comes is read and dropped, as after Bun's end().
      if (this.#state !== "open") continue;
      const chunk = Buffer.from(buffer.subarray(0, count));
      // Paused while that read was out: the bytes wait for `resume`, as unread ones would.
      while (this.#paused && !this.#isClosed()) await new Promise<void>((wake) => (this.#wake = wake));
      if (this.#state !== "open") continue;
      this.#call(() => this.handlers.data(this, chunk));
    }
  }

  async #writeLoop(): Promise<void> {
    const conn = this.#conn!;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.length === 1 ? this.#queue[0]! : Buffer.concat(this.#queue);
        this.#queue = [];
        let offset = 0;
        while (offset < batch.length) offset += await conn.write(batch.subarray(offset));
        this.#queued -= batch.length;
        if (this.#isClosed()) return;
      }
    } catch (error) {
      this.#close(error as Error);
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#state === "ending") {
      this.#finishWriting();
      return;
    }
    if (this.#refused && this.#state === "open") {
      this.#refused = false;
      this.#call(() => this.handlers.drain(this));
    }
  }

  /** Everything is written: the FIN goes out, and the socket closes at the peer's own (or LINGER_MS). */
  #finishWriting(): void {
    if (this.#readEnded) {
      this.#close();
      return;
    }
    const conn = this.#conn!;
    if (!conn.closeWrite) {
      this.#close();
      return;
    }
    conn.closeWrite().catch(() => this.#close());
  }

  #close(error?: Error): void {
    if (this.#state === "closed") return;
    const wasConnected = this.#conn !== null;
    this.#state = "closed";
    this.#queue = [];
    clearTimeout(this.#linger);
    try {
      this.#conn?.close();
    } catch {
      // Already closed by the other side's error.
    }
    this.resume();
    if (!wasConnected) return;
    const reported = error && !isQuietEnd(error) ? error : undefined;
    try {
      this.handlers.close(this, reported);
    } catch (thrown) {
      console.error("A socket close handler threw:", thrown);
    }
  }

  /** A connection that never opened. */
  failConnect(error: Error): void {
    this.#state = "closed";
    if (this.handlers.connectError) this.#call(() => this.handlers.connectError!(this, error));
  }
}

/** Errors that are only the connection going away, which Bun reports as a plain close. */
function isQuietEnd(error: Error): boolean {
  const name = error.name;
  return (
    name === "BadResource" || name === "Interrupted" || name === "ConnectionReset" || name === "BrokenPipe"
  );
}

function listenerFor(
  Deno: DenoNet,
  options: { hostname: string; port: number; tls?: TlsFiles; replacing: boolean; reusePort: boolean },
): DenoListener {
  const { hostname, port, tls } = options;
  if (!tls) return Deno.listen({ hostname, port });
  if (!options.reusePort) {
    // SO_REUSEPORT on Deno needs --unstable-net (without it, asking for it ends the process):
    // TLS is served, but a new certificate cannot be taken while the gateway runs.
    if (options.replacing)
      throw new Error(
        "under Deno, taking a new certificate while running needs SO_REUSEPORT: run deno with --unstable-net",
      );
    return Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
  }
  if (port !== 0 && !options.replacing) {
    // A TLS listener shares its port (SO_REUSEPORT), so a new certificate can be put in place by
    // opening a second one before closing the first. First prove the port free: another program
    // on it must be an error, not a silent share of its connections.
    Deno.listen({ hostname, port }).close();
  }
  return Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key, reusePort: true });
}

/**
 * RawSockets on Deno's network API. `reusePort`: SO_REUSEPORT may be asked for (Deno runs with
 * --unstable-net), which taking a new TLS certificate while running needs.
 */
export function denoRawSockets(Deno: DenoNet, reusePort: () => boolean): RawSockets {
  return {
    listen(options) {
      const listener = listenerFor(Deno, {
        hostname: options.hostname,
        port: options.port,
        tls: options.tls,
        replacing: options.replacing === true,
        reusePort: reusePort(),
      });
      let stopped = false;
      (async () => {
        while (!stopped) {
          let conn: DenoConn;
          try {
            conn = await listener.accept();
          } catch {
            if (stopped) return;
            // Out of file descriptors and the like: try again shortly instead of spinning.
            await new Promise((resolve) => setTimeout(resolve, 10));
            continue;
          }
          try {
            new DenoSocket(options.data(), options.handlers).attach(conn);
          } catch (error) {
            // options.data() threw: this connection is lost, the listener goes on.
            console.error("Accepting a connection failed:", error);
            conn.close();
          }
        }
      })().catch((error) => console.error("The accept loop ended:", error));
      return {
        hostname: listener.addr.hostname,
        port: listener.addr.port,
        stop() {
          stopped = true;
          listener.close();
        },
      };
    },

    connect<T>(address: RawAddress, handlers: RawHandlers<T>, data: T): void {
      const socket = new DenoSocket(data, handlers);
      (async () => {
        let conn: DenoConn;
        try {
          conn = await Deno.connect(
            "unix" in address
              ? { transport: "unix", path: address.unix }
              : { hostname: address.hostname, port: address.port },
          );
        } catch (error) {
          socket.failConnect(error as Error);
          return;
        }
        if (!("unix" in address) && address.tls) {
          const serverName = address.tls.serverName;
          try {
            // Set on the TCP socket: a TLS connection has no setNoDelay of its own, and the option
            // stays with the socket.
            conn.setNoDelay?.(true);
            conn = await Deno.startTls(conn, { hostname: serverName });
            await conn.handshake?.();
          } catch (error) {
            try {
              conn.close();
            } catch {
              // Closed by the failed handshake.
            }
            socket.failConnect(
              new Error(`TLS handshake with ${serverName} failed: ${(error as Error).message}`),
            );
            return;
          }
        }
        socket.attach(conn);
      })().catch((error) => console.error("Opening a connection failed:", error));
    },

    collectGarbage() {
      // Only with --v8-flags=--expose-gc; otherwise V8 collects on its own schedule.
      (globalThis as { gc?: () => void }).gc?.();
    },

    serveUnix(path, fetch): HttpServer {
      const server = Deno.serve({ path, onListen() {} }, (request) =>
        fetch(request, { remoteAddress: "", keepOpen: () => {} }),
      );
      return { hostname: path, port: 0, stop: () => server.shutdown() };
    },
  };
}
