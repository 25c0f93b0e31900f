/**
 * A spec that fails validation, checked operation by operation: real specs are often slightly
 * wrong, and an operator would rather lose the broken operation than the whole API. Every
 * operation that is valid on its own (with the spec's shared parts) is kept; each invalid one is
 * left out with a sentence saying why (./explain.ts). Findings outside the paths (a broken
 * component, a bad `info`) still leave the whole spec out.
 *
 * Only the path items the validator pointed at are checked one operation at a time, so the cost
 * is a few validations of the document, not one per operation.
 */
import { explainOperation, explainShared, METHODS, type RawError } from "./explain.ts";
import type { OpenApiDocument } from "./load.ts";
import { isObject } from "./pointer.ts";
import { validateSpec } from "./validate.ts";

/** An operation left out of a provider's spec, and why. */
export interface LeftOut {
  method: string;
  path: string;
  reason: string;
}

type Json = Record<string, unknown>;

export interface Salvaged {
  /** The spec without its invalid operations, valid; absent when it cannot be saved. */
  document?: OpenApiDocument;
  leftOut: LeftOut[];
  /** Why the whole spec is left out, when it is (sentences). */
  errors: string[];
}

/** `input` with `paths` replaced. */
function withPaths(input: OpenApiDocument, paths: Json): OpenApiDocument {
  return { ...input, paths };
}

/** The path item with only `method` of its operations (its shared fields kept). */
function onlyOperation(pathItem: Json, method: string): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(pathItem)) {
    if (!(METHODS as readonly string[]).includes(key) || key === method) out[key] = value;
  }
  return out;
}

/** Rounds of salvage: the validator checks in stages (the schema first, then references and path parameters). */
const MAX_ROUNDS = 3;

/**
 * Keeps what can be kept of `input`, which failed validation with `raw`. The validator reports in
 * stages (path parameters are checked only once the schema passes), so what is kept is validated
 * again and salvaged again, a few rounds at most.
 */
export async function salvageOperations(input: OpenApiDocument, raw: readonly RawError[]): Promise<Salvaged> {
  const leftOut: LeftOut[] = [];
  let current = input;
  let findings = raw;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const once = await salvageOnce(current, findings);
    if (!once.document) return { leftOut: [], errors: once.errors };
    leftOut.push(...once.leftOut);
    const check = await validateSpec(once.document);
    if (check.valid) return { document: once.document, leftOut, errors: [] };
    current = once.document;
    findings = check.raw;
  }
  // Still failing after the rounds (a finding no operation could be blamed for): left out whole.
  return { leftOut: [], errors: everything(input, findings) };
}

/** One round: the operations `raw` names are left out; the result is not validated yet. */
async function salvageOnce(input: OpenApiDocument, raw: readonly RawError[]): Promise<Salvaged> {
  const shared = raw.filter((error) => error.path[0] !== "paths" || error.path.length < 2);
  if (shared.length > 0) return { leftOut: [], errors: everything(input, raw) };
  const paths = isObject(input.paths) ? (input.paths as Json) : {};
  const byPath = new Map<string, RawError[]>();
  for (const error of raw) byPath.set(error.path[1]!, [...(byPath.get(error.path[1]!) ?? []), error]);

  const leftOut: LeftOut[] = [];
  const kept: Json = { ...paths };
  for (const [path, errors] of byPath) {
    const pathItem = paths[path];
    if (!isObject(pathItem)) {
      return { leftOut: [], errors: everything(input, errors) };
    }
    const keptItem: Json = { ...pathItem };
    for (const method of METHODS) {
      const value = pathItem[method];
      if (value !== undefined && !isObject(value)) {
        // `get:` with nothing after it (a stub) is null: no operation to keep, nor to explain.
        leftOut.push({
          method: method.toUpperCase(),
          path,
          reason: `${method.toUpperCase()} ${path}: it is ${JSON.stringify(value)}, not an operation object`,
        });
        delete keptItem[method];
        continue;
      }
      if (!isObject(value)) continue;
      let own = errors.filter((error) => error.path[2] === method);
      if (own.length === 0) {
        // Findings about the path item as a whole: see whether this operation alone passes.
        const alone = await validateSpec(withPaths(input, { [path]: onlyOperation(pathItem, method) }));
        if (alone.valid) continue;
        own = alone.raw.filter((error) => error.path[0] === "paths" && error.path[1] === path);
        if (own.length === 0) return { leftOut: [], errors: everything(input, alone.raw) };
      }
      leftOut.push({
        method: method.toUpperCase(),
        path,
        reason: explainOperation(input, method, path, own),
      });
      delete keptItem[method];
    }
    if (METHODS.some((method) => isObject(keptItem[method]))) kept[path] = keptItem;
    else delete kept[path];
  }
  return { document: withPaths(input, kept), leftOut, errors: [] };
}

/** Every finding as a sentence: those outside the paths, then one per operation they name. */
function everything(input: OpenApiDocument, raw: readonly RawError[]): string[] {
  const out = raw
    .filter((e) => e.path[0] !== "paths" || e.path.length < 3)
    .map((error) => explainShared(input, error));
  const operations = new Map<string, RawError[]>();
  for (const error of raw) {
    if (error.path[0] !== "paths" || !(METHODS as readonly string[]).includes(error.path[2] ?? "")) continue;
    const key = `${error.path[2]} ${error.path[1]}`;
    operations.set(key, [...(operations.get(key) ?? []), error]);
  }
  for (const [key, errors] of operations) {
    const [method, path] = [key.slice(0, key.indexOf(" ")), key.slice(key.indexOf(" ") + 1)];
    out.push(explainOperation(input, method, path, errors));
  }
  return unique(out);
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
