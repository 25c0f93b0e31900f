/**
 * The one place where the validator's raw messages become sentences an operator can act on:
 * what is wrong, where (the operation, the field) and by which rule. The same sentences reach
 * the log, `x-gateway`, `gateway check` and `gateway smoke`.
 *
 * A raw message such as `/paths/~1files_put/put/parameters/6: Property schema is not expected to
 * be here` says where a JSON Schema gave up, not what the author did wrong: known mistakes are
 * recognised from the document itself (a rule, then the sentence that names it); anything else
 * is the most specific raw message, its pointer turned into a field path and its wording made
 * plain.
 */
import type { OpenApiDocument } from "./load.ts";
import { isObject, parsePointer } from "./pointer.ts";

/** A validator finding: where (pointer segments) and what. */
export interface RawError {
  path: string[];
  message: string;
}

type Json = Record<string, unknown>;

export const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** The validator's wording made plain (one rewrite per message shape it uses). */
function plain(message: string): string {
  let m = /^Property (.+) is not expected to be here$/.exec(message);
  if (m) return `has a field "${m[1]}" that is not allowed there`;
  m = /^must have required property '(.+)'$/.exec(message);
  if (m) return `lacks the required field "${m[1]}"`;
  m = /^(?:\w+ )?must be equal to one of the allowed values$/.exec(message);
  if (m) return "is not one of the values allowed there";
  m = /^type must be (\w+)$/.exec(message);
  if (m) return `must be of type ${m[1]}`;
  m = /^(?:anyOf|oneOf) must match (?:a|exactly one) schema in (?:anyOf|oneOf)$/.exec(message);
  if (m) return "matches none of the forms allowed there";
  return message.replace(/^(\w+) (must|should) /, "$2 ");
}

/** Pointer segments as a field path: `["parameters", "6", "schema"]` → `parameters[6].schema`. */
function fieldPath(segments: readonly string[]): string {
  let out = "";
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** A local `$ref` followed once (parameters and the like are often shared). */
function deref(document: OpenApiDocument, value: unknown): unknown {
  if (!isObject(value) || typeof value.$ref !== "string" || !value.$ref.startsWith("#/")) return value;
  let node: unknown = document;
  for (const key of parsePointer(value.$ref.slice(1))) {
    if (!isObject(node)) return value;
    node = node[key];
  }
  return node ?? value;
}

const PARAMETER_PLACES_2 = ["path", "query", "header", "formData", "body"];
const PARAMETER_PLACES_3 = ["path", "query", "header", "cookie"];
const SCHEME_TYPES_2 = ["basic", "apiKey", "oauth2"];
const SCHEME_TYPES_3 = ["apiKey", "http", "oauth2", "openIdConnect"];

/** `a, b or c` */
function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

/** Mistakes real specs make, recognised from the operation itself: the rule's sentence, or null. */
function knownMistake(document: OpenApiDocument, pathItem: Json, operation: Json): string | null {
  const swagger2 = typeof document.swagger === "string";
  const parameters = [
    ...(Array.isArray(pathItem.parameters) ? pathItem.parameters : []),
    ...(Array.isArray(operation.parameters) ? operation.parameters : []),
  ].map((p) => deref(document, p));
  for (const parameter of parameters) {
    if (!isObject(parameter)) continue;
    const name = String(parameter.name ?? "?");
    const where = String(parameter.in ?? "?");
    const schema = deref(document, parameter.schema);
    if (swagger2) {
      const fileInSchema = isObject(schema) && schema.type === "file";
      if (where !== "formData" && (parameter.type === "file" || fileInSchema)) {
        return `parameter "${name}" is in "${where}" with ${fileInSchema ? 'schema type "file"' : 'type "file"'}; Swagger 2.0 allows type "file" only for formData parameters`;
      }
      if (where === "body" && !isObject(parameter.schema)) {
        return `parameter "${name}" is in "body" without a schema; Swagger 2.0 body parameters need one`;
      }
      if (where !== "body" && parameter.schema !== undefined) {
        return `parameter "${name}" is in "${where}" with a schema; in Swagger 2.0 only body parameters take one (the others give type directly)`;
      }
    }
    const places = swagger2 ? PARAMETER_PLACES_2 : PARAMETER_PLACES_3;
    if (typeof parameter.in === "string" && !places.includes(parameter.in)) {
      return `parameter "${name}" is in "${where}"; ${swagger2 ? "Swagger 2.0" : "OpenAPI"} parameters are in ${orList(places)}`;
    }
    if (where === "path" && parameter.required !== true) {
      return `path parameter "${name}" is not marked required: true; path parameters always are`;
    }
  }
  if (!isObject(operation.responses)) return 'it has no "responses"; every operation needs at least one';
  return null;
}

/** The raw error to show: the deepest, with messages about the whole path item last. */
function mostSpecific(errors: readonly RawError[]): RawError | undefined {
  return [...errors].sort((a, b) => b.path.length - a.path.length)[0];
}

/**
 * Why one operation is not valid, as a sentence that starts with the operation:
 * `PUT /files_put/{root}/{path}: parameter "file" is in "body" with schema type "file"; ...`.
 * `errors` are the validator's findings for it (pointers from the document root).
 */
export function explainOperation(
  document: OpenApiDocument,
  method: string,
  path: string,
  errors: readonly RawError[],
): string {
  const paths = isObject(document.paths) ? document.paths : {};
  const pathItem = isObject(paths[path]) ? (paths[path] as Json) : {};
  const operation = isObject(pathItem[method]) ? (pathItem[method] as Json) : {};
  const head = `${method.toUpperCase()} ${path}`;
  const rule = knownMistake(document, pathItem, operation);
  if (rule) return `${head}: ${rule}`;
  const error = mostSpecific(errors.filter((e) => e.path[2] === method)) ?? mostSpecific(errors);
  if (!error) return `${head}: the validator rejects it`;
  // The field below the operation (or the path item, for its shared parameters).
  const within = error.path[2] === method ? error.path.slice(3) : error.path.slice(2);
  const field = fieldPath(within);
  return `${head}: ${field ? `${field} ` : ""}${plain(error.message)}`;
}

/** A finding not tied to one operation, as a sentence naming the field. */
export function explainShared(document: OpenApiDocument, error: RawError): string {
  const field = fieldPath(error.path);
  const rule = knownSharedMistake(document, error.path);
  if (rule) return `${field} ${rule}`;
  return field ? `${field} ${plain(error.message)}` : error.message;
}

/** Mistakes in the shared parts (components, definitions), recognised from the document. */
function knownSharedMistake(document: OpenApiDocument, path: readonly string[]): string | null {
  const swagger2 = typeof document.swagger === "string";
  const [top, slot, name] = path;
  const isScheme = swagger2
    ? top === "securityDefinitions" && slot !== undefined
    : top === "components" && slot === "securitySchemes" && name !== undefined;
  if (isScheme && path.length === (swagger2 ? 2 : 3)) {
    const schemes = swagger2
      ? document.securityDefinitions
      : (document.components as Json | undefined)?.securitySchemes;
    const scheme = isObject(schemes) ? schemes[swagger2 ? slot! : name!] : undefined;
    const types = swagger2 ? SCHEME_TYPES_2 : SCHEME_TYPES_3;
    if (isObject(scheme) && typeof scheme.type === "string" && !types.includes(scheme.type)) {
      return `has type "${scheme.type}"; ${swagger2 ? "Swagger 2.0" : "OpenAPI"} security schemes are ${orList(types)}${swagger2 ? "" : " (and mutualTLS from 3.1)"}`;
    }
  }
  return null;
}
