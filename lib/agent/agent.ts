/**
 * `gateway agent`: serves a provider that runs on this machine through a tunnel it dials out to
 * the gateway, so the machine needs no inbound port and the gateway dials no address it was
 * handed. The protocol is lib/external/tunnels.ts's: one control connection (pings both ways,
 * requests for more connections, a rotated token, the end of a drain), and data connections that
 * the gateway writes HTTP/1.1 down. Each data connection is spliced, byte for byte, onto a
 * connection to `--upstream` opened when its first request arrives: the agent parses no HTTP,
 * so keep-alive, streaming, SSE and WebSocket upgrades pass as they are, and each pipe has TCP's
 * own flow control (a socket that lags pauses the other).
 *
 * It keeps SPARE_PIPES unused data connections open, opens more when the gateway asks, reconnects
 * with backoff and jitter when the control connection drops, and on SIGTERM tells the gateway it
 * is draining, waits until its requests in flight are done, and exits 0.
 */
import type { Logger } from "../logger.ts";
import type { RawAddress, RawHandlers, RawSocket, RawSockets } from "../runtime/index.ts";

export const SPARE_PIPES = 4;
const MAX_PIPES = 256;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** A session that lasted this long resets the backoff. */
const STABLE_MS = 10_000;
const DRAIN_WAIT_MS = 35_000;
const MAX_HEAD = 64 * 1024;

export interface AgentOptions {
  gateway: string;
  token: string;
  upstream: string;
  log: Logger;
  sockets: RawSockets;
  version: string;
  /** Unused data connections kept open. @default SPARE_PIPES */
  spare?: number;
}

interface Target {
  address: RawAddress;
  /** `Host` as this side names it. */
  host: string;
  origin: string;
  basePath: string;
}

