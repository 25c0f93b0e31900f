/**
 * The upstream side of the byte-level front: writes request bytes to a provider's connection
 * (queued until it opens, with backpressure), reads its response head, decides the body's
 * framing and relays the body to the client side, tunnels after a 101, and turns an upstream
 * that refuses, closes or breaks into an answer (502) or a cut client connection, never a
 * response that looks complete when it is not.
 */
import type { RawHandlers, RawSocket } from "../../runtime/index.ts";
import { answers } from "../answers.ts";
import {
  ChunkedTracker,
  findHeadEnd,
  type RequestHead,
  type ResponseHead,
  scanResponseHead,
} from "../http1.ts";
import { BULK_CHUNK, type BulkCollector } from "./bulk.ts";
import { type ClientSide, MAX_PIPELINE_BUFFER } from "./client-side.ts";
import { type ClientConn, pauseClient, resumeClient, type UpstreamLink } from "./connections.ts";
import { clientHead, clientResponse, latin1Bytes, toBuffer } from "./heads.ts";
import type { UpstreamPool } from "./pool.ts";

const MAX_RESPONSE_HEAD = 64 * 1024;
/** Up to this many body bytes are copied next to the head to save a send() call. */
const COALESCE_LIMIT = 32 * 1024;

export class UpstreamSide {
  readonly handlers: RawHandlers<UpstreamLink>;

  constructor(
    readonly client: ClientSide,
    readonly pool: UpstreamPool,
    readonly bulk: BulkCollector,
  ) {
    this.handlers = {
      open: (socket) => this.onOpen(socket.data, socket),
      data: (socket, chunk) => this.onData(socket.data, chunk),
      drain: (socket) => this.onDrain(socket.data),
      close: (socket) => this.onClosed(socket.data),
      connectError: (socket, error) => this.onConnectError(socket.data, error),
    };
  }

  onOpen(link: UpstreamLink, socket: RawSocket<UpstreamLink>): void {
    link.socket = socket;
    if (link.state === "closed") {
      socket.end();
      return;
    }
    link.state = "head";
    const queued = link.unsent;
    link.unsent = [];
    for (const data of queued) this.write(link, data);
    if (link.unsent.length === 0 && link.owner) resumeClient(link.owner);
  }

  /** Writes to the upstream; until it is open, or while it lags, bytes wait and the client is paused. */
  write(link: UpstreamLink, data: Buffer | string): void {
    const socket = link.socket;
    if (!socket || link.unsent.length > 0) {
      link.unsent.push(data);
      // Hold the client until the upstream connection is open and has taken what is queued.
      if (link.owner) pauseClient(link.owner);
      return;
    }
    const written = socket.write(data);
    if (written >= 0 && written < data.length) {
      link.unsent.push(toBuffer(data).subarray(written));
      // Backpressure: stop reading the client until the upstream has taken the body so far.
      if (link.owner) pauseClient(link.owner);
    }
  }

  onDrain(link: UpstreamLink): void {
    const socket = link.socket;
    if (!socket) return;
    while (link.unsent.length > 0) {
      const next = link.unsent[0]!;
      const bytes = toBuffer(next);
      const written = socket.write(bytes);
      if (written < 0) return;
      if (written < bytes.length) {
        link.unsent[0] = bytes.subarray(written);
        return;
      }
      link.unsent.shift();
    }
    const owner = link.owner;
    if (owner && owner.state !== "closed" && (owner.unread?.length ?? 0) <= MAX_PIPELINE_BUFFER)
      resumeClient(owner);
  }

  onData(link: UpstreamLink, chunk: Buffer): void {
    if (chunk.length >= BULK_CHUNK) this.bulk.count(chunk.length);
    link.gotBytes = true;
    const conn = link.owner;
    if (!conn || conn.state === "closed") {
      this.pool.destroy(link);
      return;
    }
    if (link.state === "tunnel") {
      this.client.write(conn, chunk);
      return;
    }
    if (link.state === "body") {
      this.relayResponseBody(conn, link, chunk);
      return;
    }
    if (link.state !== "head") {
      // Bytes from an upstream that owes nothing: it is confused; do not reuse it.
      this.pool.destroy(link);
      return;
    }
    const buf = link.partialHead ? Buffer.concat([link.partialHead, chunk]) : chunk;
    link.partialHead = null;
    this.responseHead(conn, link, buf);
  }

