/**
 * The one raw-socket client of the tests: HTTP/1.1 over TCP (node:net), exact bytes out, raw bytes
 * in, no client-side normalization, so a test can send what fetch or curl never would. On top of
 * {@link WireClient}: {@link wireExchange} (one request on a fresh connection), {@link rawStatus}
 * (a GET with its target sent as is) and {@link acceptsConnections}.
 */
import { createConnection, type Socket } from "node:net";

/** One response as read off the wire. */
export interface WireResponse {
  status: number;
  reason: string;
  /** Header fields in order, names lower-cased. */
  headers: Array<[string, string]>;
  /** The head as received (up to and including the blank line). */
  head: string;
  /** The body bytes, chunked framing removed. */
  body: Buffer;
  /** The body bytes as received (chunked framing included). */
  rawBody: Buffer;
  /** The value of header `name` (first one), lower-cased name. */
  header(name: string): string | undefined;
  /** Every value of header `name`. */
  all(name: string): string[];
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

/**
 * A client connection that writes exactly the bytes it is given and parses responses itself, so
 * tests can send what a normalizing client (fetch, curl) never would.
 */
export class WireClient {
  #chunks: Buffer[] = [];
  #wake: (() => void) | null = null;
  closed = false;
  /** The socket error that ended the connection, if any (a reset shows up here). */
  error: Error | null = null;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#notify();
    });
    socket.on("error", (error) => {
      this.error = error;
    });
    socket.on("close", () => {
      this.closed = true;
      this.#notify();
    });
  }

  /**
   * Connects to the host and port of `url`. With `timeoutMs`, gives up (rejects) when the
   * connection is not established by then; without, the kernel's own connect timeout applies.
   */
  static connect(url: string, options: { timeoutMs?: number } = {}): Promise<WireClient> {
    const { hostname, port } = new URL(url);
    return new Promise((resolvePromise, reject) => {
      const socket = createConnection({ host: hostname, port: Number(port) });
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              socket.destroy();
              reject(new Error(`no connection to ${hostname}:${port} within ${options.timeoutMs} ms`));
            }, options.timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolvePromise(new WireClient(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Bytes received and not yet consumed. */
  get buffered(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** Drops the first `n` received bytes. */
  consume(n: number): void {
    const all = this.buffered;
    this.#chunks = n >= all.length ? [] : [all.subarray(n)];
  }

  /** Writes `data` (a string is sent as latin1: one byte per char) and waits until it is flushed. */
  write(data: string | Buffer): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    return new Promise((resolvePromise, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolvePromise()));
    });
  }

  /** Resolves when bytes arrive or the connection closes, or after `ms` at the most. */
  #nextEvent(ms: number): Promise<void> {
    return new Promise<void>((resolvePromise) => {
      const timer = setTimeout(resolvePromise, Math.min(ms, 250));
      this.#wake = () => {
        clearTimeout(timer);
        resolvePromise();
      };
    });
  }

  /** Waits until `ready` holds for the received bytes, or the connection closed, or the time ran out. */
  async waitUntil(what: string, ready: (buffered: Buffer) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready(this.buffered)) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; got ${this.#preview()}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.#preview()}`);
      await this.#nextEvent(left);
    }
  }

  /**
   * Hands the next `length` received bytes to `sink` as they arrive and keeps none of them: for a
   * body too large to buffer. Throws if the connection closes first or the time runs out.
   */
  async stream(length: number, sink: (chunk: Buffer) => void, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let left = length;
    for (;;) {
      while (left > 0 && this.#chunks.length > 0) {
        const chunk = this.#chunks.shift()!;
        const taken = chunk.subarray(0, left);
        sink(taken);
        left -= taken.length;
        if (taken.length < chunk.length) this.#chunks.unshift(chunk.subarray(taken.length));
      }
      if (left <= 0) return;
      if (this.closed) throw new Error(`connection closed after ${length - left} of ${length} bytes`);
      const wait = deadline - Date.now();
      if (wait <= 0)
        throw new Error(`timed out after ${timeoutMs} ms with ${length - left} of ${length} bytes`);
      await this.#nextEvent(wait);
    }
  }

  #preview(): string {
    const text = this.buffered.toString("latin1");
    return JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…(${text.length} bytes)` : text);
  }

  /**
   * Reads one response (an interim 1xx one included). `method` is the request's, so a HEAD
   * response is known to have no body. Throws if the connection closes before it is complete.
   */
  async readResponse(options: { method?: string; timeoutMs?: number } = {}): Promise<WireResponse> {
    let parsed: { response: WireResponse; length: number } | null = null;
    await this.waitUntil(
      "a complete response",
      (buffered) => {
        parsed = parseWireResponse(buffered, options.method ?? "GET", this.closed);
        return parsed !== null;
      },
      options.timeoutMs,
    ).catch((error) => {
      // A body delimited by the connection's end is complete only once it closed.
      parsed = this.closed ? parseWireResponse(this.buffered, options.method ?? "GET", true) : null;
      if (!parsed) throw error;
    });
    const { response, length } = parsed!;
    this.consume(length);
    return response;
  }

  /** Resolves true once the connection is closed (by the peer), false if still open after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await Bun.sleep(20);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Parses one response at the start of `buf`; null while incomplete. */
export function parseWireResponse(
  buf: Buffer,
  method: string,
  closed: boolean,
): { response: WireResponse; length: number } | null {
  const headEnd = buf.indexOf("\r\n\r\n", 0, "latin1");
  if (headEnd === -1) return null;
  const head = buf.toString("latin1", 0, headEnd + 4);
  const lines = head.slice(0, -4).split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
  if (!match) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
  const status = Number(match[1]);
  const headers: Array<[string, string]> = lines.slice(1).map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  const all = (name: string) => headers.filter(([n]) => n === name).map(([, v]) => v);
  const start = headEnd + 4;
  let end: number;
  let body: Buffer;
  const chunked = /chunked/i.test(all("transfer-encoding").join(","));
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
    end = start;
    body = Buffer.alloc(0);
  } else if (chunked) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", at, "latin1");
      if (lineEnd === -1) return null;
      const size = Number.parseInt(buf.toString("latin1", at, lineEnd).split(";")[0]!, 16);
      at = lineEnd + 2;
      if (size === 0) {
        let trailerEnd = -1;
        for (;;) {
          const next = buf.indexOf("\r\n", at, "latin1");
          if (next === -1) return null;
          if (next === at) {
            trailerEnd = next + 2;
            break;
          }
          at = next + 2;
        }
        end = trailerEnd;
        break;
      }
      if (buf.length < at + size + 2) return null;
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (all("content-length").length > 0) {
    const length = Number(all("content-length")[0]);
    if (buf.length < start + length) return null;
    end = start + length;
    body = buf.subarray(start, end);
  } else {
    if (!closed) return null;
    end = buf.length;
    body = buf.subarray(start);
  }
  const rawBody = Buffer.from(buf.subarray(start, end));
  body = Buffer.from(body);
  const response: WireResponse = {
    status,
    reason: match[2] ?? "",
    headers,
    head,
    body,
    rawBody,
    header: (name) => all(name.toLowerCase())[0],
    all: (name) => all(name.toLowerCase()),
    json: <T>() => JSON.parse(body.toString("utf8")) as T,
  };
  return { response, length: end };
}

/**
 * Writes `requests` on a connected `socket` (plain or TLS), reads nothing for `pauseMs`, so that
 * what the server answers piles up past the kernel's buffers, then reads on until the server
 * ends the connection (the last request should ask it to). Returns every response in order;
 * throws if bytes are left that are no complete response.
 */
export async function readAfterPause(
  socket: Socket,
  requests: string,
  pauseMs: number,
): Promise<WireResponse[]> {
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolvePromise, reject) => {
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", resolvePromise);
    socket.on("error", reject);
  });
  socket.pause();
  socket.write(requests);
  await Bun.sleep(pauseMs);
  socket.resume();
  await ended;
  let rest = Buffer.concat(chunks);
  const responses: WireResponse[] = [];
  while (rest.length > 0) {
    const parsed = parseWireResponse(rest, "GET", true);
    if (!parsed)
      throw new Error(`${rest.length} bytes after response ${responses.length} are no whole response`);
    responses.push(parsed.response);
    rest = rest.subarray(parsed.length);
  }
  return responses;
}

/**
 * Sends `data` on a fresh connection and reads one response (then closes). For a request that is
 * refused, the connection's end is awaited too, so `closedAfter` says whether the gateway closed it.
 */
export async function wireExchange(
  url: string,
  data: string | Buffer,
  options: { method?: string; timeoutMs?: number } = {},
): Promise<WireResponse & { closedAfter: boolean; client: WireClient }> {
  const client = await WireClient.connect(url);
  try {
    await client.write(data);
    let response = await client.readResponse(options);
    while (response.status < 200 && response.status !== 101) response = await client.readResponse(options);
    const closedAfter = await client.waitClosed(response.header("connection") === "close" ? 5_000 : 0);
    return { ...response, closedAfter, client };
  } finally {
    client.destroy();
  }
}

/**
 * Sends `GET target HTTP/1.1` with the target exactly as given (no client-side normalization) on a
 * fresh connection; returns the status and the whole response as text (head and body as received).
 */
export async function rawStatus(url: string, target: string): Promise<{ status: number; response: string }> {
  const { host } = new URL(url);
  const answer = await wireExchange(
    url,
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  );
  return { status: answer.status, response: answer.head + answer.rawBody.toString("utf8") };
}

/** Whether a new TCP connection to the host and port of `url` is accepted within 2 s. */
export async function acceptsConnections(url: string): Promise<boolean> {
  try {
    (await WireClient.connect(url, { timeoutMs: 2000 })).destroy();
    return true;
  } catch {
    return false;
  }
}