function target(text: string, what: string): Target {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${what} ${JSON.stringify(text)} is not a URL (http://host:port or https://…)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`${what} ${text} must be http:// or https://`);
  const tls = url.protocol === "https:";
  const port = Number(url.port || (tls ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  return {
    address: tls ? { hostname, port, tls: { serverName: hostname } } : { hostname, port },
    host: url.host,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ""),
  };
}

/** A socket pair's one side as the pipe sees it. */
interface Side {
  socket: RawSocket<Side> | null;
  /** Bytes waiting for this side (not open yet, or it lags). */
  queue: Buffer[];
  other: Side | null;
  pipe: Pipe;
  name: "gateway" | "upstream";
  /** The pipe is closed: this side ends once its queue is written out. */
  ending?: boolean;
}

interface Pipe {
  gateway: Side;
  upstream: Side;
  /** The 101 has come; bytes after it are the gateway's requests. */
  upgraded: boolean;
  head: Buffer | null;
  /** Its first request came (so it is no longer a spare). */
  used: boolean;
  closed: boolean;
}

type Control = {
  socket: RawSocket<Control> | null;
  head: Buffer | null;
  upgraded: boolean;
  pending: string;
  session: string;
  code: string;
  pingMs: number;
  lastHeard: number;
  upAt: number;
  closed: boolean;
};

export class TunnelAgent {
  readonly #o: AgentOptions;
  readonly #gateway: Target;
  readonly #upstream: Target;
  #token: string;
  #control: Control | null = null;
  readonly #pipes = new Set<Pipe>();
  #attempt = 0;
  #stopping = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #done: (code: number) => void = () => {};
  #reconnect: ReturnType<typeof setTimeout> | undefined;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#gateway = target(options.gateway, "--gateway");
    this.#upstream = target(options.upstream, "--upstream");
    this.#token = options.token;
  }

  /** Runs until stopped (exit code 0) or refused for good (2: the token is not accepted). */
  run(): Promise<number> {
    return new Promise((resolve) => {
      this.#done = (code) => {
        clearInterval(this.#timer);
        clearTimeout(this.#reconnect);
        resolve(code);
      };
      this.#timer = setInterval(() => this.#tick(), 1000);
      this.#connectControl();
    });
  }

  /** SIGTERM: no new requests; those in flight finish; then exit 0. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    const control = this.#control;
    if (!control?.upgraded || control.closed) {
      this.#closeAll();
      this.#done(0);
      return;
    }
    this.#o.log.info("stopping: the gateway sends no new requests; waiting for those in flight");
    this.#sendControl({ type: "draining" });
    setTimeout(() => {
      this.#o.log.warn(`stopping: requests still in flight after ${DRAIN_WAIT_MS} ms are cut`);
      this.#closeAll();
      this.#done(0);
    }, DRAIN_WAIT_MS).unref?.();
  }

  // ---- the control connection ---------------------------------------------------------------

  #upgradeHead(path: string, extra: string): string {
    return (
      `GET ${this.#gateway.basePath}${path} HTTP/1.1\r\nHost: ${this.#gateway.host}\r\n` +
      `Connection: Upgrade\r\nUpgrade: gateway-tunnel\r\nAuthorization: Bearer ${this.#token}\r\n` +
      `User-Agent: gateway-agent/${this.#o.version}\r\n${extra}\r\n`
    );
  }

  #connectControl(): void {
    const control: Control = {
      socket: null,
      head: null,
      upgraded: false,
      pending: "",
      session: "",
      code: "_",
      pingMs: 5000,
      lastHeard: Date.now(),
      upAt: 0,
      closed: false,
    };
    this.#control = control;
    const handlers: RawHandlers<Control> = {
      open: (socket) => {
        control.socket = socket;
        socket.write(
          this.#upgradeHead(
            "/_gateway/providers/_/tunnel",
            `X-Gateway-Upstream-Host: ${this.#upstream.host}\r\nX-Gateway-Upstream-Origin: ${this.#upstream.origin}\r\n`,
          ),
        );
      },
      data: (_socket, chunk) => this.#controlData(control, chunk),
      drain: () => {},
      close: () => this.#controlClosed(control, "the connection closed"),
      connectError: (_socket, error) => this.#controlClosed(control, `cannot connect: ${error.message}`),
    };
    this.#o.sockets.connect(this.#gateway.address, handlers, control);
  }

  #controlData(control: Control, chunk: Buffer): void {
    control.lastHeard = Date.now();
    if (!control.upgraded) {
      control.head = control.head ? Buffer.concat([control.head, chunk]) : chunk;
      const end = control.head.indexOf("\r\n\r\n");
      if (end === -1) {
        if (control.head.length > MAX_HEAD) control.socket?.terminate();
        return;
      }
      const text = control.head.subarray(0, end).toString("latin1");
      const rest = control.head.subarray(end + 4);
      control.head = null;
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(text)?.[1] ?? 0);
      if (status !== 101) {
        this.#refused(control, status, text, rest);
        return;
      }
      const header = (name: string) => new RegExp(`\\r\\n${name}:\\s*([^\\r]*)`, "i").exec(text)?.[1]?.trim();
      control.upgraded = true;
      control.session = header("x-gateway-tunnel-session") ?? "";
      control.code = header("x-gateway-provider") ?? "_";
      control.pingMs = Number(header("x-gateway-tunnel-ping") ?? 5000) || 5000;
      control.upAt = Date.now();
      this.#o.log.info(
        `tunnel up: provider "${control.code}" through ${this.#gateway.origin}, requests go to ${this.#upstream.origin}${this.#upstream.basePath}`,
      );
      for (let i = 0; i < (this.#o.spare ?? SPARE_PIPES); i++) this.#openPipe(control);
      chunk = rest;
      if (chunk.length === 0) return;
    }
    control.pending += chunk.toString("utf8");
    for (let nl = control.pending.indexOf("\n"); nl !== -1; nl = control.pending.indexOf("\n")) {
      const line = control.pending.slice(0, nl).trim();
      control.pending = control.pending.slice(nl + 1);
      if (line) this.#controlMessage(control, line);
    }
  }

  #refused(control: Control, status: number, head: string, body: Buffer): void {
    const detail = (() => {
      try {
        return (JSON.parse(body.toString("utf8")) as { detail?: string }).detail ?? "";
      } catch {
        return body.toString("utf8").slice(0, 200);
      }
    })();
    control.closed = true;
    control.socket?.end();
    if (status === 401) {
      this.#o.log.error(
        `the gateway refused the token (401${detail ? `: ${detail}` : ""}); mint a new one with POST /_gateway/providers/:code/token`,
      );
      this.#closeAll();
      this.#done(2);
      return;
    }
    const line = head.split("\r\n")[0] ?? `status ${status}`;
    this.#scheduleReconnect(`the gateway answered ${line}${detail ? `: ${detail}` : ""}`);
  }

  #controlMessage(control: Control, line: string): void {
    let message: { type?: string; id?: unknown; count?: unknown; token?: unknown };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    switch (message.type) {
      case "ping":
        this.#sendControl({ type: "pong", id: message.id });
        return;
      case "open": {
        const count = Math.max(0, Math.min(Number(message.count) || 0, MAX_PIPES - this.#pipes.size));
        if (!this.#stopping) for (let i = 0; i < count; i++) this.#openPipe(control);
        return;
      }
      case "token":
        if (typeof message.token === "string") {
          this.#token = message.token;
          this.#o.log.info("took the rotated provider token from the gateway");
        }
        return;
      case "drained":
        this.#o.log.info("drained: no request in flight; exiting");
        this.#closeAll();
        this.#done(0);
        return;
      case "replaced":
        this.#o.log.warn("another agent took the tunnel over (this one had stopped answering pings)");
        return;
      default:
        return;
    }
  }

  #sendControl(message: Record<string, unknown>): void {
    const control = this.#control;
    if (control?.upgraded && !control.closed) control.socket?.write(`${JSON.stringify(message)}\n`);
  }

  #controlClosed(control: Control, reason: string): void {
    if (control.closed) return;
    control.closed = true;
    control.socket = null;
    if (this.#control !== control) return;
    // The gateway drops a session's data connections with it: so does the agent.
    this.#closeAll();
    if (this.#stopping) {
      this.#done(0);
      return;
    }
    if (control.upAt && Date.now() - control.upAt > STABLE_MS) this.#attempt = 0;
    this.#scheduleReconnect(control.upgraded ? `tunnel down: ${reason}` : reason);
  }

  #scheduleReconnect(reason: string): void {
    if (this.#stopping) {
      this.#done(0);
      return;
    }
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.#attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#attempt++;
    this.#o.log.warn(`${reason}; connecting again in ${(delay / 1000).toFixed(1)} s`);
    this.#reconnect = setTimeout(() => this.#connectControl(), delay);
  }

  #tick(): void {
    const control = this.#control;
    if (!control?.upgraded || control.closed) return;
    const now = Date.now();
    if (now - control.lastHeard > 3 * control.pingMs) {
      // A gateway that stopped answering: the connection is dead whatever TCP thinks.
      control.socket?.terminate();
      this.#controlClosed(control, `nothing heard for ${now - control.lastHeard} ms`);
      return;
    }
    this.#sendControl({ type: "ping", id: now });
    // Spares used up by requests are replaced.
    let spare = 0;
    for (const pipe of this.#pipes) if (!pipe.used) spare++;
    if (!this.#stopping)
      for (let i = spare; i < (this.#o.spare ?? SPARE_PIPES) && this.#pipes.size < MAX_PIPES; i++)
        this.#openPipe(control);
  }

  // ---- data connections ---------------------------------------------------------------------

  #openPipe(control: Control): void {
    if (this.#pipes.size >= MAX_PIPES || !control.session) return;
    const pipe = { upgraded: false, head: null, used: false, closed: false } as Pipe;
    pipe.gateway = { socket: null, queue: [], other: null, pipe, name: "gateway" };
    pipe.upstream = { socket: null, queue: [], other: null, pipe, name: "upstream" };
    pipe.gateway.other = pipe.upstream;
    pipe.upstream.other = pipe.gateway;
    this.#pipes.add(pipe);
    const head = this.#upgradeHead(
      `/_gateway/providers/${control.code}/tunnel`,
      `X-Gateway-Tunnel-Session: ${control.session}\r\n`,
    );
    this.#o.sockets.connect(
      this.#gateway.address,
      this.#sideHandlers((side) => {
        side.socket!.write(head);
      }),
      pipe.gateway,
    );
  }

  #sideHandlers(onOpen: (side: Side) => void): RawHandlers<Side> {
    return {
      open: (socket) => {
        socket.data.socket = socket;
        if (socket.data.pipe.closed) {
          socket.end();
          return;
        }
        onOpen(socket.data);
      },
      data: (socket, chunk) => this.#sideData(socket.data, chunk),
      drain: (socket) => this.#flush(socket.data),
      close: (socket) => this.#closePipe(socket.data.pipe),
      connectError: (socket, error) => this.#sideFailed(socket.data, error),
    };
  }

  #sideData(side: Side, chunk: Buffer): void {
    const pipe = side.pipe;
    if (pipe.closed) return;
    if (side.name === "gateway" && !pipe.upgraded) {
      pipe.head = pipe.head ? Buffer.concat([pipe.head, chunk]) : chunk;
      const end = pipe.head.indexOf("\r\n\r\n");
      if (end === -1) {
        if (pipe.head.length > MAX_HEAD) this.#closePipe(pipe);
        return;
      }
      const status = /^HTTP\/1\.\d (\d{3})/.exec(pipe.head.subarray(0, 16).toString("latin1"))?.[1];
      const rest = pipe.head.subarray(end + 4);
      pipe.head = null;
      if (status !== "101") {
        this.#closePipe(pipe);
        return;
      }
      pipe.upgraded = true;
      if (rest.length === 0) return;
      chunk = rest;
    }
    if (side.name === "gateway" && !pipe.used) {
      // Its first request: now it needs its upstream connection (a spare holds none).
      pipe.used = true;
      this.#o.sockets.connect(
        this.#upstream.address,
        this.#sideHandlers((up) => this.#flush(up)),
        pipe.upstream,
      );
    }
    this.#write(side.other!, chunk);
  }

  /** Writes to `side`; what it cannot take waits, and the other side is paused until it drains. */
  #write(side: Side, chunk: Buffer): void {
    if (!side.socket || side.queue.length > 0) {
      side.queue.push(chunk);
      side.other?.socket?.pause();
      return;
    }
    const written = side.socket.write(chunk);
    if (written >= 0 && written < chunk.length) {
      side.queue.push(chunk.subarray(written));
      side.other?.socket?.pause();
    }
  }

  #flush(side: Side): void {
    const socket = side.socket;
    if (!socket) return;
    while (side.queue.length > 0) {
      const next = side.queue[0]!;
      const written = socket.write(next);
      if (written < 0) return;
      if (written < next.length) {
        side.queue[0] = next.subarray(written);
        return;
      }
      side.queue.shift();
    }
    if (side.ending) {
      side.socket = null;
      socket.end();
      return;
    }
    side.other?.socket?.resume();
  }

  #sideFailed(side: Side, error: Error): void {
    const pipe = side.pipe;
    if (side.name === "upstream" && pipe.gateway.socket && !pipe.closed) {
      // The gateway is owed an answer: say what went wrong here, in HTTP, then close.
      const body = JSON.stringify({
        type: "about:blank",
        title: "Bad Gateway",
        status: 502,
        detail: `The agent could not reach its upstream ${this.#upstream.origin}: ${error.message}`,
      });
      pipe.gateway.socket.write(
        `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      this.#o.log.warn(`cannot reach the upstream ${this.#upstream.origin}: ${error.message}`);
    }
    this.#closePipe(pipe);
  }

  #closePipe(pipe: Pipe): void {
    if (pipe.closed) return;
    pipe.closed = true;
    this.#pipes.delete(pipe);
    for (const side of [pipe.gateway, pipe.upstream]) {
      if (!side.socket) continue;
      // What is still queued for it goes first (a response the upstream ended with its close),
      // on drain if the socket cannot take it all now: it ends only after, so a close-delimited
      // body is never cut short and passed off as whole.
      side.ending = true;
      this.#flush(side);
    }
  }

  #closeAll(): void {
    for (const pipe of [...this.#pipes]) this.#closePipe(pipe);
    const control = this.#control;
    if (control && !control.closed) {
      control.closed = true;
      control.socket?.end();
    }
  }
}
