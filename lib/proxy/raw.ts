/**
 * The byte-level front: reads each request head off the client socket, routes it, rewrites the
 * head (namespace stripped, hop-by-hop dropped, forwarding headers set) and relays bodies and
 * responses as bytes over pooled keep-alive upstream connections. No Request or Response objects
 * on this path: that is what lets it keep pace with nginx (see PITFALLS.md, bench/README.md).
 * Requests outside every namespace go, the same way, to the gateway's own Hono app on a unix socket.
 */
import type { RawAddress, RawHandlers, RawListener, RawSocket, RawSockets } from "../runtime/index.ts";
import { rewriteLocation } from "./forward.ts";
import { FORWARDING, HOP_BY_HOP, REQUEST_ID } from "./headers.ts";
import {
  ChunkedTracker,
  findHeadEnd,
  HttpParseError,
  type RequestHead,
  type ResponseHead,
  scanRequestHead,
  scanResponseHead,
} from "./http1.ts";
import { hasEncodedSeparator, normalizeTarget } from "./path.ts";
import type { NamespaceTable, ProxyTarget } from "./table.ts";

/** Header through which the front tells the gateway's own app who the client is. */
export const CLIENT_ADDRESS_HEADER = "x-gateway-client-address";

export interface RawProxyOptions {
  hostname: string;
  port: number;
  /** The current routing table (replaced on rescan). */
  table: () => NamespaceTable;
  /** Where the gateway's own routes are served. */
  internal: RawAddress;
  /** Largest request body; `undefined` for none. */
  maxBodySize?: number;
  /** Largest request head. @default 65536 */
  maxHeaderSize?: number;
  /** A request head must be complete this long after its first byte (or the connection's opening), else 408. @default 10000 */
  headerTimeoutMs?: number;
  /**
   * A keep-alive connection with no request in flight is closed after this long, and a request
   * body that makes no progress for this long is cut (408 if nothing was answered yet).
   * @default 75000
   */
  idleTimeoutMs?: number;
  /** Client connections open at once; past it a new one gets a short 503 and is closed. @default unlimited */
  maxConnections?: number;
}

export interface RawProxy extends RawListener {
  /** Stops accepting; resolves when in-flight exchanges are done (idle connections are closed). */
  drain(): Promise<void>;
  /** Closes every connection now. */
  closeAll(): void;
}

const HOP_BY_HOP_SET = new Set(HOP_BY_HOP);
const HTTP11 = Buffer.from("HTTP/1.1 ", "latin1");
/** Request headers the gateway sets itself (or that only describe the client's hop). */
const DROPPED_REQUEST = new Set([
  "host",
  "content-length",
  "x-request-id",
  CLIENT_ADDRESS_HEADER,
  ...FORWARDING,
]);
const MAX_RESPONSE_HEAD = 64 * 1024;
/** How often timeouts are checked (and the coarse clock read). */
const SWEEP_MS = 250;
/** Client bytes buffered while a response is under way before the client is paused. */
const MAX_PIPELINE_BUFFER = 256 * 1024;
const MAX_IDLE_PER_UPSTREAM = 128;
/** Chunks this large count as bulk data (see Front.countBulk). */
const BULK_CHUNK = 16 * 1024;
const BULK_GC_BYTES = 32 * 1024 * 1024;
/** Up to this many body bytes are copied next to the head to save a send() call. */
const COALESCE_LIMIT = 32 * 1024;

type ClientState = "head" | "connecting" | "body" | "waiting" | "tunnel" | "closed";

/** Per client connection. */
class ClientConn {
  state: ClientState = "head";
  pending: Buffer | null = null;
  request: RequestHead | null = null;
  requestId = "";
  /** The namespace of the current request's provider ("" for the gateway's own routes). */
  prefix = "";
  target: ProxyTarget | null = null;
  bodyRemaining = 0;
  chunk: ChunkedTracker | null = null;
  /** True once the request (head and body) has been fully handed to the upstream. */
  requestSent = false;
  link: UpstreamLink | null = null;
  keepAlive = true;
  outbox: Buffer[] = [];
  deadline = 0;
  responseStarted = false;
  /** When the connection last became idle (waiting for a request head); 0 while busy. */
  idleSince = 0;
  /** When the request head being read must be complete (header timeout); 0 while none is being read. */
  headDeadline = 0;
  /** When the request body last made progress (or the client was last let read again). */
  bodyProgressAt = 0;
  /** Read once: the socket's getter builds a new string on every call. */
  readonly remoteAddress: string;
  paused = false;

  constructor(public socket: RawSocket<ClientConn> | null) {
    this.remoteAddress = socket?.remoteAddress ?? "";
  }
}

type LinkState = "connecting" | "head" | "body" | "tunnel" | "idle" | "closed";

/** Per upstream connection. */
class UpstreamLink {
  state: LinkState = "connecting";
  socket: RawSocket<UpstreamLink> | null = null;
  owner: ClientConn | null = null;
  queue: Array<Buffer | string> = [];
  pending: Buffer | null = null;
  response: ResponseHead | null = null;
  remaining = 0;
  chunk: ChunkedTracker | null = null;
  untilClose = false;
  /** Strip chunk framing (for an HTTP/1.0 client). */
  dechunk = false;
  reused = false;
  gotBytes = false;
  /** The request head, kept for one retry when a reused connection turns out to be dead. */
  head: Buffer | string = "";
  paused = false;

