/**
 * The state the byte-level front keeps per connection: one {@link ClientConn} per client, one
 * {@link UpstreamLink} per connection to a provider (or to the gateway's own app). Plain records;
 * the state machines that move them are ./client-side.ts and ./upstream-side.ts.
 */
import type { RawAddress, RawSocket } from "../../runtime/index.ts";
import type { ChunkedTracker, RequestHead, ResponseHead } from "../http1.ts";
import type { ProxyTarget } from "../table.ts";
import type { ControlHandler, TunnelAddress } from "./reverse.ts";

/**
 * - `head`: reading a request head (or idle between requests);
 * - `body`: relaying the request body upstream;
 * - `held`: waiting for its provider to be ready (it is starting or restarting), nothing sent yet;
 * - `waiting`: the request is sent (or being answered), the response is under way;
 * - `tunnel`: bytes flow both ways unchanged after a 101;
 * - `reverse`: a dial-out agent's data connection, now an upstream connection (./reverse.ts);
 * - `control`: a dial-out agent's control connection, handed to its gate;
 * - `closed`: going or gone.
 */
export type ClientState = "head" | "held" | "body" | "waiting" | "tunnel" | "reverse" | "control" | "closed";

/** Per client connection. */
export class ClientConn {
  state: ClientState = "head";
  /** Bytes received and not yet taken as a head or body (a partial head, pipelined requests). */
  unread: Buffer | null = null;
  /** The head of the request in progress. */
  request: RequestHead | null = null;
  requestId = "";
  /** The namespace of the current request's provider ("" for the gateway's own routes). */
  prefix = "";
  target: ProxyTarget | null = null;
  /** The provider whose traffic counts this exchange as in flight (set when forwarded). */
  counted: ProxyTarget | null = null;
  /** While held: the provider waited for. */
  heldFor: ProxyTarget | null = null;
  /** When the current request stops waiting for its provider (503); 0 before it first waits. */
  heldUntil = 0;
  // For the metrics (lib/proxy/traffic.ts), per request:
  /** The provider whose namespace the request is in, forwarded or not. */
  matched: ProxyTarget | null = null;
  /** Index in METHODS. */
  method = 0;
  /** performance.now() when its head was complete (time held included). */
  startedAt = 0;
  /** The final status the client was sent; 0 before. */
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  recorded = false;
  /** Request body bytes still to relay (Content-Length framing). */
  bodyRemaining = 0;
  /** Follows a chunked request body to its end. */
  requestChunks: ChunkedTracker | null = null;
  /** True once the request (head and body) has been fully handed to the upstream. */
  requestSent = false;
  link: UpstreamLink | null = null;
  keepAlive = true;
  /** Bytes the client socket did not take yet (backpressure). */
  outbox: Buffer[] = [];
  /** When the provider must have sent its response head (its `timeout`); 0 when not waiting. */
  responseDeadline = 0;
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
  /** While `reverse`: the upstream link this connection is. */
  reverse: UpstreamLink | null = null;
  /** While `control`: who reads it. */
  control: ControlHandler | null = null;

  constructor(public socket: RawSocket<ClientConn> | null) {
    this.remoteAddress = socket?.remoteAddress ?? "";
  }
}

/**
 * - `connecting`: the socket is not open yet (writes are queued);
 * - `head`: reading the response head; `body`: relaying the response body;
 * - `tunnel`: after a 101; `idle`: in the pool; `closed`: going or gone.
 */
export type LinkState = "connecting" | "head" | "body" | "tunnel" | "idle" | "closed";

/** Per upstream connection. */
export class UpstreamLink {
  state: LinkState = "connecting";
  socket: RawSocket<UpstreamLink> | null = null;
  /** The client whose exchange this connection carries; null in the pool. */
  owner: ClientConn | null = null;
  /** Bytes the upstream socket did not take yet (not open, or backpressure). */
  unsent: Array<Buffer | string> = [];
  /** The response head's bytes so far, while it is incomplete. */
  partialHead: Buffer | null = null;
  response: ResponseHead | null = null;
  /** Response body bytes still to relay (Content-Length framing). */
  bodyRemaining = 0;
  /** Follows a chunked response body to its end. */
  responseChunks: ChunkedTracker | null = null;
  /** The body ends when the upstream closes (no framing). */
  untilClose = false;
  /** Strip chunk framing (for an HTTP/1.0 client). */
  dechunk = false;
  /** Taken from the pool (so it may have been closed by the upstream meanwhile). */
  reused = false;
  /** Whether any byte of the response arrived. */
  gotBytes = false;
  /** The request head sent on it, kept for one retry when a reused connection turns out to be dead. */
  requestHead: Buffer | string = "";
  paused = false;

  constructor(
    readonly address: RawAddress | TunnelAddress,
    /** Names the upstream: the pool's key and the `Host` a provider sees. */
    readonly key: string,
  ) {}
}

// Pause and resume only on a change: each is a call into native code, and most requests need neither.
export function pauseClient(conn: ClientConn): void {
  if (!conn.paused) {
    conn.paused = true;
    conn.socket?.pause();
  }
}
export function resumeClient(conn: ClientConn): void {
  if (conn.paused) {
    conn.paused = false;
    // The stall clock starts again when the gateway lets the client send more.
    conn.bodyProgressAt = Date.now();
    conn.socket?.resume();
  }
}
export function pauseLink(link: UpstreamLink): void {
  if (!link.paused) {
    link.paused = true;
    link.socket?.pause();
  }
}
export function resumeLink(link: UpstreamLink): void {
  if (link.paused) {
    link.paused = false;
    link.socket?.resume();
  }
}
