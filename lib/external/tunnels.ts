/**
 * Dial-out tunnels, the gateway's half (the front's is lib/proxy/front/reverse.ts; the agent's,
 * lib/agent/): who may open one, one session per provider, and the control connection.
 *
 * An agent opens a **control** connection, `GET /_gateway/providers/<code or _>/tunnel` with
 * `Upgrade: gateway-tunnel` and its provider token (`_`: the provider the token belongs to), and
 * is answered 101 with its provider's code and a session id. Then it opens **data** connections
 * the same way with `X-Gateway-Tunnel-Session: <id>`; each becomes a pooled upstream connection.
 * The control connection carries newline-delimited JSON both ways:
 *
 *   gateway → agent  {"type":"ping","id":n}  {"type":"open","count":k}  {"type":"token","token":…}
 *                    {"type":"drained"}  {"type":"replaced"}
 *   agent → gateway  {"type":"pong","id":n}  {"type":"ping","id":n}  {"type":"draining"}
 *
 * One session per provider: a second control connection is refused (409) while the first answers
 * pings, and replaces it (an event, in the provider's log) once it has missed them. Bounded: a
 * control line of at most 64 KiB, at most 100 messages a second from the agent, at most
 * MAX_DATA_CONNECTIONS data connections per session; an agent past any bound, or sending what the
 * protocol does not have, is disconnected.
 */
import type { Logger } from "../logger.ts";
import type {
  ControlChannel,
  ControlHandler,
  TunnelAddress,
  TunnelGate,
  TunnelRequest,
  TunnelVerdict,
} from "../proxy/front/reverse.ts";
import { nodeCrypto } from "../runtime/packages.ts";
import { ExternalError, type ExternalProviders } from "./externals.ts";
import type { ExternalProvider } from "./provider.ts";

export const PING_INTERVAL_MS = 5000;
/** Pings missed in a row before a session counts as dead. */
export const MISSED_PINGS = 3;
export const MAX_DATA_CONNECTIONS = 256;
export const MAX_CONTROL_LINE = 64 * 1024;
export const MAX_MESSAGES_PER_SECOND = 100;
/** How long a stopping agent's requests in flight may take before its tunnel is closed anyway. */
export const DRAIN_TIMEOUT_MS = 30_000;

/** What the tunnels need of the front: to end a session's data connections, and to count the busy ones. */
export interface TunnelFront {
  dropTunnel(key: string, reason: string): void;
  tunnelConnections(key: string): { open: number; busy: number };
}

interface Session {
  id: string;
  code: string;
  keeper: ExternalProvider;
  address: TunnelAddress;
  channel: ControlChannel;
  lastHeard: number;
  nextPing: number;
  /** Messages from the agent in the current second, for the flood bound. */
  messages: number;
  second: number;
  draining: boolean;
  drainSince: number;
  closed: boolean;
}