  constructor(
    readonly address: RawAddress,
    /** Names the upstream: the pool's key and the `Host` a provider sees. */
    readonly key: string,
  ) {}
}

/** What a connection past `maxConnections` gets before it is closed: no request is read. */
const OVER_CAPACITY = Buffer.from(
  (() => {
    const body = JSON.stringify({
      type: "about:blank",
      title: "Service Unavailable",
      status: 503,
      detail: "The gateway has as many connections open as it accepts (--max-connections); try again shortly",
    });
    return `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\ncontent-length: ${body.length}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`;
  })(),
  "latin1",
);

class Front {
  readonly clients = new Set<ClientConn>();
  readonly idle = new Map<string, UpstreamLink[]>();
  readonly maxHeaderSize: number;
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  /**
   * The time as of the last sweep (every SWEEP_MS): what the client-side deadlines (header,
   * idle, body stall) are set from, so the request path never reads the clock for them. It lags
   * by up to SWEEP_MS, so each deadline adds that much: a timeout never fires early, and at most
   * two sweeps late.
   */
  clock = Date.now();
  draining = false;
  onIdle: (() => void) | null = null;
  /** Bytes of bulk chunks relayed since the last collection. */
  bulkBytes = 0;
  readonly clientHandlers: RawHandlers<ClientConn>;
  readonly upstreamHandlers: RawHandlers<UpstreamLink>;

  constructor(
    readonly options: RawProxyOptions,
    readonly sockets: RawSockets,
  ) {
    this.maxHeaderSize = options.maxHeaderSize ?? 64 * 1024;
    this.headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 75_000;
    this.maxConnections = options.maxConnections ?? Number.POSITIVE_INFINITY;
    this.clientHandlers = {
      open: (socket) => {
        const conn = new ClientConn(socket);
        socket.data = conn;
        if (this.clients.size >= this.maxConnections) {
          // Over the cap: a short answer and the door, without reading a byte of the request.
          conn.state = "closed";
          socket.write(OVER_CAPACITY);
          socket.end();
          return;
        }
        // From the first moment: a connection that never sends a whole head is closed in time.
        conn.headDeadline = this.clock + SWEEP_MS + this.headerTimeoutMs;
        this.clients.add(conn);
      },
      data: (socket, chunk) => this.clientData(socket.data, chunk),
      drain: (socket) => this.clientDrain(socket.data),
      close: (socket) => this.clientClosed(socket.data),
    };
    this.upstreamHandlers = {
      open: (socket) => this.linkOpen(socket.data, socket),
      data: (socket, chunk) => this.linkData(socket.data, chunk),
      drain: (socket) => this.linkDrain(socket.data),
      close: (socket) => this.linkClosed(socket.data),
      connectError: (socket, error) => this.linkConnectError(socket.data, error),
    };
  }

  // ---- client side -------------------------------------------------------------------------

  clientData(conn: ClientConn, chunk: Buffer): void {
    if (chunk.length >= BULK_CHUNK) this.countBulk(chunk.length);
    switch (conn.state) {
      case "tunnel":
        if (conn.link) this.linkWrite(conn.link, chunk);
        return;
      case "body":
        this.relayRequestBody(conn, chunk, 0);
        return;
      case "closed":
        return;
      default:
        conn.pending = conn.pending ? Buffer.concat([conn.pending, chunk]) : chunk;
        if (conn.state === "head") {
          if (conn.headDeadline === 0) conn.headDeadline = this.clock + SWEEP_MS + this.headerTimeoutMs;
          this.nextRequest(conn);
        } else if (conn.pending.length > MAX_PIPELINE_BUFFER) pauseClient(conn);
    }
  }

  nextRequest(conn: ClientConn): void {
    const buf = conn.pending;
    if (!buf || conn.state !== "head") return;
    const end = findHeadEnd(buf);
    if (end === -1) {
      if (buf.length > this.maxHeaderSize)
        this.localError(conn, 431, "The request head is larger than the gateway accepts", true);
      return;
    }
    if (end > this.maxHeaderSize) {
      this.localError(conn, 431, "The request head is larger than the gateway accepts", true);
      return;
    }
    let head: RequestHead;
    try {
      head = scanRequestHead(buf, end);
    } catch (error) {
      const status = error instanceof HttpParseError ? error.status : 400;
      this.localError(conn, status, (error as Error).message, true);
      return;
    }
    conn.pending = end < buf.length ? buf.subarray(end) : null;
    this.dispatch(conn, head);
  }

