/** An RFC 9457 problem document, the shape of every error the gateway itself answers. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Builds a problem+json response. `type` defaults to `about:blank`, as RFC 9457 §4.2 says. */
export function problemResponse(
  status: number,
  detail: string,
  options: {
    title?: string;
    type?: string;
    headers?: Record<string, string>;
    extra?: Record<string, unknown>;
  } = {},
): Response {
  const body: Problem = {
    type: options.type ?? "about:blank",
    title: options.title ?? TITLES[status] ?? "Error",
    status,
    detail,
    ...options.extra,
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...options.headers },
  });
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