  /** Reads a response head (interim ones pass through), decides the body's framing, starts the response. */
  responseHead(conn: ClientConn, link: UpstreamLink, buf: Buffer): void {
    const client = this.client;
    const end = findHeadEnd(buf);
    if (end === -1) {
      if (buf.length > MAX_RESPONSE_HEAD) client.abortExchange(conn, answers.responseHeadTooLarge());
      else link.partialHead = buf;
      return;
    }
    let response: ResponseHead;
    try {
      response = scanResponseHead(buf, end);
    } catch (error) {
      client.abortExchange(conn, answers.badResponse((error as Error).message));
      return;
    }
    const request = conn.request!;
    if (response.status === 101 && request.upgrade !== null) {
      conn.responseDeadline = 0;
      conn.responseStarted = true;
      conn.status = 101;
      client.write(conn, latin1Bytes(clientHead(conn, response, true), response.ascii));
      conn.state = "tunnel";
      link.state = "tunnel";
      if (end < buf.length) client.write(conn, buf.subarray(end));
      const early = conn.unread;
      conn.unread = null;
      if (early) this.write(link, early);
      return;
    }
    if (response.status < 200) {
      // Interim responses (100 Continue, 103 Early Hints) pass through; the final one follows.
      if (request.minor === 1 && response.status !== 101) client.write(conn, buf.subarray(0, end));
      if (end < buf.length) this.responseHead(conn, link, buf.subarray(end));
      return;
    }
    conn.responseDeadline = 0;
    conn.responseStarted = true;
    conn.status = response.status;
    link.response = response;
    const noBody = request.method === "HEAD" || response.status === 204 || response.status === 304;
    link.responseChunks = null;
    link.untilClose = false;
    if (noBody) link.bodyRemaining = 0;
    else if (response.chunked) {
      link.responseChunks = new ChunkedTracker();
      link.dechunk = request.minor === 0;
      if (link.dechunk) conn.keepAlive = false;
    } else if (response.contentLength !== null) link.bodyRemaining = response.contentLength;
    else {
      link.untilClose = true;
      conn.keepAlive = false;
    }
    if (!response.keepAlive) conn.keepAlive = conn.keepAlive && !link.untilClose;
    if (noBody || (link.responseChunks === null && !link.untilClose && link.bodyRemaining === 0)) {
      client.write(conn, clientResponse(conn, response, null));
      link.state = end < buf.length ? "closed" : "idle";
      client.finishExchange(conn, link);
      return;
    }
    link.state = "body";
    if (link.responseChunks === null && !link.untilClose && buf.length - end <= COALESCE_LIMIT) {
      // The common response (Content-Length, small): its first body bytes go with the head as a
      // range of `buf`, with no view made of them.
      const take = Math.min(link.bodyRemaining, buf.length - end);
      link.bodyRemaining -= take;
      if (link.bodyRemaining === 0) link.state = end + take < buf.length ? "closed" : "idle";
      client.write(conn, clientResponse(conn, response, take > 0 ? buf : null, end, end + take));
      this.afterBody(conn, link);
      return;
    }
    const bodyStart = end < buf.length ? buf.subarray(end) : null;
    if (bodyStart) {
      const body = this.takeBody(conn, link, bodyStart);
      // Head and first body bytes in one buffer: one send() instead of two for most responses.
      const coalesce = body.length > 0 && body.length <= COALESCE_LIMIT;
      client.write(conn, clientResponse(conn, response, coalesce ? body : null));
      if (!coalesce && body.length > 0) client.write(conn, body);
      this.afterBody(conn, link);
    } else client.write(conn, clientResponse(conn, response, null));
  }