  dispatch(conn: ClientConn, head: RequestHead): void {
    conn.request = head;
    conn.keepAlive = head.keepAlive && !this.draining;
    conn.responseStarted = false;
    conn.requestSent = false;
    conn.target = null;
    conn.prefix = "";
    const given = head.requestId;
    conn.requestId = given && REQUEST_ID.test(given) ? given : nextRequestId();
    conn.idleSince = 0;
    conn.headDeadline = 0;

    const normalized = normalizeTarget(head.target);
    if (!normalized.ok) {
      this.refuse(conn, 400, normalized.reason);
      return;
    }
    const table = this.options.table();
    const match = table.match(normalized.path);
    if (normalized.path !== normalized.rawPath && match?.target !== table.match(normalized.rawPath)?.target) {
      // Dot segments (plain or encoded) that carry a request across a namespace boundary are
      // refused outright: a path written into one provider never reaches another, nor the gateway.
      this.refuse(conn, 400, "The path uses dot segments to leave the namespace it names");
      return;
    }
    let address: RawAddress;
    let upstreamTarget: string;
    if (match) {
      const endpoint = match.target.endpoint();
      if (!endpoint) {
        this.refuse(
          conn,
          503,
          `Provider "${match.target.code}" is ${match.target.status()}; try again shortly`,
          {
            "retry-after": "1",
          },
        );
        return;
      }
      conn.target = match.target;
      conn.prefix = match.target.namespace;
      address = endpoint;
      upstreamTarget = match.rest + normalized.query;
    } else {
      if (hasEncodedSeparator(normalized.path)) {
        this.refuse(conn, 400, "An encoded /, \\ or NUL cannot stand where a namespace is matched");
        return;
      }
      address = this.options.internal;
      upstreamTarget = normalized.path + normalized.query;
    }
    const max = this.options.maxBodySize;
    if (max !== undefined && head.contentLength !== null && head.contentLength > max) {
      this.refuse(
        conn,
        413,
        `The request body of ${head.contentLength} bytes is over the limit of ${max} bytes`,
      );
      return;
    }
    conn.bodyRemaining = head.contentLength ?? 0;
    conn.chunk = head.chunked ? new ChunkedTracker() : null;
    const hasBody = conn.bodyRemaining > 0 || conn.chunk !== null;
    const link = this.acquire(address);
    link.owner = conn;
    link.head = latin1Bytes(this.upstreamHead(conn, head, upstreamTarget, link.key), head.ascii);
    link.gotBytes = false;
    conn.link = link;
    conn.deadline = 0;
    this.linkWrite(link, link.head);
    if (hasBody) {
      conn.state = "body";
      conn.bodyProgressAt = this.clock;
      const rest = conn.pending;
      conn.pending = null;
      if (rest) this.relayRequestBody(conn, rest, 0);
    } else {
      conn.state = "waiting";
      this.requestSent(conn);
    }
  }

  /** The whole request is with the upstream: from now on the response timeout runs (as in Go and Traefik). */
  requestSent(conn: ClientConn): void {
    conn.requestSent = true;
    if (!conn.responseStarted) conn.deadline = Date.now() + (conn.target?.timeoutMs ?? 60_000);
  }

  /** Answers locally; when the request has a body the gateway did not read, the connection closes after. */
  refuse(conn: ClientConn, status: number, detail: string, headers: Record<string, string> = {}): void {
    const head = conn.request;
    const unreadBody = head !== null && (head.chunked || (head.contentLength ?? 0) > 0);
    this.localError(conn, status, detail, unreadBody || !conn.keepAlive, headers);
    if (!unreadBody && conn.keepAlive) this.awaitNextHead(conn);
  }

  relayRequestBody(conn: ClientConn, chunk: Buffer, offset: number): void {
    const link = conn.link;
    if (!link) return;
    conn.bodyProgressAt = this.clock;
    let end: number;
    if (conn.chunk) {
      try {
        end = conn.chunk.feed(chunk, offset, chunk.length);
      } catch (error) {
        this.abortExchange(conn, (error as HttpParseError).status ?? 400, (error as Error).message);
        return;
      }
      const max = this.options.maxBodySize;
      if (max !== undefined && conn.chunk.dataBytes > max) {
        this.abortExchange(conn, 413, `The request body is over the limit of ${max} bytes`);
        return;
      }
    } else {
      const take = Math.min(conn.bodyRemaining, chunk.length - offset);
      conn.bodyRemaining -= take;
      end = conn.bodyRemaining === 0 ? offset + take : -1;
    }
    const upTo = end === -1 ? chunk.length : end;
    if (upTo > offset)
      this.linkWrite(link, offset === 0 && upTo === chunk.length ? chunk : chunk.subarray(offset, upTo));
    if (end !== -1) {
      this.requestSent(conn);
      if (conn.state === "body") conn.state = "waiting";
      if (end < chunk.length) conn.pending = chunk.subarray(end);
      // The response may have ended before the body did (an early answer); finish it now.
      if (conn.state === "waiting" && link.state === "idle") this.finishExchange(conn, link);
    }
  }

  clientWrite(conn: ClientConn, data: Buffer | string): void {
    const socket = conn.socket;
    if (!socket) return;
    if (conn.outbox.length > 0) {
      conn.outbox.push(typeof data === "string" ? Buffer.from(data, "latin1") : data);
      return;
    }
    const written = socket.write(data);
    if (written < data.length && written >= 0) {
      conn.outbox.push(toBuffer(data).subarray(written));
      // Backpressure: stop reading the upstream until the client has taken what it was sent.
      if (conn.link) pauseLink(conn.link);
    }
  }

