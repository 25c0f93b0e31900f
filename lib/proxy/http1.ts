/**
 * Just enough HTTP/1.1 (RFC 9112) to relay messages as bytes: parse a head, decide the body's
 * framing, and find where a chunked body ends. Strict where laxness enables request smuggling.
 * Which headers are dropped is ./headers.ts's to say; the scanners here only read it.
 */
import {
  asksForTrailers,
  namesByLength,
  persists,
  persistsWith,
  REQUEST_DROPPED,
  RESPONSE_DROPPED,
} from "./headers.ts";

/** A header field as received: lower-cased name, value with surrounding whitespace trimmed. */
export type HeaderField = [name: string, value: string];

export class HttpParseError extends Error {
  override name = "HttpParseError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  headers: HeaderField[];
  /** Declared body length; `null` when there is none or it is chunked. */
  contentLength: number | null;
  chunked: boolean;
  /** Whether the client wants the connection kept after this exchange. */
  keepAlive: boolean;
  /** The `Upgrade` header when the client asked to switch protocols (`Connection: upgrade`). */
  upgrade: string | null;
  /** Lower-cased tokens of the `Connection` header. */
  connectionTokens: string[];
  host: string | null;
  /** True when the head is plain ASCII (then it can be written as a string, byte for byte). */
  ascii: boolean;
  /** The client's `X-Request-Id`, if any. */
  requestId?: string;
  /** True when the client sent an `Idempotency-Key` (or `X-Idempotency-Key`): safe to retry. */
  idempotencyKey: boolean;
  /**
   * Set by {@link scanRequestHead} on its fast path: the header lines to forward unchanged (hop-by-hop,
   * framing, `Host`, `X-Request-Id` and forwarding headers taken out, each ending in CRLF), and
   * whether `TE: trailers` was asked for. `headers` is then empty.
   */
  passThrough?: { lines: string; wantsTrailers: boolean };
}

export interface ResponseHead {
  /**
   * Set by {@link scanResponseHeadBytes}: the head stays in `buf` and is sent on as byte ranges
   * (no strings made). `statusFrom` is where the status code begins (after `HTTP/1.x `), the status
   * line runs to `statusTo` (its CRLF included); `ranges` holds [start, end) pairs of header lines
   * to send on unchanged (each run ending in CRLF; hop-by-hop, `X-Request-Id` and `Location` taken
   * out); `location` is the `Location` value. `headers` is then empty and `reason` is "" (the
   * reason phrase travels in the status line's bytes).
   */
  raw?: { buf: Buffer; statusFrom: number; statusTo: number; ranges: number[]; location: string | null };
  minor: 0 | 1;
  status: number;
  reason: string;
  headers: HeaderField[];
  contentLength: number | null;
  chunked: boolean;
  keepAlive: boolean;
  connectionTokens: string[];
  ascii: boolean;
}

const NON_ASCII = /[^\x00-\x7f]/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/** The blank line ending a head, as bytes: a Buffer needle halves indexOf's cost (100 ns to 50). */
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");

/** Index just past the blank line ending a head in `buf` from `start`, or -1 if not there yet. */
export function findHeadEnd(buf: Buffer, start = 0): number {
  const at = buf.indexOf(HEAD_END, start);
  return at === -1 ? -1 : at + 4;
}

/** Token characters (RFC 9110 §5.6.2), as a lookup table: one array read per character. */
const TOKEN_CHAR = new Uint8Array(128);
for (const char of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TOKEN_CHAR[char.charCodeAt(0)] = 1;
}
/** A NUL anywhere, or a CR or LF that is not part of a CRLF: never valid in a head. */
const BAD_LINE_BREAK = /\0|\r(?!\n)|(?<!\r)\n/;

/** Header names recur on every message: remember their lower-case form (bounded). */
const lowerNames = new Map<string, string>();
function lowerName(name: string): string {
  let lower = lowerNames.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (lowerNames.size < 512) lowerNames.set(name, lower);
  }
  return lower;
}

/**
 * Reads the header fields of `text` (a head without its final blank line) after the start line,
 * which ends at `from`. One pass with indexOf: this runs twice per proxied request.
 */