  /** The part of `chunk` that belongs to the body, updating framing state. */
  takeBody(conn: ClientConn, link: UpstreamLink, chunk: Buffer): Buffer {
    if (link.untilClose) return chunk;
    const chunks = link.responseChunks;
    if (chunks) {
      let end: number;
      const data: Buffer[] | null = link.dechunk ? [] : null;
      try {
        end = chunks.feed(
          chunk,
          0,
          chunk.length,
          data ? (from, to) => data.push(chunk.subarray(from, to)) : undefined,
        );
      } catch {
        this.#brokeMidBody(conn);
        this.client.cut(conn);
        this.pool.destroy(link);
        return Buffer.alloc(0);
      }
      if (end !== -1) link.state = end < chunk.length ? "closed" : "idle";
      if (data) return data.length === 1 ? data[0]! : Buffer.concat(data);
      if (end === -1) return chunk;
      return end < chunk.length ? chunk.subarray(0, end) : chunk;
    }
    const take = Math.min(link.bodyRemaining, chunk.length);
    link.bodyRemaining -= take;
    if (link.bodyRemaining === 0) link.state = take < chunk.length ? "closed" : "idle";
    return take < chunk.length ? chunk.subarray(0, take) : chunk;
  }

  relayResponseBody(conn: ClientConn, link: UpstreamLink, chunk: Buffer): void {
    const body = this.takeBody(conn, link, chunk);
    if (body.length > 0) this.client.write(conn, body);
    this.afterBody(conn, link);
  }

  afterBody(conn: ClientConn, link: UpstreamLink): void {
    if (link.state === "idle" || (link.state === "closed" && link.owner === conn))
      this.client.finishExchange(conn, link);
  }

  onClosed(link: UpstreamLink): void {
    const client = this.client;
    const previous = link.state;
    link.state = "closed";
    link.socket = null;
    this.pool.forget(link);
    const conn = link.owner;
    link.owner = null;
    if (!conn || conn.link !== link) return;
    if (previous === "tunnel") {
      conn.link = null;
      client.close(conn);
      return;
    }
    if (previous === "body" && link.untilClose) {
      conn.link = null;
      // A close-delimited body ends with the upstream's close: a complete response.
      conn.requestSent = true;
      client.close(conn);
      client.checkIdle();
      return;
    }
    if (
      !conn.responseStarted &&
      link.reused &&
      !link.gotBytes &&
      // A tunnel that ended has no connection to retry on (its agent opens a new session).
      !("tunnel" in link.address && link.address.closed) &&
      conn.requestSent &&
      conn.request !== null &&
      conn.request.contentLength === null &&
      !conn.request.chunked &&
      isRetrySafe(conn.request)
    ) {
      // A pooled connection the upstream had closed: send the request again on a fresh one, once,
      // and only when repeating it cannot do harm (Go's rule: idempotent method or Idempotency-Key).
      const fresh = this.pool.connect(link.address, link.key);
      fresh.owner = conn;
      fresh.requestHead = link.requestHead;
      conn.link = fresh;
      this.write(fresh, fresh.requestHead);
      return;
    }
    conn.link = null;
    if (!conn.responseStarted)
      client.answer(conn, answers.closedBeforeAnswer(conn.target?.code ?? null), true);
    else {
      this.#brokeMidBody(conn);
      client.cut(conn);
    }
    client.checkIdle();
  }

  /** The provider broke off a response it had begun: an upstream `reset`, for the metrics. */
  #brokeMidBody(conn: ClientConn): void {
    if (conn.matched && this.client.metrics) conn.matched.traffic.upstreamError("reset");
  }

  onConnectError(link: UpstreamLink, error: Error): void {
    link.state = "closed";
    const conn = link.owner;
    link.owner = null;
    if (!conn || conn.link !== link) return;
    conn.link = null;
    conn.target?.upstreamFailed?.(error.message);
    this.client.answer(conn, answers.unreachable(conn.target?.code ?? null, error.message), true);
    this.client.checkIdle();
  }
}

function isRetrySafe(head: RequestHead): boolean {
  const method = head.method;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "TRACE") return true;
  return head.idempotencyKey;
}
