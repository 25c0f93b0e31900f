import { answerResponse } from "../problem.ts";
import type { RequestContext } from "../runtime/index.ts";
import { answers } from "./answers.ts";
import { stripHopByHop, upstreamRequestHeaders } from "./headers.ts";
import type { RouteMatch } from "./table.ts";

class HeaderTimeout extends Error {
  override name = "HeaderTimeout";
}

/**
 * Forwards `request` to the matched provider and streams the answer back. The upstream URL is
 * built by concatenation onto the provider's fixed origin, never by URL resolution, so a path
 * such as `//evil.example/x` stays on 127.0.0.1.
 */
export async function forward(
  request: Request,
  match: RouteMatch,
  query: string,
  context: RequestContext,
  maxBodySize?: number,
): Promise<Response> {
  const { target, rest } = match;
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (maxBodySize !== undefined && declared > maxBodySize) {
    return answerResponse(answers.bodyOverLimit(maxBodySize, declared));
  }
  const origin = target.upstream();
  if (!origin) return answerResponse(answers.notReady(target.code, target.status()));
  const hostHeader = request.headers.get("host") ?? "";
  const { headers, requestId } = upstreamRequestHeaders(request.headers, {
    remoteAddress: context.remoteAddress,
    host: hostHeader,
    proto: "http",
    prefix: target.namespace,
  });
  // One controller ends the upstream call when the client goes away or the header timeout fires;
  // the timer is cleared once headers arrive so a long body is never cut.
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(request.signal.reason);
  request.signal.addEventListener("abort", onClientAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new HeaderTimeout()), target.timeoutMs);
  const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
  // A body without a declared length (chunked) is counted as it streams: past the limit, the
  // upstream call is cut and the client answered 413, not a provider handed a truncated body.
  const limited = hasBody && maxBodySize !== undefined && !request.headers.has("content-length");
  const body = limited ? countedBody(request.body!, maxBodySize!) : null;
  let upstream: Response;
  try {
    upstream = await fetch(origin + rest + query, {
      method: request.method,
      headers,
      body: hasBody ? (body?.stream ?? request.body) : undefined,
      redirect: "manual",
      signal: controller.signal,
      // Bun: keep Content-Encoding and bytes in agreement (oven-sh/bun PR #35546).
      decompress: false,
      // Streaming request bodies need half duplex (Fetch standard).
      duplex: "half",
    } as RequestInit);
  } catch (error) {
    clearTimeout(timer);
    request.signal.removeEventListener("abort", onClientAbort);
    const answer = body?.over()
      ? answers.bodyOverLimit(maxBodySize!)
      : controller.signal.reason instanceof HeaderTimeout
        ? answers.noResponseHeaders(target.code, target.timeoutMs)
        : answers.unreachable(target.code, (error as Error).message);
    return answerResponse(answer, { "x-request-id": requestId });
  }
  clearTimeout(timer);
  const responseHeaders = new Headers(upstream.headers);
  stripHopByHop(responseHeaders);
  responseHeaders.set("x-request-id", requestId);
  const location = responseHeaders.get("location");
  if (location) responseHeaders.set("location", rewriteLocation(location, target.namespace, origin));
  if (responseHeaders.get("content-type")?.startsWith("text/event-stream")) context.keepOpen();
  return new Response(upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: responseHeaders,
  });
}

/** `body` passed through a counter that errors the stream once more than `max` bytes went by. */
function countedBody(
  body: ReadableStream<Uint8Array>,
  max: number,
): { stream: ReadableStream<Uint8Array>; over: () => boolean } {
  let seen = 0;
  let over = false;
  const stream = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > max) {
          over = true;
          controller.error(new Error(`request body over the limit of ${max} bytes`));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
  return { stream, over: () => over };
}

/**
 * Puts a provider's redirect back under its namespace: `/login` becomes `/api/v1/x/login`, and
 * an absolute URL to the provider's own origin becomes a path under the namespace.
 */
export function rewriteLocation(location: string, namespace: string, origin: string): string {
  // A provider that honours X-Forwarded-Prefix already answers with the public path.
  if (location === namespace || location.startsWith(`${namespace}/`)) return location;
  if (location.startsWith(origin)) {
    const after = location.slice(origin.length);
    if (after === "" || after.startsWith("/") || after.startsWith("?")) return namespace + (after || "/");
  }
  if (location.startsWith("/") && !location.startsWith("//") && !location.startsWith("/\\")) {
    return namespace + location;
  }
  return location;
}