  clientDrain(conn: ClientConn): void {
    const socket = conn.socket;
    if (!socket) return;
    while (conn.outbox.length > 0) {
      const next = conn.outbox[0]!;
      const written = socket.write(next);
      if (written < 0) return;
      if (written < next.length) {
        conn.outbox[0] = next.subarray(written);
        return;
      }
      conn.outbox.shift();
    }
    if (conn.link) resumeLink(conn.link);
    if (conn.state === "closed") socket.end();
  }

  clientClosed(conn: ClientConn): void {
    const wasActive = conn.state !== "head" && conn.state !== "closed";
    conn.state = "closed";
    conn.socket = null;
    this.clients.delete(conn);
    const link = conn.link;
    conn.link = null;
    // A client that went away mid-exchange cancels the upstream request (its connection is not reused).
    if (link && (wasActive || link.state !== "idle")) this.destroyLink(link);
    this.checkIdle();
  }

  /** Sends a problem+json answer from the gateway itself. */
  localError(
    conn: ClientConn,
    status: number,
    detail: string,
    close: boolean,
    extra: Record<string, string> = {},
  ): void {
    const title = STATUS_TEXT[status] ?? "Error";
    const body = JSON.stringify({ type: "about:blank", title, status, detail });
    let head = `HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    if (conn.requestId) head += `x-request-id: ${conn.requestId}\r\n`;
    for (const [name, value] of Object.entries(extra)) head += `${name}: ${value}\r\n`;
    if (close) head += "connection: close\r\n";
    // UTF-8 bytes: the detail may quote non-ASCII input, and content-length counts UTF-8.
    this.clientWrite(conn, Buffer.from(`${head}\r\n${conn.request?.method === "HEAD" ? "" : body}`));
    if (close) this.closeClient(conn);
  }

  closeClient(conn: ClientConn): void {
    conn.state = "closed";
    if (conn.outbox.length === 0) conn.socket?.end();
  }

  /** Fails the exchange in flight: an answer if none began, else the client connection is cut. */
  abortExchange(conn: ClientConn, status: number, detail: string): void {
    const link = conn.link;
    conn.link = null;
    if (link) this.destroyLink(link);
    if (!conn.responseStarted) this.localError(conn, status, detail, true);
    else this.cutClient(conn);
  }

  /** Ends the client connection abruptly so a truncated response can never look complete. */
  cutClient(conn: ClientConn): void {
    conn.state = "closed";
    conn.socket?.terminate();
  }

  /**
   * Every chunk a socket delivers is a fresh buffer, garbage once relayed. At hundreds of MB/s
   * they pile up faster than the collector's schedule frees them (a 1 GiB upload peaked at
   * 108 MB resident); a collection every 32 MiB of bulk data keeps the peak near 85 MB for the
   * cost of about a third of the throughput ceiling (still ~1 GiB/s). Small responses never
   * count, so ordinary traffic never pays for it.
   */
  countBulk(bytes: number): void {
    this.bulkBytes += bytes;
    if (this.bulkBytes >= BULK_GC_BYTES) {
      this.bulkBytes = 0;
      this.sockets.collectGarbage();
    }
  }

  // ---- upstream side -----------------------------------------------------------------------

  acquire(address: RawAddress): UpstreamLink {
    const key =
      address.key ?? ("unix" in address ? `unix:${address.unix}` : `${address.hostname}:${address.port}`);
    const idle = this.idle.get(key);
    while (idle && idle.length > 0) {
      const link = idle.pop()!;
      if (link.state === "idle" && link.socket) {
        link.state = "head";
        link.reused = true;
        return link;
      }
    }
    return this.connect(address, key);
  }

  connect(address: RawAddress, key: string): UpstreamLink {
    const link = new UpstreamLink(address, key);
    this.sockets.connect(address, this.upstreamHandlers, link);
    return link;
  }

  upstreamHead(conn: ClientConn, head: RequestHead, target: string, hostKey: string): string {
    const tokens = head.connectionTokens;
    let out = `${head.method} ${target} HTTP/1.1\r\n`;
    let wantsTrailers = head.passThrough?.wantsTrailers ?? false;
    if (head.passThrough) out += head.passThrough.lines;
    for (const [name, value] of head.headers) {
      if (
        HOP_BY_HOP_SET.has(name) ||
        DROPPED_REQUEST.has(name) ||
        (tokens.length > 0 && tokens.includes(name))
      ) {
        if (name === "te" && /(^|,)\s*trailers\s*(,|$)/i.test(value)) wantsTrailers = true;
        continue;
      }
      out += `${name}: ${value}\r\n`;
    }
    // A provider sees its own address as Host (the client's travels as X-Forwarded-Host);
    // the gateway's own app sees the client's.
    out += `host: ${conn.target ? hostKey : (head.host ?? "gateway")}\r\n`;
    if (wantsTrailers) out += "te: trailers\r\n";
    if (head.contentLength !== null) out += `content-length: ${head.contentLength}\r\n`;
    if (head.chunked) out += "transfer-encoding: chunked\r\n";
    out += `x-request-id: ${conn.requestId}\r\n`;
    const address = conn.remoteAddress;
    if (conn.target) {
      if (address) out += `x-forwarded-for: ${address}\r\n`;
      if (head.host !== null) out += `x-forwarded-host: ${head.host}\r\n`;
      out += `x-forwarded-proto: http\r\nx-forwarded-prefix: ${conn.prefix}\r\n`;
    } else out += `${CLIENT_ADDRESS_HEADER}: ${address}\r\n`;
    if (head.upgrade !== null) out += `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n\r\n`;
    else out += "connection: keep-alive\r\n\r\n";
    return out;
  }

  linkOpen(link: UpstreamLink, socket: RawSocket<UpstreamLink>): void {
    link.socket = socket;
    if (link.state === "closed") {
      socket.end();
      return;
    }
    link.state = "head";
    const queued = link.queue;
    link.queue = [];
    for (const data of queued) this.linkWrite(link, data);
    if (link.queue.length === 0 && link.owner) resumeClient(link.owner);
  }

  linkWrite(link: UpstreamLink, data: Buffer | string): void {
    const socket = link.socket;
    if (!socket || link.queue.length > 0) {
      link.queue.push(data);
      // Hold the client until the upstream connection is open and has taken what is queued.
      if (link.owner) pauseClient(link.owner);
      return;
    }
    const written = socket.write(data);
    if (written >= 0 && written < data.length) {
      link.queue.push(toBuffer(data).subarray(written));
      // Backpressure: stop reading the client until the upstream has taken the body so far.
      if (link.owner) pauseClient(link.owner);
    }
  }

  linkDrain(link: UpstreamLink): void {
    const socket = link.socket;
    if (!socket) return;
    while (link.queue.length > 0) {
      const next = link.queue[0]!;
      const bytes = typeof next === "string" ? Buffer.from(next, "latin1") : next;
      const written = socket.write(bytes);
      if (written < 0) return;
      if (written < bytes.length) {
        link.queue[0] = bytes.subarray(written);
        return;
      }
      link.queue.shift();
    }
    const owner = link.owner;
    if (owner && owner.state !== "closed" && (owner.pending?.length ?? 0) <= MAX_PIPELINE_BUFFER)
      resumeClient(owner);
  }

  linkData(link: UpstreamLink, chunk: Buffer): void {
    if (chunk.length >= BULK_CHUNK) this.countBulk(chunk.length);
    link.gotBytes = true;
    const conn = link.owner;
    if (!conn || conn.state === "closed") {
      this.destroyLink(link);
      return;
    }
    if (link.state === "tunnel") {
      this.clientWrite(conn, chunk);
      return;
    }
    if (link.state === "body") {
      this.relayResponseBody(conn, link, chunk, 0);
      return;
    }
    if (link.state !== "head") {
      // Bytes from an upstream that owes nothing: it is confused; do not reuse it.
      this.destroyLink(link);
      return;
    }
    const buf = link.pending ? Buffer.concat([link.pending, chunk]) : chunk;
    link.pending = null;
    this.responseHead(conn, link, buf);
  }

  responseHead(conn: ClientConn, link: UpstreamLink, buf: Buffer): void {
    const end = findHeadEnd(buf);
    if (end === -1) {
      if (buf.length > MAX_RESPONSE_HEAD)
        this.abortExchange(conn, 502, "The provider sent a response head that is too large");
      else link.pending = buf;
      return;
    }
    let response: ResponseHead;
    try {
      response = scanResponseHead(buf, end);
    } catch (error) {
      this.abortExchange(conn, 502, (error as Error).message);
      return;
    }
    const request = conn.request!;
    if (response.status === 101 && request.upgrade !== null) {
      conn.deadline = 0;
      conn.responseStarted = true;
      this.clientWrite(conn, latin1Bytes(this.clientHead(conn, response, true), response.ascii));
      conn.state = "tunnel";
      link.state = "tunnel";
      if (end < buf.length) this.clientWrite(conn, buf.subarray(end));
      const early = conn.pending;
      conn.pending = null;
      if (early) this.linkWrite(link, early);
      return;
    }
    if (response.status < 200) {
      // Interim responses (100 Continue, 103 Early Hints) pass through; the final one follows.
      if (request.minor === 1 && response.status !== 101) this.clientWrite(conn, buf.subarray(0, end));
      if (end < buf.length) this.responseHead(conn, link, buf.subarray(end));
      return;
    }
    conn.deadline = 0;
    conn.responseStarted = true;
    link.response = response;
    const noBody = request.method === "HEAD" || response.status === 204 || response.status === 304;
    link.chunk = null;
    link.untilClose = false;
    if (noBody) link.remaining = 0;
    else if (response.chunked) {
      link.chunk = new ChunkedTracker();
      link.dechunk = request.minor === 0;
      if (link.dechunk) conn.keepAlive = false;
    } else if (response.contentLength !== null) link.remaining = response.contentLength;
    else {
      link.untilClose = true;
      conn.keepAlive = false;
    }
    if (!response.keepAlive) conn.keepAlive = conn.keepAlive && !link.untilClose;
    const bodyStart = end < buf.length ? buf.subarray(end) : null;
    if (noBody || (link.chunk === null && !link.untilClose && link.remaining === 0)) {
      this.clientWrite(conn, this.clientResponse(conn, response, null));
      link.state = "idle";
      if (bodyStart) link.state = "closed";
      this.finishExchange(conn, link);
      return;
    }
    link.state = "body";
    if (bodyStart) {
      const body = this.takeBody(conn, link, bodyStart);
      // Head and first body bytes in one buffer: one send() instead of two for most responses.
      const coalesce = body.length > 0 && body.length <= COALESCE_LIMIT;
      this.clientWrite(conn, this.clientResponse(conn, response, coalesce ? body : null));
      if (!coalesce && body.length > 0) this.clientWrite(conn, body);
      this.afterBody(conn, link);
    } else this.clientWrite(conn, this.clientResponse(conn, response, null));
  }

  /** The client's response head for a final response, followed in the same buffer by `body` when given. */
  clientResponse(conn: ClientConn, response: ResponseHead, body: Buffer | null): Buffer | string {
    if (response.raw) return this.rawClientHead(conn, response, body);
    const head = latin1Bytes(this.clientHead(conn, response, false), response.ascii);
    if (!body) return head;
    const out = Buffer.allocUnsafe(head.length + body.length);
    if (typeof head === "string") out.write(head, 0, "latin1");
    else head.copy(out, 0);
    body.copy(out, head.length);
    return out;
  }

  /**
   * The client's response head from a head scanned as bytes (`scanResponseHeadBytes`): the
   * upstream's status line and kept header lines copied as they are, the gateway's lines after
   * them, and `body` (the first body bytes, if given) in the same buffer, for one send().
   */
  rawClientHead(conn: ClientConn, response: ResponseHead, body: Buffer | null): Buffer {
    const { buf, statusFrom, statusTo, ranges, location } = response.raw!;
    const tail =
      location === null
        ? this.headTail(conn, response)
        : `location: ${this.clientLocation(conn, location)}\r\n${this.headTail(conn, response)}`;
    let length = HTTP11.length + (statusTo - statusFrom) + tail.length + (body?.length ?? 0);
    for (let i = 0; i < ranges.length; i += 2) length += ranges[i + 1]! - ranges[i]!;
    const out = Buffer.allocUnsafe(length);
    let at = HTTP11.copy(out, 0);
    at += buf.copy(out, at, statusFrom, statusTo);
    for (let i = 0; i < ranges.length; i += 2) at += buf.copy(out, at, ranges[i]!, ranges[i + 1]!);
    at += out.write(tail, at, "latin1");
    if (body) body.copy(out, at);
    return out;
  }

  /** The part of `chunk` that belongs to the body, updating framing state. */
  takeBody(conn: ClientConn, link: UpstreamLink, chunk: Buffer): Buffer {
    if (link.untilClose) return chunk;
    if (link.chunk) {
      let end: number;
      const data: Buffer[] | null = link.dechunk ? [] : null;
      try {
        end = link.chunk.feed(
          chunk,
          0,
          chunk.length,
          data ? (from, to) => data.push(chunk.subarray(from, to)) : undefined,
        );
      } catch {
        this.cutClient(conn);
        this.destroyLink(link);
        return Buffer.alloc(0);
      }
      if (end !== -1) link.state = end < chunk.length ? "closed" : "idle";
      if (data) return data.length === 1 ? data[0]! : Buffer.concat(data);
      if (end === -1) return chunk;
      return end < chunk.length ? chunk.subarray(0, end) : chunk;
    }
    const take = Math.min(link.remaining, chunk.length);
    link.remaining -= take;
    if (link.remaining === 0) link.state = take < chunk.length ? "closed" : "idle";
    return take < chunk.length ? chunk.subarray(0, take) : chunk;
  }

  relayResponseBody(conn: ClientConn, link: UpstreamLink, chunk: Buffer, offset: number): void {
    const body = this.takeBody(conn, link, offset === 0 ? chunk : chunk.subarray(offset));
    if (body.length > 0) this.clientWrite(conn, body);
    this.afterBody(conn, link);
  }

  afterBody(conn: ClientConn, link: UpstreamLink): void {
    if (link.state === "idle" || (link.state === "closed" && link.owner === conn))
      this.finishExchange(conn, link);
  }

  /** The response is complete: recycle the upstream connection and move to the client's next request. */
  finishExchange(conn: ClientConn, link: UpstreamLink): void {
    if (!conn.requestSent) {
      // Answered before the request body was all sent: neither connection can be resynchronised.
      link.state = "closed";
      this.destroyLink(link);
      conn.link = null;
      this.closeClient(conn);
      return;
    }
    conn.link = null;
    link.owner = null;
    const reusable = link.state === "idle" && link.response?.keepAlive !== false && !link.untilClose;
    if (reusable) this.release(link);
    else this.destroyLink(link);
    if (!conn.keepAlive || conn.state === "closed") {
      this.closeClient(conn);
      this.checkIdle();
      return;
    }
    conn.request = null;
    resumeClient(conn);
    if (this.draining) {
      conn.state = "head";
      this.closeClient(conn);
      this.checkIdle();
      return;
    }
    this.awaitNextHead(conn);
  }

  /** Back to reading request heads: idle until the next byte (the idle timeout), or at once if one is buffered. */
  awaitNextHead(conn: ClientConn): void {
    conn.state = "head";
    conn.idleSince = this.clock;
    conn.headDeadline = conn.pending ? this.clock + SWEEP_MS + this.headerTimeoutMs : 0;
    this.nextRequest(conn);
  }

  clientHead(conn: ClientConn, response: ResponseHead, upgrade: boolean): string {
    let out = `HTTP/1.1 ${response.status} ${response.reason}\r\n`;
    const tokens = response.connectionTokens;
    for (const [name, value] of response.headers) {
      if (HOP_BY_HOP_SET.has(name) || name === "x-request-id" || (tokens.length > 0 && tokens.includes(name)))
        continue;
      // Chunked framing wins over Content-Length; passing both on invites response smuggling (RFC 9112 §6.3).
      if (name === "content-length" && response.chunked) continue;
      if (name === "location") out += `location: ${this.clientLocation(conn, value)}\r\n`;
      else out += `${name}: ${value}\r\n`;
    }
    if (upgrade) {
      const upgradeValue =
        response.headers.find(([name]) => name === "upgrade")?.[1] ?? conn.request?.upgrade ?? "";
      return `${out}x-request-id: ${conn.requestId}\r\nconnection: upgrade\r\nupgrade: ${upgradeValue}\r\n\r\n`;
    }
    return out + this.headTail(conn, response);
  }

  /** A provider's redirect target as the client must see it: back under the namespace. */
  clientLocation(conn: ClientConn, location: string): string {
    return conn.target ? rewriteLocation(location, conn.prefix, `http://${conn.link?.key ?? ""}`) : location;
  }

