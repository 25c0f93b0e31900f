/**
 * The byte-level front: reads each request head off the client socket, routes it, rewrites the
 * head (namespace stripped, hop-by-hop dropped, forwarding headers set) and relays bodies and
 * responses as bytes over pooled keep-alive upstream connections. No Request or Response objects
 * on this path: that is what lets it keep pace with nginx (see PITFALLS.md, bench/README.md).
 * Requests outside every namespace go, the same way, to the gateway's own Hono app on a unix socket.
 *
 * Its parts, one job each: ./connections.ts (per-connection state), ./client-side.ts and
 * ./upstream-side.ts (the two state machines), ./pool.ts (keep-alive upstream connections),
 * ./heads.ts (heads as bytes), ./bulk.ts (garbage collection pacing for bulk transfers); the
 * header policy is ../headers.ts, the gateway's own answers ../answers.ts.
 */
import type { RawAddress, RawListener, RawSockets, TlsFiles } from "../../runtime/index.ts";
import type { AccessEntry } from "../access-log.ts";
import type { NamespaceTable } from "../table.ts";
import { BulkCollector } from "./bulk.ts";
import { ClientSide, SWEEP_MS } from "./client-side.ts";
import type { ClientConn } from "./connections.ts";
import { UpstreamPool } from "./pool.ts";
import type { TunnelGate } from "./reverse.ts";
import { UpstreamSide } from "./upstream-side.ts";

export interface FrontOptions {
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
  /** Count requests per provider for `GET /metrics`. @default true */
  metrics?: boolean;
  /** Called with every proxied request once answered (`--access-log`); it must not block. */
  accessLog?: (entry: AccessEntry) => void;
  /** Speak HTTPS with this certificate. */
  tls?: TlsFiles;
  /** Admits dial-out agents' tunnel connections (`GET /_gateway/providers/:code/tunnel`). */
  tunnels?: TunnelGate;
  /**
   * With it, `GET` (and `HEAD`) `/healthz` and `/readyz` are answered here, from this, without
   * a hop to the gateway's app: health checks neither wait for its modules nor load them.
   */
  readiness?: () => { ready: boolean; waiting: Array<{ code: string; status: string }> };
}

export interface Front extends RawListener {
  /** Stops accepting; resolves when in-flight exchanges are done (idle connections are closed, held requests refused). */
  drain(): Promise<void>;
  /** A provider's status changed: the requests held for it go on, wait on, or are refused. */
  providerChanged(code: string): void;
  /** Client connections open now. */
  openConnections(): number;
  /**
   * Takes a new certificate: new connections get it, open ones keep theirs. Throws (the old one
   * stays) when it is not usable. Only for a front started with `tls`.
   */
  reloadTls(tls: TlsFiles): void;
  /** Closes every connection now. */
  closeAll(): void;
  /** Ends a tunnel's data connections: their requests get 502, or are cut mid-body. */
  dropTunnel(key: string, reason: string): void;
  /** A tunnel's data connections: open, and carrying an exchange now. */
  tunnelConnections(key: string): { open: number; busy: number };
}

/** Starts the byte-level front on `hostname:port`. */
export function startFront(sockets: RawSockets, options: FrontOptions): Front {
  const bulk = new BulkCollector(sockets);
  const pool = new UpstreamPool(sockets);
  const client = new ClientSide(options, sockets, pool, bulk);
  const upstream = new UpstreamSide(client, pool, bulk);
  client.upstream = upstream;
  pool.handlers = upstream.handlers;
  pool.reverse.bind({
    release: (link) => pool.release(link),
    open: (link, socket) => upstream.onOpen(link, socket),
    fail: (link, error) => upstream.onConnectError(link, error),
  });
  const listen = (port: number, tls: TlsFiles | undefined, replacing = false) =>
    sockets.listen<ClientConn>({
      hostname: options.hostname,
      port,
      handlers: client.handlers,
      data: () => undefined as unknown as ClientConn,
      tls,
      replacing,
    });
  let listener = listen(options.port, options.tls);
  const sweeper = setInterval(() => client.sweepTimeouts(Date.now()), SWEEP_MS);
  (sweeper as { unref?: () => void }).unref?.();
  return {
    hostname: listener.hostname,
    port: listener.port,
    stop() {
      listener.stop();
      clearInterval(sweeper);
    },
    drain() {
      listener.stop();
      client.draining = true;
      pool.draining = true;
      client.refuseHeld();
      client.closeIdleClients();
      pool.closeIdle();
      return new Promise<void>((resolve) => {
        client.onIdle = () => {
          clearInterval(sweeper);
          resolve();
        };
        client.checkIdle();
      });
    },
    providerChanged(code) {
      client.providerChanged(code);
    },
    openConnections: () => client.clients.size,
    reloadTls(tls) {
      if (!options.tls) throw new Error("The listener was started without TLS");
      // A second listener on the same port with the new certificate, then the old one closed.
      const next = listen(listener.port, tls, true);
      const previous = listener;
      listener = next;
      previous.stop();
    },
    closeAll() {
      clearInterval(sweeper);
      for (const conn of client.clients) client.cut(conn);
      pool.closeIdle();
      pool.reverse.dropAll();
    },
    dropTunnel(key, reason) {
      pool.reverse.drop(key, reason);
    },
    tunnelConnections: (key) => pool.reverse.count(key),
  };
}
