/**
 * The proxy's header policy, in one place for both proxies (the byte-level front in ./front/ and
 * the fetch proxy in ./forward.ts) and for their tests: which headers are never forwarded as
 * received, the `TE: trailers` rule and the keep-alive rule. The byte scanners in ./http1.ts
 * build their lookup tables from these sets at module load, so a header added here is dropped on
 * every path at once. This is the trust boundary: a client's copy of a header the gateway sets
 * itself must never reach a provider.
 */

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), the list Go's httputil.ReverseProxy removes: they
 * describe one connection and must not be forwarded. Every header named in `Connection` is
 * hop-by-hop too.
 */
export const HOP_BY_HOP = [
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
] as const;

/** Headers the gateway sets itself; a client's copies are dropped, never trusted. */
export const FORWARDING = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-prefix",
] as const;

/** Header through which the byte-level front tells the gateway's own app who the client is. */
export const CLIENT_ADDRESS_HEADER = "x-gateway-client-address";

/**
 * Request headers never forwarded as the client sent them: hop-by-hop ones, and those the
 * gateway writes itself (forwarding headers, `Host`, framing, `X-Request-Id`, the client address).
 */
export const REQUEST_DROPPED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  ...FORWARDING,
  "host",
  "content-length",
  "x-request-id",
  CLIENT_ADDRESS_HEADER,
]);

/** Response headers never forwarded as the provider sent them: hop-by-hop ones and `X-Request-Id`. */
export const RESPONSE_DROPPED: ReadonlySet<string> = new Set([...HOP_BY_HOP, "x-request-id"]);

/** A client's `X-Request-Id` kept as it is when it looks like one. */
export const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

const TRAILERS = /(^|,)\s*trailers\s*(,|$)/i;

/** `TE: trailers` is the one TE value that is end-to-end (RFC 9110 §10.1.4; Go's ReverseProxy keeps it too). */
export function asksForTrailers(te: string): boolean {
  return TRAILERS.test(te);
}

/**
 * Whether a connection persists after this message (RFC 9112 §9.3): HTTP/1.1 unless it says
 * `Connection: close`, HTTP/1.0 only if it says `Connection: keep-alive`.
 */
export function persists(minor: 0 | 1, close: boolean, keepAlive: boolean): boolean {
  return minor === 1 ? !close : keepAlive;
}

/** {@link persists} from the lower-cased tokens of the `Connection` header. */
export function persistsWith(minor: 0 | 1, connectionTokens: readonly string[]): boolean {
  return persists(minor, connectionTokens.includes("close"), connectionTokens.includes("keep-alive"));
}

/**
 * The names of `set` grouped by length (index = length), for scanners that compare a header
 * name with candidates of its own length only.
 */
export function namesByLength(set: Iterable<string>): ReadonlyArray<readonly string[] | undefined> {
  const table: string[][] = [];
  for (const name of set) table[name.length] = [...(table[name.length] ?? []), name];
  return table;
}

/** Removes hop-by-hop headers, including every header named in `Connection`. */
export function stripHopByHop(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection) {
    for (const token of connection.split(",")) {
      const name = token.trim().toLowerCase();
      if (name) headers.delete(name);
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

export interface ForwardingFacts {
  remoteAddress: string;
  host: string;
  proto: string;
  prefix: string;
}

/**
 * The fetch proxy's upstream headers: the client's, less {@link REQUEST_DROPPED} (but
 * `Content-Length`, which fetch frames the streamed body with) and every header named in
 * `Connection`, plus the gateway's own `X-Forwarded-*` and `X-Request-Id`. Returns the request
 * id to echo back.
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  facts: ForwardingFacts,
): { headers: Headers; requestId: string } {
  const headers = new Headers(incoming);
  const wantsTrailers = asksForTrailers(incoming.get("te") ?? "");
  stripHopByHop(headers);
  for (const name of REQUEST_DROPPED) if (name !== "content-length") headers.delete(name);
  if (wantsTrailers) headers.set("te", "trailers");
  const given = incoming.get("x-request-id");
  const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
  headers.set("x-request-id", requestId);
  if (facts.remoteAddress) headers.set("x-forwarded-for", facts.remoteAddress);
  headers.set("x-forwarded-host", facts.host);
  headers.set("x-forwarded-proto", facts.proto);
  headers.set("x-forwarded-prefix", facts.prefix);
  return { headers, requestId };
}