  /** The lines the gateway adds to every (non-upgrade) response head, and the blank line ending it. */
  headTail(conn: ClientConn, response: ResponseHead): string {
    let out = `x-request-id: ${conn.requestId}\r\n`;
    // An HTTP/1.0 client cannot read chunked framing: it gets the data alone, ended by the close.
    if (response.chunked && conn.request?.minor !== 0) out += "transfer-encoding: chunked\r\n";
    if (!conn.keepAlive) out += "connection: close\r\n";
    else if (conn.request?.minor === 0) out += "connection: keep-alive\r\n";
    return `${out}\r\n`;
  }

  release(link: UpstreamLink): void {
    resumeLink(link);
    link.state = "idle";
    link.pending = null;
    link.response = null;
    let list = this.idle.get(link.key);
    if (!list) {
      list = [];
      this.idle.set(link.key, list);
    }
    if (list.length >= MAX_IDLE_PER_UPSTREAM || this.draining) {
      this.destroyLink(link);
      return;
    }
    list.push(link);
  }

  destroyLink(link: UpstreamLink): void {
    const wasOpen = link.state !== "closed";
    link.state = "closed";
    link.owner = null;
    link.queue = [];
    if (link.socket && wasOpen) link.socket.end();
    else link.socket?.terminate();
  }

