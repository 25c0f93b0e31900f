/**
 * JSON Schemas that every MCP client accepts, made from OpenAPI operations: the root is always
 * `type: object`; local `$ref`s are inlined (a cycle is cut to an open schema that says so);
 * every array has `items`; OpenAPI-only keywords (`discriminator`, `xml`, `example`, `x-…`) are
 * dropped. Clients are known to reject a whole tool list for a top-level combinator, a `$ref`,
 * or an array without `items`, so none reaches them.
 */

type Json = Record<string, unknown>;

const DROPPED = new Set([
  "discriminator",
  "xml",
  "externalDocs",
  "example",
  "$schema",
  "$id",
  "$defs",
  "definitions",
]);
/** Schema keywords whose value is one schema, and those whose value is a list or a map of them. */
const ONE = [
  "items",
  "additionalProperties",
  "not",
  "contains",
  "propertyNames",
  "if",
  "then",
  "else",
  "unevaluatedProperties",
  "unevaluatedItems",
];
const MANY = ["allOf", "anyOf", "oneOf", "prefixItems"];
const MAP = ["properties", "patternProperties", "dependentSchemas"];
/** How deep refs are inlined before the rest is left open (a guard against enormous expansions). */
const MAX_DEPTH = 12;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Follows a local JSON pointer (`#/components/schemas/X`) in `document`. */
function resolvePointer(document: Json, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = document;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * A copy of `schema` that clients accept, its `$ref`s into `document` inlined. `seen` holds the
 * refs being expanded above (a cycle cuts there).
 */
export function normalizeSchema(
  schema: unknown,
  document: Json,
  seen: readonly string[] = [],
  depth = 0,
): Json {
  if (schema === true || schema === undefined) return {};
  if (schema === false) return { not: {} };
  if (!isObject(schema)) return {};
  if (typeof schema.$ref === "string") {
    const ref = schema.$ref;
    const { $ref: _, ...siblings } = schema;
    if (seen.includes(ref) || depth >= MAX_DEPTH) {
      return {
        description: `(recursive: ${ref.split("/").pop()}; any value of that shape)`,
        ...pickDescription(siblings),
      };
    }
    const target = resolvePointer(document, ref);
    if (target === undefined) return { description: `(unresolved reference ${ref})` };
    const inlined = normalizeSchema(target, document, [...seen, ref], depth + 1);
    return Object.keys(siblings).length > 0
      ? { ...inlined, ...normalizeSchema(siblings, document, seen, depth) }
      : inlined;
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED.has(key) || key.startsWith("x-")) continue;
    // `additionalProperties: false` and the like stay booleans: every client reads those.
    if (ONE.includes(key) && typeof value === "boolean") out[key] = value;
    else if (ONE.includes(key) && isObject(value)) out[key] = normalizeSchema(value, document, seen, depth);
    else if (MANY.includes(key) && Array.isArray(value))
      out[key] = value.map((item) => normalizeSchema(item, document, seen, depth));
    else if (MAP.includes(key) && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, item]) => [name, normalizeSchema(item, document, seen, depth)]),
      );
    } else if (key === "nullable") {
      // OpenAPI 3.0's nullable (a merged 3.1 document has none left, but be safe).
      if (value === true && typeof schema.type === "string") out.type = [schema.type, "null"];
    } else if (
      key === "type" &&
      "nullable" in schema &&
      schema.nullable === true &&
      typeof value === "string"
    ) {
      out.type = [value, "null"];
    } else out[key] = value;
  }
  const type = out.type;
  const isArray = type === "array" || (Array.isArray(type) && type.includes("array"));
  if (isArray && out.items === undefined && out.prefixItems === undefined) out.items = {};
  return out;
}

function pickDescription(schema: Json): Json {
  return typeof schema.description === "string" ? { description: schema.description } : {};
}

/** Where an argument goes in the HTTP request. */
export interface ArgumentPlace {
  in: "path" | "query" | "header" | "body";
  /** The parameter's name in the request. */
  name: string;
}

/** An operation's arguments as one object schema, and where each argument goes. */
export interface OperationInput {
  schema: Json;
  places: Record<string, ArgumentPlace>;
  /** The media type the body is sent as, when there is one. */
  bodyType?: string;
}

/**
 * The input schema of an operation: its path, query and header parameters (the path item's and
 * its own; a name used in two places gets its place as a prefix, `query_id`), and its request
 * body as `body` (JSON, or a form as an object, or text).
 */
export function operationInput(pathItem: Json, operation: Json, document: Json): OperationInput {
  const properties: Record<string, Json> = {};
  const required: string[] = [];
  const places: Record<string, ArgumentPlace> = {};
  const parameters = new Map<string, Json>();
  for (const list of [pathItem.parameters, operation.parameters]) {
    if (!Array.isArray(list)) continue;
    for (const raw of list) {
      const parameter =
        isObject(raw) && typeof raw.$ref === "string" ? resolvePointer(document, raw.$ref) : raw;
      if (!isObject(parameter) || typeof parameter.name !== "string" || typeof parameter.in !== "string")
        continue;
      // An operation's parameter overrides the path item's of the same name and place.
      parameters.set(`${parameter.in}:${parameter.name}`, parameter);
    }
  }
  const names = [...parameters.values()].map((p) => p.name as string);
  for (const parameter of parameters.values()) {
    const where = parameter.in as string;
    if (where !== "path" && where !== "query" && where !== "header") continue;
    const name = parameter.name as string;
    const key = names.filter((n) => n === name).length > 1 || name === "body" ? `${where}_${name}` : name;
    const schema = normalizeSchema(parameter.schema ?? { type: "string" }, document);
    if (typeof parameter.description === "string" && schema.description === undefined)
      schema.description = parameter.description;
    properties[key] = schema;
    places[key] = { in: where, name };
    if (parameter.required === true || where === "path") required.push(key);
  }
  let bodyType: string | undefined;
  const body =
    isObject(operation.requestBody) && typeof operation.requestBody.$ref === "string"
      ? resolvePointer(document, operation.requestBody.$ref)
      : operation.requestBody;
  if (isObject(body) && isObject(body.content)) {
    const content = body.content as Record<string, Json>;
    const types = Object.keys(content);
    bodyType =
      types.find((t) => t === "application/json") ??
      types.find((t) => /[/+]json\b/.test(t)) ??
      types.find((t) => t === "application/x-www-form-urlencoded") ??
      types.find((t) => t.startsWith("text/"));
    if (bodyType) {
      const media = content[bodyType];
      const schema = normalizeSchema(
        media?.schema ?? (bodyType.startsWith("text/") ? { type: "string" } : {}),
        document,
      );
      if (typeof body.description === "string" && schema.description === undefined)
        schema.description = body.description;
      properties.body = schema;
      places.body = { in: "body", name: "body" };
      if (body.required === true) required.push("body");
    }
  }
  const schema: Json = { type: "object", properties };
  if (required.length > 0) schema.required = required;
  return { schema, places, bodyType };
}
