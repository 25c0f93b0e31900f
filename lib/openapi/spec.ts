import { realpathSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { resolveInsideDir } from "../runtimes.ts";
import { bundleDocument, bundleSpecFile } from "./bundle.ts";
import { fetchUpstreamSpec, type OpenApiDocument, UpstreamStatusError } from "./load.ts";
import { type LeftOut, salvageOperations } from "./operations.ts";
import { upgradeSpec } from "./upgrade.ts";
import { validateSpec } from "./validate.ts";

/** A provider's spec as the gateway sees it: read, bundled, validated and upgraded to OpenAPI 3.1. */
export interface LoadedSpec {
  /** Where it came from: the manifest's `spec` path, or `GET <upstream>/openapi.json`. */
  source: string;
  /** The version the input was written in (`2.0`, `3.0`, `3.1`), once it was read. */
  inputVersion?: string;
  /** The OpenAPI 3.1 document; only when the input was valid. */
  document?: OpenApiDocument;
  /** The bundled input as it was read, kept only when it is invalid (to show what the gateway saw). */
  input?: OpenApiDocument;
  /** Why the spec is not used: unreadable, unparseable, unresolvable references, validation errors. */
  errors: string[];
  /** Problems that did not stop it from being used, such as refused references. */
  warnings: string[];
  /** Operations left out because they are invalid (the rest of the spec is used), and why. */
  leftOut: LeftOut[];
  /** Facts worth saying once, at info level: no spec served at all, for one. */
  notes: string[];
  /** Files read or looked for: a change to any of them means loading it again. */
  files: string[];
}

/**
 * Loads a provider's `spec` file (YAML or JSON, inside the provider directory) with the files it
 * refers to. Never throws: what went wrong is in `errors`.
 */
export async function loadSpecFile(spec: string, dir: string): Promise<LoadedSpec> {
  const source = spec;
  let file: string;
  try {
    file = resolveInsideDir(spec, dir, "spec");
  } catch (error) {
    // Watch where it should be: creating it loads it.
    const files = isAbsolute(spec) ? [spec] : [resolve(dir, spec)];
    return { source, errors: [(error as Error).message], warnings: [], files, leftOut: [], notes: [] };
  }
  let files = [file];
  try {
    files = [realpathSync(file)];
    const bundled = bundleSpecFile(file, dir);
    return await prepare(bundled.document, {
      source,
      files: bundled.files,
      warnings: bundled.warnings,
      errors: bundled.errors,
    });
  } catch (error) {
    return { source, errors: [(error as Error).message], warnings: [], files, leftOut: [], notes: [] };
  }
}

/** Fetches and loads `<upstream>/openapi.json` from a ready provider. Never throws. */
export async function loadUpstreamSpec(upstream: string, timeoutMs?: number): Promise<LoadedSpec> {
  const source = `GET ${upstream}/openapi.json`;
  try {
    const fetched = await fetchUpstreamSpec(upstream, timeoutMs);
    const bundled = bundleDocument(fetched);
    return await prepare(bundled.document, {
      source,
      files: [],
      warnings: bundled.warnings,
      errors: bundled.errors,
    });
  } catch (error) {
    if (error instanceof UpstreamStatusError && error.status === 404) {
      // A provider need not describe itself (`python3 -m http.server` does not): no error, no warning.
      return {
        source,
        errors: [],
        warnings: [],
        files: [],
        leftOut: [],
        // Without the upstream's address (its port changes with each start), so a restart that
        // gets the same answer is recognised as nothing new to say.
        notes: ["No spec: its GET /openapi.json answered 404 (spec: false in its manifest skips asking)"],
      };
    }
    return { source, errors: [(error as Error).message], warnings: [], files: [], leftOut: [], notes: [] };
  }
}

/** Validates a bundled document and, when it is valid, upgrades it to OpenAPI 3.1. */
async function prepare(
  input: OpenApiDocument,
  found: { source: string; files: string[]; warnings: string[]; errors: string[] },
): Promise<LoadedSpec> {
  const { source, files, warnings } = found;
  const none = { leftOut: [], notes: [] };
  const validation = await validateSpec(input);
  const inputVersion = validation.version ?? versionOf(input);
  if (found.errors.length > 0) {
    return {
      source,
      inputVersion,
      input,
      errors: [...found.errors, ...validation.errors],
      warnings,
      files,
      ...none,
    };
  }
  let valid = input;
  let leftOut: LeftOut[] = [];
  if (!validation.valid) {
    // Checked operation by operation: the valid ones are kept, the others said why.
    const salvaged = await salvageOperations(input, validation.raw);
    if (!salvaged.document) {
      const errors =
        salvaged.errors.length > 0 ? salvaged.errors : ["The document is not a valid OpenAPI document"];
      return { source, inputVersion, input, errors, warnings, files, ...none };
    }
    valid = salvaged.document;
    leftOut = salvaged.leftOut;
  }
  let document: OpenApiDocument;
  try {
    document = await upgradeSpec(valid, warnings);
  } catch (error) {
    return {
      source,
      inputVersion,
      input,
      errors: [`Cannot upgrade it to OpenAPI 3.1: ${(error as Error).message}`],
      warnings,
      files,
      ...none,
    };
  }
  if (inputVersion === "3.2") warnings.push("OpenAPI 3.2 is merged as it is into the 3.1 document");
  return { source, inputVersion, document, errors: [], warnings, files, leftOut, notes: [] };
}

function versionOf(doc: OpenApiDocument): string | undefined {
  const raw = typeof doc.openapi === "string" ? doc.openapi : doc.swagger;
  return typeof raw === "string" ? raw.split(".").slice(0, 2).join(".") : undefined;
}