  linkClosed(link: UpstreamLink): void {
    const previous = link.state;
    link.state = "closed";
    link.socket = null;
    const list = this.idle.get(link.key);
    if (list) {
      const at = list.indexOf(link);
      if (at !== -1) list.splice(at, 1);
    }
    const conn = link.owner;
    link.owner = null;
    if (!conn || conn.link !== link) return;
    if (previous === "tunnel") {
      conn.link = null;
      this.closeClient(conn);
      return;
    }
    if (previous === "body" && link.untilClose) {
      conn.link = null;
      // A close-delimited body ends with the upstream's close: a complete response.
      conn.requestSent = true;
      this.closeClient(conn);
      this.checkIdle();
      return;
    }
    if (
      !conn.responseStarted &&
      link.reused &&
      !link.gotBytes &&
      conn.requestSent &&
      conn.request !== null &&
      conn.request.contentLength === null &&
      !conn.request.chunked &&
      isRetrySafe(conn.request)
    ) {
      // A pooled connection the upstream had closed: send the request again on a fresh one, once,
      // and only when repeating it cannot do harm (Go's rule: idempotent method or Idempotency-Key).
      const fresh = this.connect(link.address, link.key);
      fresh.owner = conn;
      fresh.head = link.head;
      conn.link = fresh;
      this.linkWrite(fresh, fresh.head);
      return;
    }
    conn.link = null;
    if (!conn.responseStarted) {
      this.localError(conn, 502, `${describeTarget(conn)} closed the connection before answering`, true);
    } else this.cutClient(conn);
    this.checkIdle();
  }

