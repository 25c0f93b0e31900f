/**
 * The client side of the byte-level front: reads request heads off each client connection,
 * routes them, relays request bodies to the upstream side, writes responses back with
 * backpressure, answers locally when the gateway must (lib/proxy/answers.ts), and enforces the
 * client's timeouts and the connection cap.
 */
import type { RawAddress, RawHandlers, RawSockets } from "../../runtime/index.ts";
import { type Answer, answers, HEALTHY_BODY, READY_BODY } from "../answers.ts";
import { REQUEST_ID } from "../headers.ts";
import { ChunkedTracker, findHeadEnd, HttpParseError, type RequestHead, scanRequestHead } from "../http1.ts";
import { hasEncodedSeparator, normalizeTarget } from "../path.ts";
import type { Endpoint, ProxyTarget } from "../table.ts";
import { type HoldOutcome, methodIndex } from "../traffic.ts";
import { BULK_CHUNK, type BulkCollector } from "./bulk.ts";
import {
  ClientConn,
  pauseClient,
  pauseLink,
  resumeClient,
  resumeLink,
  type UpstreamLink,
} from "./connections.ts";
import { answerBytes, latin1Bytes, okJsonBytes, toBuffer, upstreamHead } from "./heads.ts";
import type { FrontOptions } from "./index.ts";
import type { UpstreamPool } from "./pool.ts";
import { headerMap, type TunnelAddress, tunnelCode } from "./reverse.ts";
import type { UpstreamSide } from "./upstream-side.ts";

/** How often timeouts are checked (and the coarse clock read). */
export const SWEEP_MS = 250;
/** Client bytes buffered while a response is under way before the client is paused. */
export const MAX_PIPELINE_BUFFER = 256 * 1024;

/** What a connection past `maxConnections` gets before it is closed: no request is read. */
const OVER_CAPACITY = answerBytes(answers.overCapacity(), { requestId: "", close: true, headRequest: false });

/** Bytes a dial-out agent may leave unread on its control connection before it is cut. */
const MAX_CONTROL_OUTBOX = 1024 * 1024;

export class ClientSide {
  readonly clients = new Set<ClientConn>();
  readonly handlers: RawHandlers<ClientConn>;
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
  /** Called once, when draining and no exchange is in flight any more. */
  onIdle: (() => void) | null = null;
  /** Requests waiting for their provider to be ready, by provider (see {@link hold}). */
  readonly held = new Map<ProxyTarget, Set<ClientConn>>();
  upstream!: UpstreamSide;
  /** Whether requests are counted for `GET /metrics` (`--no-metrics` turns it off). */
  readonly metrics: boolean;
  /** What providers are told the client used (`X-Forwarded-Proto`). */
  readonly proto: "http" | "https";

  constructor(
    readonly options: FrontOptions,
    readonly sockets: RawSockets,
    readonly pool: UpstreamPool,
    readonly bulk: BulkCollector,
  ) {
    this.maxHeaderSize = options.maxHeaderSize ?? 64 * 1024;
    this.headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 75_000;
    this.maxConnections = options.maxConnections ?? Number.POSITIVE_INFINITY;
    this.metrics = options.metrics !== false;
    this.proto = options.tls ? "https" : "http";
    this.handlers = {
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
      data: (socket, chunk) => this.onData(socket.data, chunk),
      drain: (socket) => this.onDrain(socket.data),
      close: (socket) => this.onClosed(socket.data),
    };
  }

  onData(conn: ClientConn, chunk: Buffer): void {
    if (chunk.length >= BULK_CHUNK) this.bulk.count(chunk.length);
    switch (conn.state) {
      case "tunnel":
        conn.bytesIn += chunk.length;
        if (conn.link) this.upstream.write(conn.link, chunk);
        return;
      case "reverse":
        this.upstream.onData(conn.reverse!, chunk);
        return;
      case "control":
        conn.control!.data(chunk);
        return;
      case "body":
        this.relayRequestBody(conn, chunk, 0);
        return;
      case "closed":
        return;
      default:
        conn.unread = conn.unread ? Buffer.concat([conn.unread, chunk]) : chunk;
        if (conn.state === "head") {
          if (conn.headDeadline === 0) conn.headDeadline = this.clock + SWEEP_MS + this.headerTimeoutMs;
          this.nextRequest(conn);
        } else if (conn.unread.length > MAX_PIPELINE_BUFFER) pauseClient(conn);
    }
  }

