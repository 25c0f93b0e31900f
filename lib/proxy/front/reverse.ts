/**
 * Dial-out tunnels, the front's half: connections an agent opened *to* the gateway
 * (`GET /_gateway/providers/:code/tunnel` with `Upgrade: gateway-tunnel`), used as pooled
 * upstream connections to its provider. After the 101 each data connection is a plain byte pipe
 * the agent splices onto a connection to its upstream, so the gateway writes HTTP/1.1 down it
 * exactly as down a keep-alive connection to a local provider: the same upstream state machine,
 * TCP's flow control per request, WebSocket upgrades and SSE for free. When a request finds no
 * idle one it waits for the agent's next connection, and the agent is asked for more (the
 * control connection, lib/external/tunnels.ts, carries that and the pings).
 *
 * Who may open one, and for which provider, is the gate's to say ({@link TunnelGate}); this file
 * only moves sockets between the client side and the pool.
 */
import type { RawSocket } from "../../runtime/index.ts";
import type { ClientConn } from "./connections.ts";
import { UpstreamLink } from "./connections.ts";

/** Where the proxy sends a tunnelled provider's requests: ProxyTarget.endpoint() for it. */
export interface TunnelAddress {
  /** The tunnel session's key: its data connections are pooled under it. */
  tunnel: string;
  key: string;
  /** The `Host` the provider sees (its upstream URL's, as the agent reported it). */
  host: string;
  /** The provider's origin as its redirects name it. */
  origin: string;
  basePath?: string;
  /** Set once the tunnel has ended: nothing waits for its connections any more. */
  closed: boolean;
  /** Asks the agent for `count` more data connections (all it has are busy). */
  demand(count: number): void;
}

/** The handler of an accepted control connection: what it receives, and its end. */
export interface ControlHandler {
  data(chunk: Buffer): void;
  closed(): void;
}

/** A control connection as the gate sees it. */
export interface ControlChannel {
  /** Writes `text`; false when the peer does not keep up (its bytes wait in the socket). */
  send(text: string): boolean;
  close(): void;
  readonly remoteAddress: string;
}

export interface TunnelRequest {
  /** From the path: a provider code, or `_` for "the provider this token belongs to". */
  code: string;
  /** Request headers, names lower-cased. */
  headers: Map<string, string>;
  remoteAddress: string;
}

export type TunnelVerdict =
  | { ok: false; status: number; message: string; headers?: Record<string, string> }
  | { ok: true; kind: "data"; address: TunnelAddress }
  | {
      ok: true;
      kind: "control";
      headers: Record<string, string>;
      attach(channel: ControlChannel): ControlHandler;
    };

/** Decides on tunnel requests (lib/external/tunnels.ts). */
export interface TunnelGate {
  admit(request: TunnelRequest): TunnelVerdict;
}

/** A request that waits for the agent's next data connection gives up after this long (502). */
export const TUNNEL_WAIT_MS = 5000;

interface Waiting {
  link: UpstreamLink;
  since: number;
}

export class ReverseLinks {
  /** Every link of each tunnel key, whatever its state, so a tunnel that ends takes all of them. */
  readonly #links = new Map<string, Set<UpstreamLink>>();
  readonly #waiting = new Map<string, Waiting[]>();
  /** Data connections that arrived for a key no request waits on: idle, in the pool. */
  #release: (link: UpstreamLink) => void = () => {};
  #open: (link: UpstreamLink, socket: RawSocket<UpstreamLink>) => void = () => {};
  #fail: (link: UpstreamLink, error: Error) => void = () => {};

  /** Wires the pool and the upstream side in (they are made after this). */
  bind(hooks: {
    release: (link: UpstreamLink) => void;
    open: (link: UpstreamLink, socket: RawSocket<UpstreamLink>) => void;
    fail: (link: UpstreamLink, error: Error) => void;
  }): void {
    this.#release = hooks.release;
    this.#open = hooks.open;
    this.#fail = hooks.fail;
  }

  /** A link that gets its socket from the agent's next data connection; the agent is asked for one. */
  wait(address: TunnelAddress): UpstreamLink {
    const link = new UpstreamLink(address, address.key);
    this.#track(address.key, link);
    const queue = this.#waiting.get(address.key) ?? [];
    queue.push({ link, since: Date.now() });
    this.#waiting.set(address.key, queue);
    address.demand(1);
    return link;
  }

