/**
 * HTTP helpers over `fetch`: a bounded request that parses JSON, and readers of the gateway's admin
 * API (`/_gateway/providers…`) that wait for a provider's status or read its logs.
 */
import type { ProviderView } from "../../lib/supervisor/status.ts";
import { WAIT_MS, waitFor } from "./wait.ts";

export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** `fetch` with a timeout, the body read as text and parsed as JSON when it is JSON. */
export async function request<T = unknown>(url: string, init: RequestInit = {}): Promise<JsonResponse<T>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: "manual", ...init });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: body as T, text };
}

export async function getProviders(url: string): Promise<ProviderView[]> {
  const { status, body } = await request<{ providers: ProviderView[] }>(`${url}/_gateway/providers`);
  if (status !== 200) throw new Error(`GET /_gateway/providers answered ${status}`);
  return body.providers;
}

export async function getProvider(url: string, code: string): Promise<ProviderView> {
  const { status, body, text } = await request<ProviderView>(`${url}/_gateway/providers/${code}`);
  if (status !== 200) throw new Error(`GET /_gateway/providers/${code} answered ${status}: ${text}`);
  return body;
}

/** One line of a provider's log ring; `stream` is `stdout`, `stderr` or `gateway` (its transitions). */
export interface LogLine {
  time: string;
  stream: string;
  line: string;
}

/** The last 1000 lines of provider `code`'s log ring. */
export async function providerLogs(url: string, code: string): Promise<LogLine[]> {
  const { status, body } = await request<{ lines: LogLine[] }>(
    `${url}/_gateway/providers/${code}/logs?tail=1000`,
  );
  if (status !== 200) throw new Error(`logs of ${code} answered ${status}`);
  return body.lines;
}

/** The gateway's status transitions for `code`, as logged in its ring (`from -> to: reason`). */
export async function transitionsOf(url: string, code: string): Promise<string[]> {
  return (await providerLogs(url, code)).filter((l) => l.stream === "gateway").map((l) => l.line);
}

/** Waits until `upstream` (`http://host:port`) refuses connections: the provider behind it is gone. */
export async function waitForRefused(upstream: string): Promise<void> {
  await waitFor(`${upstream} to refuse connections`, async () => {
    try {
      await fetch(`${upstream}/health`, { signal: AbortSignal.timeout(2000) });
      return false;
    } catch {
      return true;
    }
  });
}

/** Waits until provider `code` has one of `statuses`; returns its view. */
export function waitForStatus(
  url: string,
  code: string,
  statuses: string | string[],
  timeoutMs = WAIT_MS,
): Promise<ProviderView> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(
    `provider "${code}" to be ${wanted.join(" or ")}`,
    async () => {
      const view = await getProvider(url, code);
      if (wanted.includes(view.status)) return view;
      throw new Error(`status ${view.status}, last_error ${view.last_error}`);
    },
    { timeoutMs },
  );
}