function parseFields(text: string, from: number): HeaderField[] {
  if (BAD_LINE_BREAK.test(text)) throw new HttpParseError(400, "Bare CR, LF or NUL in the message head");
  const headers: HeaderField[] = [];
  let pos = from;
  const length = text.length;
  while (pos < length) {
    let eol = text.indexOf("\r\n", pos);
    if (eol === -1) eol = length;
    const colon = text.indexOf(":", pos);
    // No obs-fold (a line starting with whitespace), no space before the colon (RFC 9112 §5.1-2).
    if (colon <= pos || colon > eol)
      throw new HttpParseError(400, `Malformed header line: ${text.slice(pos, Math.min(eol, pos + 80))}`);
    let upper = false;
    for (let i = pos; i < colon; i++) {
      const code = text.charCodeAt(i);
      if (code > 127 || TOKEN_CHAR[code] === 0) {
        throw new HttpParseError(400, `Invalid header name: ${text.slice(pos, Math.min(colon, pos + 80))}`);
      }
      if (code >= 65 && code <= 90) upper = true;
    }
    let valueStart = colon + 1;
    let valueEnd = eol;
    while (valueStart < valueEnd && (text.charCodeAt(valueStart) === 32 || text.charCodeAt(valueStart) === 9))
      valueStart++;
    while (
      valueEnd > valueStart &&
      (text.charCodeAt(valueEnd - 1) === 32 || text.charCodeAt(valueEnd - 1) === 9)
    )
      valueEnd--;
    const name = text.slice(pos, colon);
    headers.push([upper ? lowerName(name) : name, text.slice(valueStart, valueEnd)]);
    pos = eol + 2;
  }
  return headers;
}

interface Framing {
  contentLength: number | null;
  chunked: boolean;
  connectionTokens: string[];
}

function framing(headers: HeaderField[], isRequest: boolean): Framing {
  let contentLength: number | null = null;
  let transferEncoding: string | null = null;
  const connectionTokens: string[] = [];
  for (const [name, value] of headers) {
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value))
        throw new HttpParseError(400, `Invalid Content-Length: ${value.slice(0, 40)}`);
      const length = Number(value);
      // Several Content-Length fields must agree, or the message has two lengths (RFC 9112 §6.3-5).
      if (contentLength !== null && contentLength !== length) {
        throw new HttpParseError(400, "Conflicting Content-Length values");
      }
      contentLength = length;
    } else if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding},${value}`;
    } else if (name === "connection") {
      for (const token of value.split(",")) {
        const t = token.trim().toLowerCase();
        if (t) connectionTokens.push(t);
      }
    }
  }
  let chunked = false;
  if (transferEncoding !== null) {
    // Both headers is the classic smuggling vector: refuse rather than pick one (RFC 9112 §6.1-15).
    if (isRequest && contentLength !== null) {
      throw new HttpParseError(400, "Transfer-Encoding together with Content-Length is refused");
    }
    const codings = transferEncoding
      .toLowerCase()
      .split(",")
      .map((c) => c.trim())
      .filter(Boolean);
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new HttpParseError(
        isRequest ? 501 : 502,
        `Unsupported Transfer-Encoding: ${transferEncoding.slice(0, 60)}`,
      );
    }
    chunked = true;
    contentLength = null;
  }
  return { contentLength, chunked, connectionTokens };
}

/**
 * A Host value: a registered name or IPv4 address, or a bracketed IPv6 literal, then an optional
 * port (RFC 9110 §7.2, RFC 3986 §3.2.2). Anything else is a 400 (RFC 9112 §3.2): a `/`, `?`, `#`
 * or `@` in it could make a server that builds its URL from Host route by other than the
 * request-target (Deno.serve does, behind the front).
 */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

/** Whether `host` is a Host value ({@link HOST_VALUE}): the fetch proxy's check, the same as the front's. */
export function isHostValue(host: string): boolean {
  return HOST_VALUE.test(host);
}

