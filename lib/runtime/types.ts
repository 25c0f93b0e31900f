/** What the gateway needs from the JavaScript runtime it runs on; one implementation per runtime. */

export interface SpawnOptions {
  cmd: string[];
  cwd: string;
  env: Record<string, string>;
  /** The command arms its own parent-death signal: the adapter adds no wrapper for it. */
  diesWithParent?: boolean;
}

export interface ExitInfo {
  /** Exit code, or `null` when a signal ended the process. */
  code: number | null;
  /** Signal name such as `SIGSEGV`, or `null`. */
  signal: string | null;
}

export interface ChildProcess {
  pid: number;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<ExitInfo>;
  /** True when the kernel kills the process if the gateway dies (Linux parent-death signal). */
  diesWithParent: boolean;
}

/** Per-request facts the server adds for the HTTP layer. */
export interface RequestContext {
  remoteAddress: string;
  /** Lifts the server's idle timeout for this request (long-lived streams such as SSE). */
  keepOpen(): void;
}

export type FetchHandler = (request: Request, context: RequestContext) => Response | Promise<Response>;

/** A certificate chain and its private key, PEM. */
export interface TlsFiles {
  cert: string;
  key: string;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: FetchHandler;
  /** Serve HTTPS with this certificate. */
  tls?: TlsFiles;
  /** Largest request body accepted; `undefined` means no limit. */
  maxRequestBodySize?: number;
}

export interface HttpServer {
  hostname: string;
  port: number;
  /** Stops accepting; with `force`, also closes connections still open. */
  stop(force?: boolean): Promise<void>;
}

export type SignalName = "SIGTERM" | "SIGINT" | "SIGHUP";

export interface RuntimeAdapter {
  readonly name: "bun" | "deno";
  /** Starts a process in its own process group (so its whole tree can be signalled). */
  spawn(options: SpawnOptions): ChildProcess;
  /** Sends `signal` to every process in the group led by `pid`; false if none was there. */
  killGroup(pid: number, signal: "SIGTERM" | "SIGKILL"): boolean;
  /** A free TCP port on 127.0.0.1, chosen by the kernel (bound and released at once). */
  freePort(): number;
  serve(options: ServeOptions): Promise<HttpServer>;
  onSignal(signal: SignalName, handler: () => void): void;
  /** The command line and extra env that run the `bun` CLI (the gateway's own Bun when possible). */
  bunCommand(): { cmd: string[]; env: Record<string, string> };
  /**
   * The start-up burst is over (no provider is starting): from now on the gateway's code runs
   * hot (proxying), so the JIT may compile at its normal pace again. A compiled Bun gateway
   * starts with a reluctant JIT (scripts/build.ts); elsewhere this does nothing.
   */
  startupDone(): void;
  /**
   * Starts the one-time work the first spawn would otherwise wait for (the parent-death probe,
   * lib/runtime/parent-death.ts), so it runs while the gateway loads; resolves when it is done.
   * Spawning before then is correct, only slower.
   */
  prepareSpawning(): Promise<void>;
  /**
   * Takes an exclusive advisory lock (flock(2)) on the open file `fd` without waiting: true if
   * taken, false if another open file holds it. The kernel releases it when `fd` is closed or the
   * process dies, however it dies, so a lock is never left behind. Absent where the runtime
   * cannot call libc (no FFI).
   */
  readonly tryLock?: (fd: number) => boolean;
  /**
   * Raises the soft open-file limit (RLIMIT_NOFILE) to the hard limit, where it is lower, and
   * returns both. Undefined where the limits cannot be read (no FFI to libc).
   */
  raiseOpenFileLimit(): { soft: number; hard: number } | undefined;
  /** Command-line arguments after the program (and script) name. */
  args(): string[];
  exit(code: number): never;
  /** Present where the runtime offers byte-level sockets. */
  readonly raw?: RawSockets;
}

/** A TCP or unix socket as the byte-level proxy uses it (Bun's `Socket` has this shape). */
export interface RawSocket<T> {
  data: T;
  readonly remoteAddress: string;
  /** Returns the bytes written now (the kernel buffer may take fewer), or -1 when closed. */
  write(data: Uint8Array | string): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
}

export interface RawHandlers<T> {
  open?(socket: RawSocket<T>): void;
  data(socket: RawSocket<T>, chunk: Buffer): void;
  drain(socket: RawSocket<T>): void;
  close(socket: RawSocket<T>, error?: Error): void;
  connectError?(socket: RawSocket<T>, error: Error): void;
}

export interface RawListener {
  hostname: string;
  port: number;
  /** Stops accepting new connections; open ones are left to their owner. */
  stop(): void;
}

/**
 * A socket address; `key`, when given, is a stable name for it (saves building one per request).
 * With `tls`, the connection is TLS and the peer's certificate must be valid for `serverName`.
 */
export type RawAddress =
  | { hostname: string; port: number; key?: string; tls?: { serverName: string } }
  | { unix: string; key?: string };

/** Byte-level sockets, where the runtime has them (Bun); the gateway then proxies without Request/Response objects. */
export interface RawSockets {
  /**
   * Listens on `hostname:port`, with TLS when `tls` is given. A TLS listener may be opened a
   * second time on the port of a running one (to take a new certificate); otherwise a port in
   * use is an error. Throws when the address cannot be had or the certificate is not usable.
   */
  listen<T>(options: {
    hostname: string;
    port: number;
    handlers: RawHandlers<T>;
    data: () => T;
    tls?: TlsFiles;
    /** The port is this process's own TLS listener's, being replaced: no free-port check. */
    replacing?: boolean;
  }): RawListener;
  /**
   * Opens a connection; handlers get `open` or `connectError`. A TLS connection is `open` once
   * its handshake succeeded with a certificate valid for its server name; a failed handshake is a
   * `connectError`.
   */
  connect<T>(address: RawAddress, handlers: RawHandlers<T>, data: T): void;
  /**
   * Collects garbage now. Relayed chunks are short-lived buffers whose memory lives outside the
   * JS heap, so a bulk transfer outruns the collector's own schedule (see lib/proxy/front/bulk.ts).
   */
  collectGarbage(): void;
  /** Serves `fetch` on a unix socket (the gateway's own routes, behind the byte-level front). */
  serveUnix(path: string, fetch: FetchHandler): HttpServer;
}
