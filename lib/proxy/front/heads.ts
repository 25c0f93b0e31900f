/**
 * Heads as bytes, from the facts of one exchange: the request head a provider gets, the response
 * head a client gets, and the gateway's own answers. Pure functions: they read a connection's
 * fields and return what to write, so they are tested and changed apart from the state machines.
 * A connection is passed rather than a facts object, as these run once or twice per request and
 * an object per call would be garbage per request.
 */
import { answerOptions, problemJson, statusTitle } from "../../problem.ts";
import type { Answer } from "../answers.ts";
import { rewriteLocation } from "../forward.ts";
import { asksForTrailers, CLIENT_ADDRESS_HEADER, REQUEST_DROPPED, RESPONSE_DROPPED } from "../headers.ts";
import type { RequestHead, ResponseHead } from "../http1.ts";
import type { ClientConn } from "./connections.ts";

const HTTP11 = Buffer.from("HTTP/1.1 ", "latin1");

/**
 * The request head the upstream gets: `target` (the path with the namespace stripped, and the
 * query), the client's headers less {@link REQUEST_DROPPED} and those named in `Connection`, then
 * the gateway's own: `Host` (the provider's address, so it sees its own; the gateway's app sees
 * the client's), framing, `X-Request-Id`, and `X-Forwarded-*` (or the client address header for
 * the app). Keeps the connection alive unless it is an upgrade.
 */
export function upstreamHead(
  conn: ClientConn,
  head: RequestHead,
  target: string,
  hostKey: string,
  proto: "http" | "https",
): string {
  const tokens = head.connectionTokens;
  let out = `${head.method} ${target} HTTP/1.1\r\n`;
  let wantsTrailers = head.passThrough?.wantsTrailers ?? false;
  if (head.passThrough) out += head.passThrough.lines;
  for (const [name, value] of head.headers) {
    if (REQUEST_DROPPED.has(name) || (tokens.length > 0 && tokens.includes(name))) {
      if (name === "te" && asksForTrailers(value)) wantsTrailers = true;
      continue;
    }
    out += `${name}: ${value}\r\n`;
  }
  out += `host: ${conn.target ? hostKey : (head.host ?? "gateway")}\r\n`;
  if (wantsTrailers) out += "te: trailers\r\n";
  if (head.contentLength !== null) out += `content-length: ${head.contentLength}\r\n`;
  if (head.chunked) out += "transfer-encoding: chunked\r\n";
  out += `x-request-id: ${conn.requestId}\r\n`;
  const address = conn.remoteAddress;
  if (conn.target) {
    if (address) out += `x-forwarded-for: ${address}\r\n`;
    if (head.host !== null) out += `x-forwarded-host: ${head.host}\r\n`;
    out += `x-forwarded-proto: ${proto}\r\nx-forwarded-prefix: ${conn.prefix}\r\n`;
  } else out += `${CLIENT_ADDRESS_HEADER}: ${address}\r\n`;
  if (head.upgrade !== null) out += `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n\r\n`;
  else out += "connection: keep-alive\r\n\r\n";
  return out;
}

/**
 * The client's response head for a final response, followed in the same buffer by
 * `body[from, to)` when a body is given. A range rather than a slice: the first body bytes are
 * mostly the tail of the upstream's read, and a subarray per response is a native allocation.
 */
export function clientResponse(
  conn: ClientConn,
  response: ResponseHead,
  body: Buffer | null,
  from = 0,
  to = body?.length ?? 0,
): Buffer | string {
  if (response.raw) return rawClientHead(conn, response, body, from, to);
  const head = latin1Bytes(clientHead(conn, response, false), response.ascii);
  if (!body) return head;
  const out = Buffer.allocUnsafe(head.length + (to - from));
  if (typeof head === "string") out.write(head, 0, "latin1");
  else head.copy(out, 0);
  body.copy(out, head.length, from, to);
  return out;
}

/**
 * The client's response head from a head scanned as bytes (`scanResponseHeadBytes`): the
 * upstream's status line and kept header lines copied as they are, the gateway's lines after
 * them, and `body` (the first body bytes, if given) in the same buffer, for one send().
 */
function rawClientHead(
  conn: ClientConn,
  response: ResponseHead,
  body: Buffer | null,
  from: number,
  to: number,
): Buffer {
  const { buf, statusFrom, statusTo, ranges, location } = response.raw!;
  const tail =
    location === null
      ? headTail(conn, response)
      : `location: ${clientLocation(conn, location)}\r\n${headTail(conn, response)}`;
  let length = HTTP11.length + (statusTo - statusFrom) + tail.length + (body ? to - from : 0);
  for (let i = 0; i < ranges.length; i += 2) length += ranges[i + 1]! - ranges[i]!;
  const out = Buffer.allocUnsafe(length);
  let at = HTTP11.copy(out, 0);
  at += buf.copy(out, at, statusFrom, statusTo);
  for (let i = 0; i < ranges.length; i += 2) at += buf.copy(out, at, ranges[i]!, ranges[i + 1]!);
  at += out.write(tail, at, "latin1");
  if (body) body.copy(out, at, from, to);
  return out;
}

