import type { Context } from "hono";
import type { z } from "zod";
import { HttpProblem } from "../lib/problem.ts";
import type { AppEnv } from "./env.ts";

/** The largest admin or agent request body. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a request body as the strict JSON `schema` says: `Content-Type: application/json` (else
 * 415), at most 64 KiB (else 413), JSON (else 400), and nothing but the schema's fields (an
 * unknown field is 400 naming it; so is a field of the wrong type).
 */
export async function readJsonBody<T>(c: Context<AppEnv>, schema: z.ZodType<T>): Promise<T> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json" && !/^application\/[\w.+-]+\+json$/.test(type)) {
    throw new HttpProblem(
      415,
      `The body must be JSON, sent with Content-Type: application/json (got ${type || "none"})`,
    );
  }
  const declared = Number(c.req.header("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES)
    throw new HttpProblem(413, `The body is larger than ${MAX_BODY_BYTES} bytes`);
  const text = await readLimited(c.req.raw, MAX_BODY_BYTES);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new HttpProblem(400, `The body is not JSON: ${(error as Error).message}`);
  }
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    throw new HttpProblem(
      400,
      `Unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} in the body`,
    );
  }
  const field = issue.path.join(".");
  throw new HttpProblem(400, field ? `Field "${field}" ${issue.message}` : `The body ${issue.message}`);
}

/** The body as text, refusing (413) past `limit` bytes even when no length was declared. */
export async function readLimited(request: Request, limit: number): Promise<string> {
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) throw new HttpProblem(413, `The body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