export class Tunnels implements TunnelGate {
  readonly #sessions = new Map<string, Session>();
  #front: TunnelFront | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly externals: ExternalProviders,
    readonly logger: Logger,
    /** The keeper of `code` now: a rescan may replace it, and a session bound to the old one is over. */
    readonly keeperOf: (code: string) => ExternalProvider | undefined,
  ) {
    externals.onRotate = (code, token) => this.#send(this.#sessions.get(code), { type: "token", token });
  }

  /** The front that carries the data connections (set once it listens). */
  attach(front: TunnelFront): void {
    this.#front = front;
    this.#timer ??= setInterval(() => this.#tick(Date.now()), 250);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Ends every session (the gateway is stopping). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const session of [...this.#sessions.values()]) this.#end(session, "the gateway is stopping");
  }

  /** The session of `code`, for tests and the admin view. */
  session(code: string): { id: string; dataConnections: number } | undefined {
    const session = this.#sessions.get(code);
    return (
      session && {
        id: session.id,
        dataConnections: this.#front?.tunnelConnections(session.address.key).open ?? 0,
      }
    );
  }

  admit(request: TunnelRequest): TunnelVerdict {
    const authorization = request.headers.get("authorization");
    let keeper: ExternalProvider;
    try {
      keeper =
        request.code === "_"
          ? this.externals.authenticateAny(authorization, request.remoteAddress)
          : this.externals.authenticate(request.code, authorization, request.remoteAddress);
    } catch (error) {
      if (error instanceof ExternalError)
        return { ok: false, status: error.status, message: error.message, headers: error.headers };
      throw error;
    }
    const code = keeper.code;
    if (request.headers.get("upgrade")?.toLowerCase() !== "gateway-tunnel") {
      return {
        ok: false,
        status: 400,
        message: `A tunnel needs Upgrade: gateway-tunnel (got ${JSON.stringify(request.headers.get("upgrade") ?? "")}); run gateway agent`,
      };
    }
    if (keeper.status === "disabled" || keeper.status === "stopped") {
      return {
        ok: false,
        status: 409,
        message: `Provider "${code}" is ${keeper.status}: no tunnel is taken`,
      };
    }
    const sessionId = request.headers.get("x-gateway-tunnel-session");
    if (sessionId !== undefined) return this.#admitData(code, sessionId);
    return this.#admitControl(keeper, request);
  }

  #admitData(code: string, sessionId: string): TunnelVerdict {
    const session = this.#sessions.get(code);
    if (!session || session.id !== sessionId || session.closed) {
      return {
        ok: false,
        status: 409,
        message: `No tunnel session ${JSON.stringify(sessionId)} for provider "${code}": open a control connection first`,
      };
    }
    if ((this.#front?.tunnelConnections(session.address.key).open ?? 0) >= MAX_DATA_CONNECTIONS) {
      // Refused, the session kept: the agent's count and the gateway's differ for a moment.
      return {
        ok: false,
        status: 429,
        message: `At most ${MAX_DATA_CONNECTIONS} data connections per tunnel`,
      };
    }
    return { ok: true, kind: "data", address: session.address };
  }

  #admitControl(keeper: ExternalProvider, request: TunnelRequest): TunnelVerdict {
    const code = keeper.code;
    const now = Date.now();
    const current = this.#sessions.get(code);
    if (current && !current.closed && current.keeper !== keeper) {
      // The provider was made again (a rescan): the old session serves nothing any more.
      this.#end(current, "its provider was reloaded");
    } else if (current && !current.closed) {
      if (now - current.lastHeard < 2 * PING_INTERVAL_MS) {
        return {
          ok: false,
          status: 409,
          message: `Provider "${code}" has a tunnel up from ${current.channel.remoteAddress || "?"} that answers its pings; a second agent is refused (it takes over once the first stops answering)`,
        };
      }
      const why = `replaced by an agent from ${request.remoteAddress || "?"} after ${Math.round((now - current.lastHeard) / 1000)} s without an answer to its pings`;
      this.#send(current, { type: "replaced" });
      this.#end(current, why);
      keeper.note(`tunnel ${current.id} ${why}`);
      this.logger.warn(`Provider "${code}": tunnel ${why}`, { provider: code });
    }
    const id = nodeCrypto().randomBytes(12).toString("base64url");
    const upstreamHost = request.headers.get("x-gateway-upstream-host") ?? code;
    const upstreamOrigin = request.headers.get("x-gateway-upstream-origin") ?? `http://${upstreamHost}`;
    const session: Session = {
      id,
      code,
      keeper,
      address: {
        tunnel: id,
        key: `tunnel:${code}:${id}`,
        host: upstreamHost,
        origin: upstreamOrigin,
        basePath: "",
        closed: false,
        // One more connection per request that waits for one.
        demand: () => this.#send(session, { type: "open", count: 1 }),
      },
      channel: null as unknown as ControlChannel,
      lastHeard: now,
      nextPing: now + PING_INTERVAL_MS,
      messages: 0,
      second: Math.floor(now / 1000),
      draining: false,
      drainSince: 0,
      closed: false,
    };
    return {
      ok: true,
      kind: "control",
      headers: {
        "X-Gateway-Provider": code,
        "X-Gateway-Tunnel-Session": id,
        "X-Gateway-Tunnel-Ping": String(PING_INTERVAL_MS),
        "X-Gateway-Tunnel-Max-Connections": String(MAX_DATA_CONNECTIONS),
      },
      attach: (channel) => {
        session.channel = channel;
        this.#sessions.set(code, session);
        keeper.tunnelUp(session.address, channel.remoteAddress);
        this.logger.info(`Provider "${code}": tunnel ${id} up from ${channel.remoteAddress || "?"}`, {
          provider: code,
        });
        return this.#controlHandler(session);
      },
    };
  }

  #controlHandler(session: Session): ControlHandler {
    let pending = "";
    return {
      data: (chunk) => {
        if (session.closed) return;
        pending += chunk.toString("utf8");
        if (pending.length > MAX_CONTROL_LINE && !pending.slice(0, MAX_CONTROL_LINE).includes("\n")) {
          this.#end(session, `the agent sent a control line over ${MAX_CONTROL_LINE} bytes`);
          return;
        }
        for (let nl = pending.indexOf("\n"); nl !== -1 && !session.closed; nl = pending.indexOf("\n")) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line) this.#message(session, line);
        }
      },
      closed: () => this.#end(session, "its control connection closed"),
    };
  }

  #message(session: Session, line: string): void {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== session.second) {
      session.second = second;
      session.messages = 0;
    }
    if (++session.messages > MAX_MESSAGES_PER_SECOND) {
      this.#end(session, `the agent sent more than ${MAX_MESSAGES_PER_SECOND} control messages in a second`);
      return;
    }
    let message: { type?: unknown; id?: unknown };
    try {
      message = JSON.parse(line);
    } catch {
      this.#end(session, "the agent sent a control line that is not JSON");
      return;
    }
    session.lastHeard = now;
    session.keeper.tunnelAlive();
    switch (message?.type) {
      case "pong":
        return;
      case "ping":
        this.#send(session, { type: "pong", id: message.id });
        return;
      case "draining":
        if (!session.draining) {
          session.draining = true;
          session.drainSince = now;
          session.keeper.tunnelDraining();
          session.keeper.note(`tunnel ${session.id}: the agent is stopping; requests in flight finish`);
        }
        return;
      default:
        this.#end(
          session,
          `the agent sent a control message the protocol does not have: ${line.slice(0, 80)}`,
        );
    }
  }

  #send(session: Session | undefined, message: Record<string, unknown>): void {
    if (!session || session.closed) return;
    session.channel.send(`${JSON.stringify(message)}\n`);
  }

  #end(session: Session, reason: string): void {
    if (session.closed) return;
    session.closed = true;
    session.address.closed = true;
    if (this.#sessions.get(session.code) === session) this.#sessions.delete(session.code);
    session.channel?.close();
    this.#front?.dropTunnel(
      session.address.key,
      `the tunnel of provider "${session.code}" closed: ${reason}`,
    );
    session.keeper.tunnelDown(session.address, reason);
    session.keeper.note(`tunnel ${session.id} down: ${reason}`);
    this.logger.info(`Provider "${session.code}": tunnel ${session.id} down: ${reason}`, {
      provider: session.code,
    });
  }

  #tick(now: number): void {
    for (const session of [...this.#sessions.values()]) {
      if (this.keeperOf(session.code) !== session.keeper) {
        this.#end(session, "its provider was reloaded or removed");
        continue;
      }
      if (now - session.lastHeard > MISSED_PINGS * PING_INTERVAL_MS) {
        this.#end(session, `no answer to ${MISSED_PINGS} pings in a row`);
        continue;
      }
      if (now >= session.nextPing) {
        session.nextPing = now + PING_INTERVAL_MS;
        this.#send(session, { type: "ping", id: now });
      }
      if (session.draining) {
        const busy = this.#front?.tunnelConnections(session.address.key).busy ?? 0;
        if (busy === 0 || now - session.drainSince > DRAIN_TIMEOUT_MS) {
          this.#send(session, { type: "drained" });
          this.#end(
            session,
            busy === 0 ? "its agent stopped" : `its agent stopped with ${busy} requests still in flight`,
          );
        }
      }
    }
  }
}
