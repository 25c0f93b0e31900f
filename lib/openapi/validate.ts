import { explainShared, type RawError } from "./explain.ts";
import type { OpenApiDocument } from "./load.ts";
import { parsePointer } from "./pointer.ts";
import { scalarParser } from "./scalar.ts";

/** What the validator found. */
export interface ValidationResult {
  valid: boolean;
  /** The version the validator read the document as: `2.0`, `3.0`, `3.1` or `3.2`. */
  version?: string;
  /** Sentences (./explain.ts), at most {@link MAX_ERRORS} of them (then a count of the rest). */
  errors: string[];
  /** Every finding as the validator gave it, for sorting them by operation (./operations.ts). */
  raw: RawError[];
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
    const raw = (result.errors ?? []).map((error) => ({
      path: Array.isArray(error.path) ? error.path.map(String) : pointerSegments(error.path),
      message: error.message,
    }));
    return {
      valid: result.valid,
      version: result.version,
      errors: limit(raw.map((error) => explainShared(document, error))),
      raw,
    };
  } catch (error) {
    const message = `The validator failed: ${(error as Error).message}`;
    return { valid: false, errors: [message], raw: [{ path: [], message }] };
  }
}

/** The validator gives a JSON pointer as a string (some versions an array). */
function pointerSegments(path: unknown): string[] {
  if (typeof path !== "string" || path === "") return [];
  try {
    return parsePointer(path.startsWith("#") ? path.slice(1) : path);
  } catch {
    return [path];
  }
}

function limit(errors: string[]): string[] {
  if (errors.length <= MAX_ERRORS) return errors;
  return [...errors.slice(0, MAX_ERRORS), `... and ${errors.length - MAX_ERRORS} more`];
}