/** Parses a request head (`buf[0, end)`, `end` from {@link findHeadEnd}). Throws {@link HttpParseError}. */
export function parseRequestHead(buf: Buffer, end: number): RequestHead {
  const text = buf.toString("latin1", 0, end - 4);
  let lineEnd = text.indexOf("\r\n");
  if (lineEnd === -1) lineEnd = text.length;
  const match = REQUEST_LINE.exec(text.slice(0, lineEnd));
  if (!match)
    throw new HttpParseError(400, `Malformed request line: ${text.slice(0, Math.min(lineEnd, 80))}`);
  const minor = match[3] === "1" ? 1 : 0;
  const headers = parseFields(text, lineEnd + 2);
  const frame = framing(headers, true);
  if (frame.chunked && minor === 0)
    throw new HttpParseError(400, "Transfer-Encoding is not allowed in HTTP/1.0");
  let host: string | null = null;
  let upgrade: string | null = null;
  for (const [name, value] of headers) {
    if (name === "host") {
      if (host !== null) throw new HttpParseError(400, "More than one Host header");
      host = value;
    } else if (name === "upgrade") upgrade = value;
  }
  if (minor === 1 && host === null) throw new HttpParseError(400, "HTTP/1.1 request without Host header");
  if (host !== null && !HOST_VALUE.test(host))
    throw new HttpParseError(400, `Host header is not a host[:port]: ${JSON.stringify(host.slice(0, 80))}`);
  const keepAlive = persistsWith(minor, frame.connectionTokens);
  return {
    method: match[1]!,
    target: match[2]!,
    minor,
    headers,
    contentLength: frame.contentLength,
    chunked: frame.chunked,
    keepAlive,
    upgrade: upgrade !== null && frame.connectionTokens.includes("upgrade") ? upgrade : null,
    connectionTokens: frame.connectionTokens,
    host,
    ascii: !NON_ASCII.test(text),
    requestId: headers.find(([name]) => name === "x-request-id")?.[1],
    idempotencyKey: headers.some(([name]) => name === "idempotency-key" || name === "x-idempotency-key"),
  };
}

/** {@link REQUEST_DROPPED} and {@link RESPONSE_DROPPED} by name length, for the scanners. */
const REQUEST_DROPPED_BY_LENGTH = namesByLength(REQUEST_DROPPED);
const RESPONSE_DROPPED_BY_LENGTH = namesByLength(RESPONSE_DROPPED);

/** Whether the name at `pos` (of the length `names` were picked for), read as bytes, is one of `names`. */
function bytesListed(names: readonly string[] | undefined, buf: Buffer, pos: number): boolean {
  if (names === undefined) return false;
  for (let i = 0; i < names.length; i++) if (bytesNameIs(buf, pos, names[i]!)) return true;
  return false;
}

/**
 * The request head as the proxy needs it, cheaply: one pass over the bytes (no string of the
 * whole head) that keeps ordinary header lines as they are and reads only what routing and
 * framing need, as the fewest strings it can: the target, the Host value and the kept lines (one
 * slice per run of them). Anything unusual (a byte outside visible ASCII, a bare CR or LF, a
 * duplicate or conflicting framing header, a second Host, a header named in `Connection`) goes
 * through {@link parseRequestHead}, which also owns every refusal. Throws {@link HttpParseError}.
 */