  linkConnectError(link: UpstreamLink, error: Error): void {
    link.state = "closed";
    const conn = link.owner;
    link.owner = null;
    if (!conn || conn.link !== link) return;
    conn.link = null;
    this.localError(conn, 502, `${describeTarget(conn)} could not be reached: ${error.message}`, true);
    this.checkIdle();
  }

  /**
   * Runs every SWEEP_MS: 408 and close for a request head not complete within the header timeout
   * (slowloris) and for a request body that made no progress for the idle timeout; closes
   * keep-alive connections idle for that long; 504 for requests whose provider sent no response
   * head within its `timeout`. A response is never cut for being quiet (server-sent events).
   */
  sweepTimeouts(now: number): void {
    this.clock = now;
    // Times taken from the lagging clock: the limit allows for the lag (see `clock`).
    const idleLimit = this.idleTimeoutMs + SWEEP_MS;
    for (const conn of this.clients) {
      if (conn.state === "head") {
        if (conn.headDeadline !== 0 && conn.headDeadline < now) {
          conn.headDeadline = 0;
          this.localError(
            conn,
            408,
            `The request head was not complete within ${this.headerTimeoutMs} ms (--header-timeout)`,
            true,
          );
        } else if (conn.headDeadline === 0 && conn.idleSince !== 0 && now - conn.idleSince > idleLimit) {
          this.closeClient(conn);
        }
        continue;
      }
      // A body held back by the gateway's own backpressure is not the client's stall.
      if (conn.state === "body" && !conn.paused && now - conn.bodyProgressAt > idleLimit) {
        this.abortExchange(
          conn,
          408,
          `The request body made no progress for ${this.idleTimeoutMs} ms (--idle-timeout)`,
        );
        continue;
      }
      if (conn.deadline !== 0 && conn.deadline < now && !conn.responseStarted && conn.link) {
        conn.deadline = 0;
        const ms = conn.target?.timeoutMs ?? 60_000;
        this.abortExchange(conn, 504, `${describeTarget(conn)} sent no response headers within ${ms} ms`);
      }
    }
  }