  /** An agent's data connection, just upgraded: it serves a waiting request, or waits in the pool. */
  arrive(key: string, conn: ClientConn, address: TunnelAddress): UpstreamLink {
    const socket = conn.socket as unknown as RawSocket<UpstreamLink>;
    const queue = this.#waiting.get(key);
    while (queue && queue.length > 0) {
      const { link } = queue.shift()!;
      if (link.state === "closed") {
        this.#links.get(key)?.delete(link);
        continue;
      }
      conn.reverse = link;
      this.#open(link, socket);
      return link;
    }
    const link = new UpstreamLink(address, key);
    this.#track(key, link);
    conn.reverse = link;
    link.socket = socket;
    link.state = "head";
    this.#release(link);
    return link;
  }

  /**
   * A data connection that finished an exchange, while requests wait for one: it serves the
   * oldest of them at once instead of going idle. True when it did.
   */
  handOver(link: UpstreamLink): boolean {
    const queue = this.#waiting.get(link.key);
    const socket = link.socket;
    if (!queue || !socket) return false;
    while (queue.length > 0) {
      const { link: waiter } = queue.shift()!;
      this.#links.get(link.key)?.delete(waiter);
      if (waiter.state === "closed") continue;
      // The socket changes hands: the finished link is done with, the waiter takes its place.
      this.#links.get(link.key)?.delete(link);
      link.socket = null;
      link.state = "closed";
      link.owner = null;
      this.#track(link.key, waiter);
      (socket.data as unknown as ClientConn).reverse = waiter;
      this.#open(waiter, socket);
      return true;
    }
    return false;
  }

  /** A tunnel ended: its connections are closed (requests on them get 502, or are cut mid-body). */
  drop(key: string, reason: string): void {
    const waiting = this.#waiting.get(key) ?? [];
    this.#waiting.delete(key);
    for (const { link } of waiting) this.#fail(link, new Error(reason));
    const links = this.#links.get(key);
    this.#links.delete(key);
    for (const link of links ?? []) link.socket?.terminate();
  }

  /** Requests that waited too long for a data connection get 502. */
  sweep(now: number): void {
    for (const [key, queue] of this.#waiting) {
      while (queue.length > 0 && now - queue[0]!.since > TUNNEL_WAIT_MS) {
        const { link } = queue.shift()!;
        this.#links.get(key)?.delete(link);
        if (link.state !== "closed")
          this.#fail(link, new Error(`no tunnel connection from the agent within ${TUNNEL_WAIT_MS} ms`));
      }
      if (queue.length === 0) this.#waiting.delete(key);
    }
  }

  /** How many data connections a tunnel has, and how many of them carry an exchange now. */
  count(key: string): { open: number; busy: number } {
    let open = 0;
    let busy = 0;
    for (const link of this.#links.get(key) ?? []) {
      if (!link.socket) continue;
      open++;
      if (link.owner) busy++;
    }
    return { open, busy };
  }

  /** A link closed: it is no longer one of its tunnel's. */
  forget(link: UpstreamLink): void {
    this.#links.get(link.key)?.delete(link);
  }

  /** Every tunnel's connections (the gateway is stopping). */
  dropAll(): void {
    for (const key of [...this.#links.keys(), ...this.#waiting.keys()])
      this.drop(key, "the gateway is stopping");
  }

  #track(key: string, link: UpstreamLink): void {
    let set = this.#links.get(key);
    if (!set) {
      set = new Set();
      this.#links.set(key, set);
    }
    set.add(link);
  }
}

/** Header fields of a raw request head (names lower-cased): the tunnel requests are few, so plain text parsing will do. */
export function headerMap(head: Buffer): Map<string, string> {
  const map = new Map<string, string>();
  const lines = head.toString("latin1").split("\r\n");
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    map.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return map;
}

/** `/_gateway/providers/<code>/tunnel` → `<code>`, else null. */
export function tunnelCode(target: string): string | null {
  const m = /^\/_gateway\/providers\/([a-z0-9_][a-z0-9-]*)\/tunnel(?:\?.*)?$/.exec(target);
  return m ? m[1]! : null;
}