export function scanRequestHead(buf: Buffer, end: number): RequestHead {
  const headEnd = end - 2; // the final CRLF
  const lineEnd = readRequestLine(buf, headEnd);
  if (lineEnd === -1) return parseRequestHead(buf, end);
  const method = lineMethod;
  const target = lineTarget;
  const minor = lineMinor;
  let host: string | null = null;
  let contentLength: number | null = null;
  let chunked = false;
  let upgrade: string | null = null;
  let requestId: string | undefined;
  let idempotencyKey = false;
  let wantsTrailers = false;
  let connection = 0; // CONNECTION_* bits of every Connection header
  let lines = "";
  let runStart = lineEnd + 2;
  let pos = runStart;
  while (pos < headEnd) {
    let colon = pos;
    for (;;) {
      const byte = buf[colon]!;
      if (byte === COLON) break;
      if (byte > 127 || TOKEN_CHAR[byte] === 0) return parseRequestHead(buf, end);
      colon++;
    }
    if (colon === pos) return parseRequestHead(buf, end);
    let eol = colon + 1;
    for (;;) {
      const byte = buf[eol]!;
      if (byte === CR) break;
      if ((byte < SPACE && byte !== TAB) || byte > 0x7e) return parseRequestHead(buf, end);
      eol++;
    }
    if (buf[eol + 1] !== LF) return parseRequestHead(buf, end);
    const length = colon - pos;
    // Only the names the proxy must read are looked at here; whether a line is dropped is the
    // policy's (REQUEST_DROPPED), checked below for every line.
    switch (length) {
      case 2:
        if (bytesNameIs(buf, pos, "te")) wantsTrailers = asksForTrailers(bytesValue(buf, colon, eol));
        break;
      case 4:
        if (bytesNameIs(buf, pos, "host")) {
          if (host !== null) return parseRequestHead(buf, end);
          host = bytesValue(buf, colon, eol);
        }
        break;
      case 7:
        if (bytesNameIs(buf, pos, "upgrade")) upgrade = bytesValue(buf, colon, eol);
        break;
      case 10:
        if (bytesNameIs(buf, pos, "connection")) {
          // A token naming another header to drop is the parser's.
          const bits = connectionBits(buf, colon + 1, eol);
          if (bits === -1) return parseRequestHead(buf, end);
          connection |= bits;
        }
        break;
      case 12:
        if (bytesNameIs(buf, pos, "x-request-id")) requestId = bytesValue(buf, colon, eol);
        break;
      case 14:
        if (bytesNameIs(buf, pos, "content-length")) {
          const value = bytesDecimal(buf, colon + 1, eol);
          if (value === null || (contentLength !== null && contentLength !== value)) {
            return parseRequestHead(buf, end);
          }
          contentLength = value;
        }
        break;
      case 15:
        if (bytesNameIs(buf, pos, "idempotency-key")) idempotencyKey = true;
        break;
      case 17:
        if (bytesNameIs(buf, pos, "transfer-encoding")) {
          const from = owsStart(buf, colon + 1, eol);
          const last = owsEnd(buf, from, eol);
          if (chunked || last - from !== 7 || !bytesNameIs(buf, from, "chunked"))
            return parseRequestHead(buf, end);
          chunked = true;
        } else if (bytesNameIs(buf, pos, "x-idempotency-key")) idempotencyKey = true;
        break;
    }
    if (bytesListed(REQUEST_DROPPED_BY_LENGTH[length], buf, pos)) {
      if (pos > runStart) lines += buf.toString("latin1", runStart, pos);
      runStart = eol + 2;
    }
    pos = eol + 2;
  }
  if (runStart < headEnd) lines += buf.toString("latin1", runStart, headEnd);
  // Every refusal (both framings, chunked in HTTP/1.0, no or a bad Host) is parseRequestHead's to make.
  if (
    (chunked && (contentLength !== null || minor === 0)) ||
    (minor === 1 && host === null) ||
    (host !== null && !HOST_VALUE.test(host))
  ) {
    return parseRequestHead(buf, end);
  }
  return {
    method,
    target,
    minor,
    headers: [],
    contentLength,
    chunked,
    keepAlive: persists(
      minor,
      (connection & CONNECTION_CLOSE) !== 0,
      (connection & CONNECTION_KEEP_ALIVE) !== 0,
    ),
    upgrade: upgrade !== null && (connection & CONNECTION_UPGRADE) !== 0 ? upgrade : null,
    connectionTokens: connectionTokensOf(connection),
    host,
    ascii: true,
    requestId,
    idempotencyKey,
    passThrough: { lines, wantsTrailers },
  };
}

/** What {@link readRequestLine} read last (module state rather than an object: it runs per request). */
let lineMethod = "";
let lineTarget = "";
let lineMinor: 0 | 1 = 1;