  /** Takes the next request head off the unread bytes, once it is complete. */
  nextRequest(conn: ClientConn): void {
    const buf = conn.unread;
    if (!buf || conn.state !== "head") return;
    const end = findHeadEnd(buf);
    if (end === -1) {
      if (buf.length > this.maxHeaderSize) this.answer(conn, answers.headTooLarge(), true);
      return;
    }
    if (end > this.maxHeaderSize) {
      this.answer(conn, answers.headTooLarge(), true);
      return;
    }
    let head: RequestHead;
    try {
      head = scanRequestHead(buf, end);
    } catch (error) {
      const status = error instanceof HttpParseError ? error.status : 400;
      this.answer(conn, answers.badRequest((error as Error).message, status), true);
      return;
    }
    conn.unread = end < buf.length ? buf.subarray(end) : null;
    if (head.upgrade !== null && this.options.tunnels) {
      const code = tunnelCode(head.target);
      if (code !== null) {
        this.acceptTunnel(conn, code, buf.subarray(0, end));
        return;
      }
    }
    // A new request: what the metrics count of it starts here (a held one keeps its start).
    conn.method = methodIndex(head.method);
    conn.startedAt = performance.now();
    conn.status = 0;
    conn.bytesIn = end;
    conn.bytesOut = 0;
    conn.recorded = false;
    this.dispatch(conn, head);
  }

  /**
   * A dial-out agent's tunnel request (./reverse.ts): its gate decides; a data connection becomes
   * an upstream link of its provider, a control connection goes to the gate. Either is no longer
   * a client: no idle or head timeouts, not counted among open connections.
   */
  acceptTunnel(conn: ClientConn, code: string, rawHead: Buffer): void {
    const verdict = this.options.tunnels!.admit({
      code,
      headers: headerMap(rawHead),
      remoteAddress: conn.remoteAddress,
    });
    if (!verdict.ok) {
      this.answer(conn, { status: verdict.status, detail: verdict.message, headers: verdict.headers }, true);
      return;
    }
    if (conn.unread && verdict.kind === "data") {
      // On a data connection the gateway speaks first: bytes before it did are no tunnel it knows.
      this.answer(conn, answers.badRequest("A tunnel request must not carry bytes after its head"), true);
      return;
    }
    const extra = verdict.kind === "control" ? verdict.headers : {};
    let head = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: gateway-tunnel\r\n";
    for (const [name, value] of Object.entries(extra)) head += `${name}: ${value}\r\n`;
    this.write(conn, `${head}\r\n`);
    this.clients.delete(conn);
    if (verdict.kind === "data" && conn.outbox.length > 0) {
      // The 101 did not go out whole: requests written now would pass it. Rare; the agent opens another.
      conn.state = "closed";
      conn.socket?.end();
      return;
    }
    conn.headDeadline = 0;
    conn.idleSince = 0;
    if (verdict.kind === "data") {
      conn.state = "reverse";
      this.pool.reverse.arrive(verdict.address.key, conn, verdict.address);
      return;
    }
    conn.state = "control";
    const socket = conn.socket!;
    conn.control = verdict.attach({
      remoteAddress: conn.remoteAddress,
      send: (text) => {
        this.write(conn, text);
        if (conn.outbox.length === 0) return true;
        // An agent that does not read its control connection: bounded, then cut.
        let waiting = 0;
        for (const chunk of conn.outbox) waiting += chunk.length;
        if (waiting > MAX_CONTROL_OUTBOX) socket.terminate();
        return false;
      },
      // What is queued ("drained", "replaced") goes out first: onDrain ends it after.
      close: () => {
        if (conn.outbox.length === 0) socket.end();
        else conn.state = "closed";
      },
    });
    // Control messages sent along with the head are read as if they came after the 101.
    const early = conn.unread;
    conn.unread = null;
    if (early) conn.control.data(early);
  }

