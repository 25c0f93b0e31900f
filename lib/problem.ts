/** An RFC 9457 problem document, the shape of every error the gateway itself answers. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

import type { Answer } from "./proxy/answers.ts";

/** Reason phrases (RFC 9110 §15), the problem's `title` and the status line's text. */
const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The reason phrase of `status`. */
export function statusTitle(status: number): string {
  return TITLES[status] ?? "Error";
}

export interface ProblemOptions {
  title?: string;
  type?: string;
  headers?: Record<string, string>;
  extra?: Record<string, unknown>;
}

/**
 * The problem+json body, as text: the one rendering of a gateway error, for the Hono app and the
 * byte-level front alike. `type` defaults to `about:blank`, as RFC 9457 §4.2 says.
 */
export function problemJson(status: number, detail: string, options: ProblemOptions = {}): string {
  const body: Problem = {
    type: options.type ?? "about:blank",
    title: options.title ?? statusTitle(status),
    status,
    detail,
    ...options.extra,
  };
  return JSON.stringify(body);
}

/** Builds a problem+json response. */
export function problemResponse(status: number, detail: string, options: ProblemOptions = {}): Response {
  return new Response(problemJson(status, detail, options), {
    status,
    headers: { "content-type": "application/problem+json", ...options.headers },
  });
}

/** An {@link Answer} of the proxies as problem fields: its cause, if any, as the extension member `cause`. */
export function answerOptions(answer: Answer, headers?: Record<string, string>): ProblemOptions {
  return {
    headers: { ...answer.headers, ...headers },
    extra: answer.cause ? { ...answer.extra, cause: answer.cause } : answer.extra,
  };
}

/** An {@link Answer} as a Response (the fetch proxy's). */
export function answerResponse(answer: Answer, headers?: Record<string, string>): Response {
  return problemResponse(answer.status, answer.detail, answerOptions(answer, headers));
}

/** An error the HTTP layer turns into a problem response (one place: the app's onError). */
export class HttpProblem extends Error {
  override name = "HttpProblem";
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly options: {
      title?: string;
      headers?: Record<string, string>;
      extra?: Record<string, unknown>;
    } = {},
  ) {
    super(detail);
  }

  toResponse(): Response {
    return problemResponse(this.status, this.detail, this.options);
  }
}