  checkIdle(): void {
    if (!this.draining || !this.onIdle) return;
    for (const conn of this.clients) if (conn.state !== "head" && conn.state !== "closed") return;
    const done = this.onIdle;
    this.onIdle = null;
    done();
  }
}

/** Starts the byte-level front on `hostname:port`. */
export function startRawProxy(sockets: RawSockets, options: RawProxyOptions): RawProxy {
  const front = new Front(options, sockets);
  const listener = sockets.listen<ClientConn>({
    hostname: options.hostname,
    port: options.port,
    handlers: front.clientHandlers,
    data: () => undefined as unknown as ClientConn,
  });
  const sweeper = setInterval(() => front.sweepTimeouts(Date.now()), SWEEP_MS);
  (sweeper as { unref?: () => void }).unref?.();
  const closeIdleClients = () => {
    for (const conn of front.clients) if (conn.state === "head" && !conn.pending) front.closeClient(conn);
  };
  return {
    hostname: listener.hostname,
    port: listener.port,
    stop() {
      listener.stop();
      clearInterval(sweeper);
    },
    drain() {
      listener.stop();
      front.draining = true;
      closeIdleClients();
      for (const list of front.idle.values()) for (const link of list.splice(0)) front.destroyLink(link);
      return new Promise<void>((resolve) => {
        front.onIdle = () => {
          clearInterval(sweeper);
          resolve();
        };
        front.checkIdle();
      });
    },
    closeAll() {
      clearInterval(sweeper);
      for (const conn of front.clients) front.cutClient(conn);
      for (const list of front.idle.values()) for (const link of list.splice(0)) front.destroyLink(link);
    },
  };
}

// Request ids: a random per-process prefix and a counter, unique without a UUID's cost per request.
const ID_PREFIX = crypto.randomUUID().slice(0, 18);
let idCounter = 0;
function nextRequestId(): string {
  idCounter = idCounter === Number.MAX_SAFE_INTEGER ? 1 : idCounter + 1;
  return ID_PREFIX + idCounter;
}

// Pause and resume only on a change: each is a call into native code, and most requests need neither.
function pauseClient(conn: ClientConn): void {
  if (!conn.paused) {
    conn.paused = true;
    conn.socket?.pause();
  }
}
function resumeClient(conn: ClientConn): void {
  if (conn.paused) {
    conn.paused = false;
    // The stall clock starts again when the gateway lets the client send more.
    conn.bodyProgressAt = Date.now();
    conn.socket?.resume();
  }
}
function pauseLink(link: UpstreamLink): void {
  if (!link.paused) {
    link.paused = true;
    link.socket?.pause();
  }
}
function resumeLink(link: UpstreamLink): void {
  if (link.paused) {
    link.paused = false;
    link.socket?.resume();
  }
}

/**
 * Heads are built as latin1 strings. An ASCII one is written as it is (the socket encodes it
 * natively, byte for byte, with no Buffer allocated); one holding obs-text bytes becomes latin1
 * bytes, since a string write would encode them as UTF-8.
 */
function latin1Bytes(head: string, ascii: boolean): Buffer | string {
  return ascii ? head : Buffer.from(head, "latin1");
}

/** Only for a write the kernel took in part; only ASCII strings are ever written as strings. */
function toBuffer(data: Buffer | string): Buffer {
  return typeof data === "string" ? Buffer.from(data, "latin1") : data;
}

function isRetrySafe(head: RequestHead): boolean {
  const method = head.method;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "TRACE") return true;
  return head.idempotencyKey;
}

function describeTarget(conn: ClientConn): string {
  return conn.target ? `Provider "${conn.target.code}"` : "The gateway's own app";
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  408: "Request Timeout",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};
