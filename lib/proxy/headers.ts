/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), the list Go's httputil.ReverseProxy removes: they
 * describe one connection and must not be forwarded.
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
];

/** Headers the gateway sets itself; a client's copies are dropped, never trusted. */
export const FORWARDING = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-prefix",
];

/** A client's `X-Request-Id` kept as it is when it looks like one. */
export const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

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
 * The headers sent upstream: the client's, less hop-by-hop and forwarding headers, plus the
 * gateway's own `X-Forwarded-*` and `X-Request-Id`. Returns the request id to echo back.
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  facts: ForwardingFacts,
): { headers: Headers; requestId: string } {
  const headers = new Headers(incoming);
  // `TE: trailers` is the one TE value that is end-to-end (Go's ReverseProxy keeps it too).
  const wantsTrailers = /(^|,)\s*trailers\s*(,|$)/i.test(incoming.get("te") ?? "");
  stripHopByHop(headers);
  for (const name of FORWARDING) headers.delete(name);
  // The upstream sees its own host; the client's host travels as X-Forwarded-Host.
  headers.delete("host");
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