/**
 * Reads the request line at the start of `buf` as bytes, for {@link scanRequestHead}: a method
 * token, one space, a target of visible ASCII, one space and `HTTP/1.0` or `HTTP/1.1`, then
 * CRLF before `headEnd`. Sets {@link lineMethod} (`GET` and `POST` as constants),
 * {@link lineTarget} and {@link lineMinor}, and returns where the line's CRLF is; -1 for
 * anything else (then the parser decides).
 */
function readRequestLine(buf: Buffer, headEnd: number): number {
  let space = 0;
  for (;;) {
    if (space >= headEnd) return -1;
    const byte = buf[space]!;
    if (byte === SPACE) break;
    if (byte > 127 || TOKEN_CHAR[byte] === 0) return -1;
    space++;
  }
  if (space === 0) return -1;
  let versionAt = space + 1;
  for (;;) {
    if (versionAt >= headEnd) return -1;
    const byte = buf[versionAt]!;
    if (byte === SPACE) break;
    if (byte < 0x21 || byte > 0x7e) return -1;
    versionAt++;
  }
  if (versionAt === space + 1) return -1;
  // " HTTP/1.x" then CRLF.
  const lineEnd = versionAt + 9;
  if (
    lineEnd > headEnd ||
    buf[versionAt + 1] !== 0x48 ||
    buf[versionAt + 2] !== 0x54 ||
    buf[versionAt + 3] !== 0x54 ||
    buf[versionAt + 4] !== 0x50 ||
    buf[versionAt + 5] !== 0x2f ||
    buf[versionAt + 6] !== 0x31 ||
    buf[versionAt + 7] !== 0x2e ||
    (buf[versionAt + 8] !== 0x30 && buf[versionAt + 8] !== 0x31) ||
    buf[lineEnd] !== CR ||
    buf[lineEnd + 1] !== LF
  )
    return -1;
  if (space === 3 && buf[0] === 0x47 && buf[1] === 0x45 && buf[2] === 0x54) lineMethod = "GET";
  else if (space === 4 && buf[0] === 0x50 && buf[1] === 0x4f && buf[2] === 0x53 && buf[3] === 0x54)
    lineMethod = "POST";
  else lineMethod = buf.toString("latin1", 0, space);
  lineTarget = buf.toString("latin1", space + 1, versionAt);
  lineMinor = buf[versionAt + 8] === 0x31 ? 1 : 0;
  return lineEnd;
}

const CONNECTION_CLOSE = 1;
const CONNECTION_KEEP_ALIVE = 2;
const CONNECTION_UPGRADE = 4;
const CONNECTION_TE = 8;
const CONNECTION_TRAILER = 16;
const CONNECTION_TOKENS = ["close", "keep-alive", "upgrade", "te", "trailer"] as const;

/**
 * The tokens of a `Connection` value in [from, to) (comma-separated, optional whitespace around
 * each, case-insensitive) as CONNECTION_* bits, for the byte scanners; -1 when one is none of
 * those (a header it names must be dropped: the full parsers handle that).
 */
function connectionBits(buf: Buffer, from: number, to: number): number {
  let bits = 0;
  let at = from;
  while (at < to) {
    let comma = at;
    while (comma < to && buf[comma] !== 0x2c) comma++;
    const start = owsStart(buf, at, comma);
    const last = owsEnd(buf, start, comma);
    switch (last - start) {
      case 0:
        break;
      case 2:
        if (!bytesNameIs(buf, start, "te")) return -1;
        bits |= CONNECTION_TE;
        break;
      case 5:
        if (!bytesNameIs(buf, start, "close")) return -1;
        bits |= CONNECTION_CLOSE;
        break;
      case 7:
        if (bytesNameIs(buf, start, "upgrade")) bits |= CONNECTION_UPGRADE;
        else if (bytesNameIs(buf, start, "trailer")) bits |= CONNECTION_TRAILER;
        else return -1;
        break;
      case 10:
        if (!bytesNameIs(buf, start, "keep-alive")) return -1;
        bits |= CONNECTION_KEEP_ALIVE;
        break;
      default:
        return -1;
    }
    at = comma + 1;
  }
  return bits;
}

