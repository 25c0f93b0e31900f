import type { OpenApiDocument } from "./load.ts";
import { scalarParser } from "./scalar.ts";

/** What the validator found. */
export interface ValidationResult {
  valid: boolean;
  /** The version the validator read the document as: `2.0`, `3.0`, `3.1` or `3.2`. */
  version?: string;
  /** `<JSON pointer>: <message>`, at most {@link MAX_ERRORS} of them (then a count of the rest). */
  errors: string[];
}

/** How many validation errors are reported one by one. */
export const MAX_ERRORS = 20;

/**
 * Validates a Swagger 2.0 or OpenAPI 3.0/3.1/3.2 document against the specification's JSON
 * Schema, checks that every local `$ref` resolves and every path template parameter is
 * declared (the Scalar OpenAPI parser's validator). Never throws; never changes `document`.
 */
export async function validateSpec(document: OpenApiDocument): Promise<ValidationResult> {
  // The validator fills in a missing info.version on the object it is given: give it a copy of those.
  const info = document.info && typeof document.info === "object" ? { ...document.info } : document.info;
  try {
    const { validate } = await scalarParser();
    const result = await validate({ ...document, info });
    const errors = (result.errors ?? []).map((error) => {
      const path = Array.isArray(error.path) ? toPointer(error.path) : (error.path ?? "");
      return path ? `${path}: ${error.message}` : error.message;
    });
    return { valid: result.valid, version: result.version, errors: limit(errors) };
  } catch (error) {
    return { valid: false, errors: [`The validator failed: ${(error as Error).message}`] };
  }
}

function toPointer(path: string[]): string {
  return path.map((segment) => `/${String(segment).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

function limit(errors: string[]): string[] {
  if (errors.length <= MAX_ERRORS) return errors;
  return [...errors.slice(0, MAX_ERRORS), `... and ${errors.length - MAX_ERRORS} more`];
}