  /** Routes a request and sends its head upstream (a provider, or the gateway's own app), or refuses it. */
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
      this.refuse(conn, answers.badRequest(normalized.reason));
      return;
    }
    const table = this.options.table();
    const match = table.match(normalized.path);
    conn.matched = match?.target ?? null;
    if (normalized.path !== normalized.rawPath && match?.target !== table.match(normalized.rawPath)?.target) {
      // Dot segments (plain or encoded) that carry a request across a namespace boundary are
      // refused outright: a path written into one provider never reaches another, nor the gateway.
      this.refuse(conn, answers.dotSegmentsLeaveNamespace());
      return;
    }
    let address: RawAddress | TunnelAddress;
    let upstreamTarget: string;
    if (match) {
      const endpoint = match.target.endpoint();
      if (!endpoint) {
        if (!this.hold(conn, match.target))
          this.refuse(conn, answers.notReady(match.target.code, match.target.status()));
        return;
      }
      conn.target = match.target;
      conn.prefix = match.target.namespace;
      address = endpoint;
      // An external agent's URL may have a path: requests go under it.
      upstreamTarget = (endpoint.basePath ? endpoint.basePath + match.rest : match.rest) + normalized.query;
    } else {
      if (
        (normalized.path === "/healthz" || normalized.path === "/readyz") &&
        (head.method === "GET" || head.method === "HEAD") &&
        this.options.readiness
      ) {
        this.answerHealth(conn, normalized.path === "/readyz");
        return;
      }
      if (hasEncodedSeparator(normalized.path)) {
        this.refuse(conn, answers.encodedSeparator());
        return;
      }
      address = this.options.internal;
      upstreamTarget = normalized.path + normalized.query;
    }
    const max = this.options.maxBodySize;
    if (max !== undefined && head.contentLength !== null && head.contentLength > max) {
      this.refuse(conn, answers.bodyOverLimit(max, head.contentLength));
      return;
    }
    conn.bodyRemaining = head.contentLength ?? 0;
    conn.requestChunks = head.chunked ? new ChunkedTracker() : null;
    const hasBody = conn.bodyRemaining > 0 || conn.requestChunks !== null;
    if (conn.target) {
      conn.target.traffic.begin();
      conn.counted = conn.target;
    }
    const link = this.pool.acquire(address);
    link.owner = conn;
    // The Host the provider sees: its own address, or an agent's URL host (never the pool key).
    const host = (address as Endpoint).host ?? link.key;
    link.requestHead = latin1Bytes(upstreamHead(conn, head, upstreamTarget, host, this.proto), head.ascii);
    link.gotBytes = false;
    conn.link = link;
    conn.responseDeadline = 0;
    this.upstream.write(link, link.requestHead);
    if (hasBody) {
      conn.state = "body";
      conn.bodyProgressAt = this.clock;
      const rest = conn.unread;
      conn.unread = null;
      if (rest) this.relayRequestBody(conn, rest, 0);
    } else {
      conn.state = "waiting";
      this.requestComplete(conn);
    }
  }

  /**
   * Holds a request whose provider is starting or restarting until it is ready, its `hold`
   * runs out, or its queue is full (then false: the caller answers 503). Nothing of the request
   * is sent meanwhile, so holding is safe for any method. The client is read on (a body is kept
   * in `unread`, and the client paused once that passes MAX_PIPELINE_BUFFER, as for a pipelined
   * request), so a client that goes away is seen at once: a paused socket would not report its
   * close. No timer per request: the sweep ends the wait, and {@link providerChanged} resumes it.
   */
  hold(conn: ClientConn, target: ProxyTarget): boolean {
    if (target.holdMs === 0 || !target.holds()) return false;
    if (conn.heldUntil === 0) conn.heldUntil = this.clock + SWEEP_MS + target.holdMs;
    let queue = this.held.get(target);
    if (!queue) {
      queue = new Set();
      this.held.set(target, queue);
    }
    if (queue.size >= target.holdQueue) {
      this.#held(target, "dropped");
      return false;
    }
    queue.add(conn);
    conn.state = "held";
    conn.heldFor = target;
    return true;
  }

  /** Takes a held request out of its queue (it goes on, is refused, or its client left), and lets the client send again. */
  #unhold(conn: ClientConn): void {
    const target = conn.heldFor;
    if (!target) return;
    conn.heldFor = null;
    const queue = this.held.get(target);
    queue?.delete(conn);
    if (queue?.size === 0) this.held.delete(target);
    resumeClient(conn);
  }

  /**
   * A provider's status changed: its held requests are routed again, through the current table
   * (the provider may have been replaced by a rescan): forwarded if it is ready, held again if it
   * still starts (their deadline kept), else refused with 503.
   */
  providerChanged(code: string): void {
    // A snapshot first: routing again may hold a request anew, in a queue made afresh.
    const waiting: ClientConn[] = [];
    for (const [target, queue] of this.held) if (target.code === code) waiting.push(...queue);
    for (const conn of waiting) {
      const target = conn.heldFor!;
      this.#unhold(conn);
      this.dispatch(conn, conn.request!);
      if (conn.state === "body" || conn.state === "waiting") this.#held(target, "forwarded");
      else if (conn.state !== "held") this.#held(target, "dropped");
    }
  }

  #held(target: ProxyTarget, outcome: HoldOutcome): void {
    if (this.metrics) target.traffic.heldOutcome(outcome);
  }

  /**
   * Counts a finished request for `GET /metrics`, and hands it to the access log, once, if it was
   * for a provider and got an answer.
   */
  record(conn: ClientConn): void {
    const target = conn.matched;
    if (target === null || conn.recorded || conn.status === 0) return;
    conn.recorded = true;
    const accessLog = this.options.accessLog;
    if (!this.metrics && !accessLog) return;
    const ms = performance.now() - conn.startedAt;
    if (this.metrics) target.traffic.record(conn.method, conn.status, ms / 1000, conn.bytesIn, conn.bytesOut);
    if (accessLog) {
      accessLog({
        time: Date.now(),
        provider: target.code,
        method: conn.request?.method ?? "",
        path: conn.request?.target ?? "",
        status: conn.status,
        bytes: conn.bytesOut,
        durationMs: ms,
        requestId: conn.requestId,
      });
    }
  }

  /** Refuses every held request with 503 (the gateway is stopping). */
  refuseHeld(): void {
    for (const [target, queue] of [...this.held]) {
      for (const conn of [...queue]) {
        this.#unhold(conn);
        this.#held(target, "dropped");
        this.refuse(conn, answers.notReady(target.code, target.status()));
      }
    }
  }

  /** The whole request is with the upstream: from now on the response timeout runs (as in Go and Traefik). */
  requestComplete(conn: ClientConn): void {
    conn.requestSent = true;
    if (!conn.responseStarted) conn.responseDeadline = Date.now() + (conn.target?.timeoutMs ?? 60_000);
  }

  /** `/healthz` (200 while the gateway runs) or `/readyz` (200, or 503 naming who is not ready), answered here. */
  answerHealth(conn: ClientConn, readyz: boolean): void {
    const readiness = readyz ? this.options.readiness!() : undefined;
    if (readiness && !readiness.ready) {
      this.refuse(conn, answers.notAllReady(readiness.waiting));
      return;
    }
    const close = this.closesAfterLocalAnswer(conn);
    conn.status = 200;
    this.write(
      conn,
      okJsonBytes(readyz ? READY_BODY : HEALTHY_BODY, {
        requestId: conn.requestId,
        close,
        headRequest: conn.request?.method === "HEAD",
      }),
    );
    if (close) this.close(conn);
    else this.awaitNextHead(conn);
  }

  /** Answers locally; when the request has a body the gateway did not read, the connection closes after. */
  refuse(conn: ClientConn, answer: Answer): void {
    const close = this.closesAfterLocalAnswer(conn);
    this.answer(conn, answer, close);
    if (!close) this.awaitNextHead(conn);
  }

  /** Whether a connection must close after a local answer: the request has a body left unread, or no keep-alive. */
  closesAfterLocalAnswer(conn: ClientConn): boolean {
    const head = conn.request;
    const unreadBody = head !== null && (head.chunked || (head.contentLength ?? 0) > 0);
    return unreadBody || !conn.keepAlive;
  }

  relayRequestBody(conn: ClientConn, chunk: Buffer, offset: number): void {
    const link = conn.link;
    if (!link) return;
    conn.bodyProgressAt = this.clock;
    let end: number;
    const chunks = conn.requestChunks;
    if (chunks) {
      try {
        end = chunks.feed(chunk, offset, chunk.length);
      } catch (error) {
        const status = (error as HttpParseError).status ?? 400;
        this.abortExchange(conn, answers.badRequest((error as Error).message, status));
        return;
      }
      const max = this.options.maxBodySize;
      if (max !== undefined && chunks.dataBytes > max) {
        this.abortExchange(conn, answers.bodyOverLimit(max));
        return;
      }
    } else {
      const take = Math.min(conn.bodyRemaining, chunk.length - offset);
      conn.bodyRemaining -= take;
      end = conn.bodyRemaining === 0 ? offset + take : -1;
    }
    const upTo = end === -1 ? chunk.length : end;
    conn.bytesIn += upTo - offset;
    if (upTo > offset)
      this.upstream.write(link, offset === 0 && upTo === chunk.length ? chunk : chunk.subarray(offset, upTo));
    if (end !== -1) {
      this.requestComplete(conn);
      if (conn.state === "body") conn.state = "waiting";
      if (end < chunk.length) conn.unread = chunk.subarray(end);
      // The response may have ended before the body did (an early answer); finish it now.
      if (conn.state === "waiting" && link.state === "idle") this.finishExchange(conn, link);
    }
  }

  /** Writes to the client; what the socket does not take waits in the outbox, and the upstream pauses. */
  write(conn: ClientConn, data: Buffer | string): void {
    const socket = conn.socket;
    if (!socket) return;
    conn.bytesOut += data.length;
    if (conn.outbox.length > 0) {
      conn.outbox.push(toBuffer(data));
      return;
    }
    const written = socket.write(data);
    if (written < data.length && written >= 0) {
      conn.outbox.push(toBuffer(data).subarray(written));
      // Backpressure: stop reading the upstream until the client has taken what it was sent.
      if (conn.link) pauseLink(conn.link);
    }
  }

  onDrain(conn: ClientConn): void {
    if (conn.state === "reverse") {
      this.upstream.onDrain(conn.reverse!);
      return;
    }
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

  onClosed(conn: ClientConn): void {
    if (conn.state === "reverse" || conn.state === "control") {
      // A dial-out agent's connection: its own side ends it.
      const { reverse, control } = conn;
      conn.state = "closed";
      conn.socket = null;
      if (reverse) this.upstream.onClosed(reverse);
      control?.closed();
      return;
    }
    const wasActive = conn.state !== "head" && conn.state !== "closed";
    // A client that goes away while held leaves the queue at once.
    if (conn.heldFor) this.#held(conn.heldFor, "dropped");
    this.#unhold(conn);
    // A response cut short (or one the client stopped reading) still counts, with what was sent.
    this.record(conn);
    endTraffic(conn);
    conn.state = "closed";
    conn.socket = null;
    this.clients.delete(conn);
    const link = conn.link;
    conn.link = null;
    // A client that went away mid-exchange cancels the upstream request (its connection is not reused).
    if (link && (wasActive || link.state !== "idle")) this.pool.destroy(link);
    this.checkIdle();
  }

  /** Sends the gateway's own answer (problem+json); with `close`, the connection closes after it. */
  answer(conn: ClientConn, answer: Answer, close: boolean): void {
    const headRequest = conn.request?.method === "HEAD";
    conn.status = answer.status;
    this.write(conn, answerBytes(answer, { requestId: conn.requestId, close, headRequest }));
    if (answer.cause && conn.matched && this.metrics) conn.matched.traffic.upstreamError(answer.cause);
    this.record(conn);
    if (close) this.close(conn);
  }

  /** Closes the connection once what it was sent is written. */
  close(conn: ClientConn): void {
    conn.state = "closed";
    if (conn.outbox.length === 0) conn.socket?.end();
  }

  /** Fails the exchange in flight: an answer if none began, else the client connection is cut. */
  abortExchange(conn: ClientConn, answer: Answer): void {
    const link = conn.link;
    conn.link = null;
    if (link) this.pool.destroy(link);
    if (!conn.responseStarted) this.answer(conn, answer, true);
    else this.cut(conn);
  }

  /** Ends the client connection abruptly so a truncated response can never look complete. */
  cut(conn: ClientConn): void {
    conn.state = "closed";
    conn.socket?.terminate();
  }

  /** The response is complete: recycle the upstream connection and move to the client's next request. */
  finishExchange(conn: ClientConn, link: UpstreamLink): void {
    this.record(conn);
    endTraffic(conn);
    if (!conn.requestSent) {
      // Answered before the request body was all sent: neither connection can be resynchronised.
      link.state = "closed";
      this.pool.destroy(link);
      conn.link = null;
      this.close(conn);
      return;
    }
    conn.link = null;
    link.owner = null;
    const reusable = link.state === "idle" && link.response?.keepAlive !== false && !link.untilClose;
    if (reusable) this.pool.release(link);
    else this.pool.destroy(link);
    if (!conn.keepAlive || conn.state === "closed") {
      this.close(conn);
      this.checkIdle();
      return;
    }
    conn.request = null;
    resumeClient(conn);
    if (this.draining) {
      conn.state = "head";
      this.close(conn);
      this.checkIdle();
      return;
    }
    this.awaitNextHead(conn);
  }

  /** Back to reading request heads: idle until the next byte (the idle timeout), or at once if one is buffered. */
  awaitNextHead(conn: ClientConn): void {
    conn.state = "head";
    conn.heldUntil = 0;
    conn.matched = null;
    conn.idleSince = this.clock;
    conn.headDeadline = conn.unread ? this.clock + SWEEP_MS + this.headerTimeoutMs : 0;
    this.nextRequest(conn);
  }

  /**
   * Runs every SWEEP_MS: 408 and close for a request head not complete within the header timeout
   * (slowloris) and for a request body that made no progress for the idle timeout; closes
   * keep-alive connections idle for that long; 504 for requests whose provider sent no response
   * head within its `timeout`. A response is never cut for being quiet (server-sent events).
   */
  sweepTimeouts(now: number): void {
    this.clock = now;
    this.pool.reverse.sweep(now);
    // Times taken from the lagging clock: the limit allows for the lag (see `clock`).
    const idleLimit = this.idleTimeoutMs + SWEEP_MS;
    for (const conn of this.clients) {
      if (conn.state === "held") {
        if (conn.heldUntil < now) {
          const target = conn.heldFor!;
          this.#unhold(conn);
          this.#held(target, "timeout");
          this.refuse(conn, answers.notReady(target.code, target.status(), target.holdMs));
        }
        continue;
      }
      if (conn.state === "head") {
        if (conn.headDeadline !== 0 && conn.headDeadline < now) {
          conn.headDeadline = 0;
          this.answer(conn, answers.headTimeout(this.headerTimeoutMs), true);
        } else if (conn.headDeadline === 0 && conn.idleSince !== 0 && now - conn.idleSince > idleLimit) {
          this.close(conn);
        }
        continue;
      }
      // A body held back by the gateway's own backpressure is not the client's stall.
      if (conn.state === "body" && !conn.paused && now - conn.bodyProgressAt > idleLimit) {
        this.abortExchange(conn, answers.bodyStalled(this.idleTimeoutMs));
        continue;
      }
      if (conn.responseDeadline !== 0 && conn.responseDeadline < now && !conn.responseStarted && conn.link) {
        conn.responseDeadline = 0;
        this.abortExchange(
          conn,
          answers.noResponseHeaders(conn.target?.code ?? null, conn.target?.timeoutMs ?? 60_000),
        );
      }
    }
  }

  /** While draining: calls `onIdle` once no exchange is in flight. */
  checkIdle(): void {
    if (!this.draining || !this.onIdle) return;
    for (const conn of this.clients) if (conn.state !== "head" && conn.state !== "closed") return;
    const done = this.onIdle;
    this.onIdle = null;
    done();
  }

  /** Closes the connections that wait for a request with nothing buffered (the start of draining). */
  closeIdleClients(): void {
    for (const conn of this.clients) if (conn.state === "head" && !conn.unread) this.close(conn);
  }
}

/** The exchange is over: its provider's in-flight count drops (a drain may be waiting for it). */
function endTraffic(conn: ClientConn): void {
  const target = conn.counted;
  if (target) {
    conn.counted = null;
    target.traffic.end();
  }
}

// Request ids: a random per-process prefix and a counter, unique without a UUID's cost per request.
const ID_PREFIX = crypto.randomUUID().slice(0, 18);
let idCounter = 0;
function nextRequestId(): string {
  idCounter = idCounter === Number.MAX_SAFE_INTEGER ? 1 : idCounter + 1;
  return ID_PREFIX + idCounter;
}