/** CONNECTION_* bits as the lower-cased token list a head carries. */
function connectionTokensOf(bits: number): string[] {
  const tokens: string[] = [];
  for (let i = 0; i < CONNECTION_TOKENS.length; i++) if (bits & (1 << i)) tokens.push(CONNECTION_TOKENS[i]!);
  return tokens;
}

/** A header value in (colon, eol) without the optional whitespace around it. */
function bytesValue(buf: Buffer, colon: number, eol: number): string {
  const from = owsStart(buf, colon + 1, eol);
  return buf.toString("latin1", from, owsEnd(buf, from, eol));
}

/** Parses a response head. Throws {@link HttpParseError} (status 502). */
export function parseResponseHead(buf: Buffer, end: number): ResponseHead {
  const text = buf.toString("latin1", 0, end - 4);
  let lineEnd = text.indexOf("\r\n");
  if (lineEnd === -1) lineEnd = text.length;
  const match = STATUS_LINE.exec(text.slice(0, lineEnd));
  if (!match)
    throw new HttpParseError(
      502,
      `Malformed status line from upstream: ${text.slice(0, Math.min(lineEnd, 80))}`,
    );
  let headers: HeaderField[];
  let frame: Framing;
  try {
    headers = parseFields(text, lineEnd + 2);
    frame = framing(headers, false);
  } catch (error) {
    throw new HttpParseError(502, `Upstream sent a bad response head: ${(error as Error).message}`);
  }
  const minor = match[1] === "1" ? 1 : 0;
  return {
    minor,
    status: Number(match[2]),
    reason: match[3] ?? "",
    headers,
    contentLength: frame.contentLength,
    chunked: frame.chunked,
    keepAlive: persistsWith(minor, frame.connectionTokens),
    connectionTokens: frame.connectionTokens,
    ascii: !NON_ASCII.test(text),
  };
}

enum ChunkState {
  Size,
  SizeExtension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

/**
 * Follows a chunked body byte by byte without copying it, to find where it ends. The bytes
 * themselves are relayed unchanged; this only tracks framing.
 */
export class ChunkedTracker {
  #state = ChunkState.Size;
  #size = 0;
  #digits = 0;
  #lineLength = 0;
  /** Bytes of chunk data seen, for body limits. */
  dataBytes = 0;

