/**
 * Keep-alive connections to upstreams, pooled per address: a request takes an idle one when
 * there is one, else a new one is opened; a finished exchange gives it back (at most
 * MAX_IDLE_PER_UPSTREAM are kept per upstream).
 */
import type { RawAddress, RawHandlers, RawSockets } from "../../runtime/index.ts";
import { resumeLink, UpstreamLink } from "./connections.ts";
import { ReverseLinks, type TunnelAddress } from "./reverse.ts";

const MAX_IDLE_PER_UPSTREAM = 128;

export class UpstreamPool {
  readonly #idle = new Map<string, UpstreamLink[]>();
  /** Once draining, nothing goes back to the pool. */
  draining = false;
  /** Dial-out agents' connections, pooled here like the others (./reverse.ts). */
  readonly reverse = new ReverseLinks();

  constructor(
    readonly sockets: RawSockets,
    /** The upstream side's socket handlers (set once both sides exist). */
    public handlers: RawHandlers<UpstreamLink> | null = null,
  ) {}

  /** An idle connection to `address`, marked reused, or a new one (its socket opens later). */
  acquire(address: RawAddress | TunnelAddress): UpstreamLink {
    const key =
      address.key ??
      ("unix" in address
        ? `unix:${address.unix}`
        : `${(address as { hostname: string }).hostname}:${(address as { port: number }).port}`);
    const idle = this.#idle.get(key);
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

  /** A new connection (never pooled yet). */
  connect(address: RawAddress | TunnelAddress, key: string): UpstreamLink {
    // A tunnelled provider is not connected to: its agent's next connection comes to the gateway.
    if ("tunnel" in address) return this.reverse.wait(address);
    const link = new UpstreamLink(address, key);
    this.sockets.connect(address, this.handlers!, link);
    return link;
  }

  /** Gives a connection back after a complete exchange; closes it when the pool is full or draining. */
  release(link: UpstreamLink): void {
    resumeLink(link);
    if ("tunnel" in link.address && this.reverse.handOver(link)) return;
    link.state = "idle";
    link.partialHead = null;
    link.response = null;
    let list = this.#idle.get(link.key);
    if (!list) {
      list = [];
      this.#idle.set(link.key, list);
    }
    if (list.length >= MAX_IDLE_PER_UPSTREAM || this.draining) {
      this.destroy(link);
      return;
    }
    list.push(link);
  }

  /** Closes a connection (gracefully if it was open) and detaches it from its exchange. */
  destroy(link: UpstreamLink): void {
    const wasOpen = link.state !== "closed";
    link.state = "closed";
    link.owner = null;
    link.unsent = [];
    if (link.socket && wasOpen) link.socket.end();
    else link.socket?.terminate();
  }

  /** A connection that closed is no longer idle. */
  forget(link: UpstreamLink): void {
    if ("tunnel" in link.address) this.reverse.forget(link);
    const list = this.#idle.get(link.key);
    if (!list) return;
    const at = list.indexOf(link);
    if (at !== -1) list.splice(at, 1);
    // Keys come and go (a tunnel's key is its session): no empty list is kept.
    if (list.length === 0) this.#idle.delete(link.key);
  }

  /** Closes every idle connection (draining, or closing everything). */
  closeIdle(): void {
    for (const list of this.#idle.values()) for (const link of list.splice(0)) this.destroy(link);
  }
}
