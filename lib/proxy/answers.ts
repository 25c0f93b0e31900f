/**
 * What the gateway answers itself when it cannot, or will not, carry a request to a provider:
 * one vocabulary for both proxies (the byte-level front and the fetch proxy), rendered as
 * problem+json by lib/problem.ts. Each answer names what went wrong, where and what to do; the
 * cause of an upstream failure stays a field (for metrics and clients), not only prose.
 */

/** How an upstream failed; the `kind` of `gateway_upstream_errors_total`. */
export type { UpstreamFailure } from "./traffic.ts";

import type { UpstreamFailure } from "./traffic.ts";

export interface Answer {
  status: number;
  detail: string;
  headers?: Record<string, string>;
  /** For upstream failures: how it failed (a problem extension member, `cause`). */
  cause?: UpstreamFailure;
  /** Other problem extension members. */
  extra?: Record<string, unknown>;
}

/** The bodies of `/healthz` and `/readyz` when they answer 200, from the front and from the app alike. */
export const HEALTHY_BODY = JSON.stringify({ status: "ok" });
export const READY_BODY = JSON.stringify({ status: "ready" });

/** Who a request was for: a provider by code, or the gateway's own app (`null`). */
type Target = string | null;

const who = (target: Target) => (target === null ? "The gateway's own app" : `Provider "${target}"`);

export const answers = {
  /** `GET /readyz` while an enabled local provider is not ready: who, and in what status. */
  notAllReady: (waiting: Array<{ code: string; status: string }>): Answer => ({
    status: 503,
    detail: `Not ready: ${waiting.map((w) => `${w.code} is ${w.status}`).join(", ")}`,
    headers: { "retry-after": "1" },
    extra: { waiting },
  }),
  notReady: (code: string, status: string, heldMs?: number): Answer => ({
    status: 503,
    detail:
      heldMs === undefined
        ? `Provider "${code}" is ${status}; try again shortly`
        : `Provider "${code}" is ${status}: it was not ready within ${heldMs} ms (its hold); try again shortly`,
    headers: { "retry-after": "1" },
  }),
  unreachable: (target: Target, message: string): Answer => ({
    status: 502,
    detail: `${who(target)} could not be reached: ${message}`,
    cause: "refused",
  }),
  closedBeforeAnswer: (target: Target): Answer => ({
    status: 502,
    detail: `${who(target)} closed the connection before answering`,
    cause: "reset",
  }),
  badResponse: (message: string): Answer => ({ status: 502, detail: message, cause: "reset" }),
  responseHeadTooLarge: (): Answer => ({
    status: 502,
    detail: "The provider sent a response head that is too large",
    cause: "reset",
  }),
  noResponseHeaders: (target: Target, ms: number): Answer => ({
    status: 504,
    detail: `${who(target)} sent no response headers within ${ms} ms`,
    cause: "timeout",
  }),
  bodyOverLimit: (max: number, declared?: number): Answer => ({
    status: 413,
    detail:
      declared === undefined
        ? `The request body is over the limit of ${max} bytes`
        : `The request body of ${declared} bytes is over the limit of ${max} bytes`,
  }),
  headTooLarge: (): Answer => ({
    status: 431,
    detail: "The request head is larger than the gateway accepts",
  }),
  headTimeout: (ms: number): Answer => ({
    status: 408,
    detail: `The request head was not complete within ${ms} ms (--header-timeout)`,
  }),
  bodyStalled: (ms: number): Answer => ({
    status: 408,
    detail: `The request body made no progress for ${ms} ms (--idle-timeout)`,
  }),
  overCapacity: (): Answer => ({
    status: 503,
    detail: "The gateway has as many connections open as it accepts (--max-connections); try again shortly",
    headers: { "retry-after": "1" },
  }),
  badRequest: (detail: string, status = 400): Answer => ({ status, detail }),
  dotSegmentsLeaveNamespace: (): Answer => ({
    status: 400,
    detail: "The path uses dot segments to leave the namespace it names",
  }),
  encodedSeparator: (): Answer => ({
    status: 400,
    detail: "An encoded /, \\ or NUL cannot stand where a namespace is matched",
  }),
  noProvider: (path: string): Answer => ({
    status: 404,
    detail: `No provider serves ${path}; GET /_gateway/providers lists the namespaces`,
  }),
};