/**
 * The client's response head from a parsed head: the provider's headers less
 * {@link RESPONSE_DROPPED}, those named in `Connection`, and `Content-Length` beside chunked
 * framing (passing both on invites response smuggling, RFC 9112 §6.3); `Location` rewritten
 * under the namespace. For a 101 (`upgrade`), the head that switches the client's connection.
 */
export function clientHead(conn: ClientConn, response: ResponseHead, upgrade: boolean): string {
  let out = `HTTP/1.1 ${response.status} ${response.reason}\r\n`;
  const tokens = response.connectionTokens;
  for (const [name, value] of response.headers) {
    if (RESPONSE_DROPPED.has(name) || (tokens.length > 0 && tokens.includes(name))) continue;
    if (name === "content-length" && response.chunked) continue;
    if (name === "location") out += `location: ${clientLocation(conn, value)}\r\n`;
    else out += `${name}: ${value}\r\n`;
  }
  if (upgrade) {
    const upgradeValue =
      response.headers.find(([name]) => name === "upgrade")?.[1] ?? conn.request?.upgrade ?? "";
    return `${out}x-request-id: ${conn.requestId}\r\nconnection: upgrade\r\nupgrade: ${upgradeValue}\r\n\r\n`;
  }
  return out + headTail(conn, response);
}

/** A provider's redirect target as the client must see it: back under the namespace. */
function clientLocation(conn: ClientConn, location: string): string {
  if (!conn.target) return location;
  const link = conn.link;
  const origin = (link?.address as { origin?: string } | undefined)?.origin ?? `http://${link?.key ?? ""}`;
  return rewriteLocation(location, conn.prefix, origin);
}

/** The lines the gateway adds to every (non-upgrade) response head, and the blank line ending it. */
function headTail(conn: ClientConn, response: ResponseHead): string {
  let out = `x-request-id: ${conn.requestId}\r\n`;
  // An HTTP/1.0 client cannot read chunked framing: it gets the data alone, ended by the close.
  if (response.chunked && conn.request?.minor !== 0) out += "transfer-encoding: chunked\r\n";
  if (!conn.keepAlive) out += "connection: close\r\n";
  else if (conn.request?.minor === 0) out += "connection: keep-alive\r\n";
  return `${out}\r\n`;
}

/**
 * A gateway answer (lib/proxy/answers.ts) as a whole response, in UTF-8 bytes: the detail may
 * quote non-ASCII input, and Content-Length counts UTF-8. No body for a HEAD request.
 */
export function answerBytes(
  answer: Answer,
  options: { requestId: string; close: boolean; headRequest: boolean },
): Buffer {
  const body = problemJson(answer.status, answer.detail, answerOptions(answer));
  let head = `HTTP/1.1 ${answer.status} ${statusTitle(answer.status)}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  if (options.requestId) head += `x-request-id: ${options.requestId}\r\n`;
  if (answer.headers)
    for (const [name, value] of Object.entries(answer.headers)) head += `${name}: ${value}\r\n`;
  if (options.close) head += "connection: close\r\n";
  return Buffer.from(`${head}\r\n${options.headRequest ? "" : body}`);
}

let dateSecond = 0;
let dateText = "";

/** Now as an HTTP date (a 2xx answer of an origin server carries one), made at most once a second. */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/**
 * The gateway's own 200 JSON answer (`/healthz`, `/readyz`: `body` is ASCII JSON) as a whole
 * response. No body for a HEAD request, its Content-Length that of the GET.
 */
export function okJsonBytes(
  body: string,
  options: { requestId: string; close: boolean; headRequest: boolean },
): Buffer {
  let head = `HTTP/1.1 200 OK\r\ndate: ${httpDate()}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n`;
  if (options.requestId) head += `x-request-id: ${options.requestId}\r\n`;
  if (options.close) head += "connection: close\r\n";
  return Buffer.from(`${head}\r\n${options.headRequest ? "" : body}`);
}

/**
 * Heads are built as latin1 strings. An ASCII one is written as it is (the socket encodes it
 * natively, byte for byte, with no Buffer allocated); one holding obs-text bytes becomes latin1
 * bytes, since a string write would encode them as UTF-8.
 */
export function latin1Bytes(head: string, ascii: boolean): Buffer | string {
  return ascii ? head : Buffer.from(head, "latin1");
}

/** Only for a write the kernel took in part; only ASCII strings are ever written as strings. */
export function toBuffer(data: Buffer | string): Buffer {
  return typeof data === "string" ? Buffer.from(data, "latin1") : data;
}