  /**
   * Consumes `buf[start, end)`, calling `onData` with the range of each run of chunk data (to
   * strip the framing). Returns the index just past the body's last byte when the body ends
   * within this range, else -1. Throws {@link HttpParseError} on malformed framing.
   */
  feed(buf: Uint8Array, start: number, end: number, onData?: (from: number, to: number) => void): number {
    let i = start;
    while (i < end) {
      const byte = buf[i]!;
      switch (this.#state) {
        case ChunkState.Size: {
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.#digits > 15) throw new HttpParseError(400, "Chunk size too large");
            this.#size = this.#size * 16 + digit;
          } else if (this.#digits === 0) {
            throw new HttpParseError(400, "Malformed chunk size");
          } else if (byte === 0x0d) this.#state = ChunkState.SizeLf;
          else if (byte === 0x3b || byte === 0x20 || byte === 0x09) {
            this.#state = ChunkState.SizeExtension;
            this.#lineLength = 0;
          } else throw new HttpParseError(400, "Malformed chunk size");
          i++;
          break;
        }
        case ChunkState.SizeExtension:
          if (byte === 0x0d) this.#state = ChunkState.SizeLf;
          else if (byte === 0x0a || ++this.#lineLength > 4096)
            throw new HttpParseError(400, "Malformed chunk extension");
          i++;
          break;
        case ChunkState.SizeLf:
          if (byte !== 0x0a) throw new HttpParseError(400, "Malformed chunk size line");
          i++;
          this.#digits = 0;
          if (this.#size === 0) {
            this.#state = ChunkState.TrailerLineStart;
          } else this.#state = ChunkState.Data;
          break;
        case ChunkState.Data: {
          const take = Math.min(this.#size, end - i);
          if (onData && take > 0) onData(i, i + take);
          i += take;
          this.#size -= take;
          this.dataBytes += take;
          if (this.#size === 0) this.#state = ChunkState.DataCr;
          break;
        }
        case ChunkState.DataCr:
          if (byte !== 0x0d) throw new HttpParseError(400, "Chunk data longer than its size");
          this.#state = ChunkState.DataLf;
          i++;
          break;
        case ChunkState.DataLf:
          if (byte !== 0x0a) throw new HttpParseError(400, "Malformed chunk end");
          this.#state = ChunkState.Size;
          this.#size = 0;
          i++;
          break;
        case ChunkState.TrailerLineStart:
          if (byte === 0x0d) this.#state = ChunkState.FinalLf;
          else {
            this.#state = ChunkState.TrailerLine;
            this.#lineLength = 1;
          }
          i++;
          break;
        case ChunkState.TrailerLine:
          if (byte === 0x0d) this.#state = ChunkState.TrailerLf;
          else if (byte === 0x0a || ++this.#lineLength > 8192)
            throw new HttpParseError(400, "Malformed trailer");
          i++;
          break;
        case ChunkState.TrailerLf:
          if (byte !== 0x0a) throw new HttpParseError(400, "Malformed trailer");
          this.#state = ChunkState.TrailerLineStart;
          i++;
          break;
        case ChunkState.FinalLf:
          if (byte !== 0x0a) throw new HttpParseError(400, "Malformed chunked body end");
          this.#state = ChunkState.Done;
          return i + 1;
        case ChunkState.Done:
          return i;
      }
    }
    return -1;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

/**
 * The response head as the proxy needs it: {@link scanResponseHeadBytes} for the common head,
 * {@link parseResponseHead} for everything else. Throws {@link HttpParseError} (502).
 */
export function scanResponseHead(buf: Buffer, end: number): ResponseHead {
  return scanResponseHeadBytes(buf, end) ?? parseResponseHead(buf, end);
}

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/**
 * The common response head, read as bytes: no string is made for it at all, which matters as this
 * runs once per proxied request (each string is a native allocation the proxy would pay for in
 * cache misses). Handles a final (2xx–5xx) status with a reason phrase and ASCII header lines whose
 * framing is plain: at most one Content-Length, `Transfer-Encoding: chunked` alone, and
 * `Connection` with only `close`/`keep-alive`. Anything else returns `null`, for
 * {@link parseResponseHead}, which handles (or refuses) every case. Throws as it does on a
 * malformed or conflicting Content-Length.
 */
export function scanResponseHeadBytes(buf: Buffer, end: number): ResponseHead | null {
  // "HTTP/1.x SSS " then the reason phrase.
  if (
    end < 17 ||
    buf[0] !== 0x48 ||
    buf[1] !== 0x54 ||
    buf[2] !== 0x54 ||
    buf[3] !== 0x50 ||
    buf[4] !== 0x2f ||
    buf[5] !== 0x31 ||
    buf[6] !== 0x2e ||
    (buf[7] !== 0x30 && buf[7] !== 0x31) ||
    buf[8] !== SPACE ||
    buf[12] !== SPACE
  )
    return null;
  const d0 = buf[9]! - 0x30;
  const d1 = buf[10]! - 0x30;
  const d2 = buf[11]! - 0x30;
  if (d0 < 2 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  const status = d0 * 100 + d1 * 10 + d2;
  const headEnd = end - 2; // the final CRLF
  let pos = 13;
  // The reason phrase: visible ASCII, spaces and tabs, up to the CRLF.
  for (;;) {
    const byte = buf[pos]!;
    if (byte === CR) break;
    if ((byte < SPACE && byte !== TAB) || byte > 0x7e) return null;
    pos++;
  }
  if (buf[pos + 1] !== LF) return null;
  const statusTo = pos + 2;
  const ranges: number[] = [];
  let runStart = statusTo;
  let contentLength: number | null = null;
  let chunked = false;
  let connection = 0; // CONNECTION_* bits
  let location: string | null = null;
  pos = statusTo;
  while (pos < headEnd) {
    let colon = pos;
    for (;;) {
      const byte = buf[colon]!;
      if (byte === COLON) break;
      if (byte > 127 || TOKEN_CHAR[byte] === 0) return null;
      colon++;
    }
    if (colon === pos) return null;
    let eol = colon + 1;
    for (;;) {
      const byte = buf[eol]!;
      if (byte === CR) break;
      if ((byte < SPACE && byte !== TAB) || byte > 0x7e) return null;
      eol++;
    }
    if (buf[eol + 1] !== LF) return null;
    const length = colon - pos;
    // The policy (RESPONSE_DROPPED) says which lines are dropped; only the names the proxy reads
    // are looked at here. `Location` is taken out too: it is written again, rewritten.
    let drop = bytesListed(RESPONSE_DROPPED_BY_LENGTH[length], buf, pos);
    switch (length) {
      case 8:
        if (bytesNameIs(buf, pos, "location")) {
          // The one value read as a string: the proxy may rewrite it under the namespace.
          if (location !== null) return null;
          const from = owsStart(buf, colon + 1, eol);
          location = buf.toString("latin1", from, owsEnd(buf, from, eol));
          drop = true;
        }
        break;
      case 10:
        if (bytesNameIs(buf, pos, "connection")) {
          // Only close and keep-alive are handled here.
          const bits = connectionBits(buf, colon + 1, eol);
          if (bits === -1 || (bits & ~(CONNECTION_CLOSE | CONNECTION_KEEP_ALIVE)) !== 0) return null;
          connection |= bits;
        }
        break;
      case 14:
        if (bytesNameIs(buf, pos, "content-length")) {
          const value = bytesDecimal(buf, colon + 1, eol);
          if (value === null || (contentLength !== null && contentLength !== value)) {
            const text = buf.toString("latin1", colon + 1, eol).trim();
            throw new HttpParseError(
              502,
              `Upstream sent a bad response head: Invalid Content-Length: ${text.slice(0, 40)}`,
            );
          }
          contentLength = value;
        }
        break;
      case 17:
        if (bytesNameIs(buf, pos, "transfer-encoding")) {
          const from = owsStart(buf, colon + 1, eol);
          const last = owsEnd(buf, from, eol);
          if (chunked || last - from !== 7 || !bytesNameIs(buf, from, "chunked")) return null;
          chunked = true;
        }
        break;
    }
    if (drop) {
      if (pos > runStart) ranges.push(runStart, pos);
      runStart = eol + 2;
    }
    pos = eol + 2;
  }
  if (runStart < headEnd) ranges.push(runStart, headEnd);
  if (chunked && contentLength !== null) return null;
  const minor = buf[7] === 0x31 ? 1 : 0;
  const close = (connection & CONNECTION_CLOSE) !== 0;
  const keepAliveToken = (connection & CONNECTION_KEEP_ALIVE) !== 0;
  return {
    raw: { buf, statusFrom: 9, statusTo, ranges, location },
    minor,
    status,
    reason: "",
    headers: [],
    contentLength,
    chunked,
    keepAlive: persists(minor, close, keepAliveToken),
    connectionTokens: connectionTokensOf(connection),
    ascii: true,
  };
}

/** The first index in [from, to) past optional whitespace (spaces and tabs), or `to`. */
function owsStart(buf: Buffer, from: number, to: number): number {
  while (from < to && (buf[from] === SPACE || buf[from] === TAB)) from++;
  return from;
}

/** The end of [from, to) with trailing optional whitespace left off. */
function owsEnd(buf: Buffer, from: number, to: number): number {
  while (to > from && (buf[to - 1] === SPACE || buf[to - 1] === TAB)) to--;
  return to;
}

/** Case-insensitive compare of the bytes at `pos` with the lower-case ASCII `lower`. */
function bytesNameIs(buf: Buffer, pos: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((buf[pos + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The decimal number between `from` and `to` (optional whitespace around), or null. At most 15 digits. */
function bytesDecimal(buf: Buffer, start: number, end: number): number | null {
  const from = owsStart(buf, start, end);
  const to = owsEnd(buf, from, end);
  if (to === from || to - from > 15) return null;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) return null;
    value = value * 10 + digit;
  }
  return value;
}
