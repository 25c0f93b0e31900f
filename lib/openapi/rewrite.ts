import { LITERAL_KEYS, NAME_MAPS } from "./bundle.ts";
import type { OpenApiDocument } from "./load.ts";
import { formatPointer, getAt, isObject, parsePointer, refTo } from "./pointer.ts";

/** What the merged document needs to know about the provider whose spec is rewritten. */
export interface ProviderFacts {
  code: string;
  namespace: string;
  status: string;
  /** The provider's tag: every one of its operations gets it, and only it. */
  tag: string;
}

/** A provider's part of the merged document. */
export interface RewrittenSpec {
  /** Path items under their gateway paths (`<namespace><server base path><path>`). */
  paths: Record<string, unknown>;
  webhooks: Record<string, unknown>;
  /** Components under their new names, by type. */
  components: Record<string, Record<string, unknown>>;
  warnings: string[];
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/**
 * Rewrites one provider's OpenAPI 3.1 document for the merged document, without changing it:
 * paths get the provider's namespace (and its server's base path), components are renamed
 * `<code>_<Name>` and every reference to them follows (`$ref`, including nested ones and those
 * in callbacks and links; discriminator mappings, implicit ones made explicit; security
 * requirements; link `operationRef` and `operationId`), operationIds become unique
 * `<code>_<operationId>`, servers are dropped (requests go through the gateway), and the
 * provider's global `security` moves onto its operations.
 *
 * `shared.operationIds` and `shared.components` are what the merged document already holds:
 * new names never clash with them, and the new operationIds are added to the set.
 */
export function rewriteProvider(
  document: OpenApiDocument,
  provider: ProviderFacts,
  shared: { operationIds: Set<string>; components: Record<string, Record<string, unknown>> },
): RewrittenSpec {
  return new Rewriter(document, provider, shared).run();
}

class Rewriter {
  readonly #doc: OpenApiDocument;
  readonly #provider: ProviderFacts;
  readonly #shared: { operationIds: Set<string>; components: Record<string, Record<string, unknown>> };
  readonly #warnings = new Set<string>();
  /** `<namespace><server base path>`, what every path gets in front. */
  #prefix = "";
  /** Component renames: type → old name → new name. */
  readonly #names = new Map<string, Map<string, string>>();
  /** Operation objects of the input → their new operationId. */
  readonly #operations = new Map<object, string>();
  /** Operations directly under paths or webhooks (not in callbacks): they get the tag and global security. */
  readonly #topLevel = new Set<object>();
  /** operationId as the provider wrote it → the new one (for links). */
  readonly #operationIdMap = new Map<string, string>();
  /** Component schema name → names of the component schemas that extend it with allOf. */
  readonly #children = new Map<string, string[]>();
  /** Foreign `$ref` targets being inlined, to stop at a cycle. */
  readonly #inlining = new Set<string>();
  #security: unknown;

  constructor(
    document: OpenApiDocument,
    provider: ProviderFacts,
    shared: { operationIds: Set<string>; components: Record<string, Record<string, unknown>> },
  ) {
    this.#doc = document;
    this.#provider = provider;
    this.#shared = shared;
  }

  run(): RewrittenSpec {
    this.#prefix = this.#provider.namespace + this.#basePath();
    this.#nameComponents();
    this.#nameOperations();
    this.#findChildren();
    this.#security = Array.isArray(this.#doc.security) ? this.#renameSecurity(this.#doc.security) : undefined;

    const paths: Record<string, unknown> = {};
    for (const [path, item] of Object.entries(isObject(this.#doc.paths) ? this.#doc.paths : {})) {
      paths[this.#gatewayPath(path)] = this.#pathItem(item, ["paths", path]);
    }
    const webhooks: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(isObject(this.#doc.webhooks) ? this.#doc.webhooks : {})) {
      webhooks[`${this.#provider.code}_${name}`] = this.#pathItem(item, ["webhooks", name]);
    }
    const components: Record<string, Record<string, unknown>> = {};
    const source = isObject(this.#doc.components) ? this.#doc.components : {};
    for (const [type, entries] of Object.entries(source)) {
      if (!isObject(entries)) continue;
      const renames = this.#names.get(type);
      if (!renames) continue;
      const out: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(entries)) {
        out[renames.get(name)!] =
          type === "pathItems"
            ? this.#pathItem(value, ["components", type, name])
            : this.#walk(value, ["components", type, name]);
      }
      components[type] = out;
    }
    if (typeof this.#doc.jsonSchemaDialect === "string") {
      this.#warnings.add(
        `jsonSchemaDialect ${this.#doc.jsonSchemaDialect} is not carried over: the merged document uses the OpenAPI 3.1 default`,
      );
    }
    return { paths, webhooks, components, warnings: [...this.#warnings] };
  }

  /** The path part of the provider's first server URL (`http://host/v1` → `/v1`), `""` for none. */
  #basePath(): string {
    const servers = Array.isArray(this.#doc.servers) ? this.#doc.servers.filter(isObject) : [];
    const bases = servers.map((server) => serverPath(server));
    if (new Set(bases).size > 1) {
      this.#warnings.add(
        `Its servers have different base paths (${[...new Set(bases)].join(", ")}); the gateway uses the first, ${bases[0] || "/"}`,
      );
    }
    return bases[0] ?? "";
  }

  #gatewayPath(path: string): string {
    return this.#prefix + (path === "/" && this.#prefix !== "" ? "" : path);
  }

  #nameComponents(): void {
    const source = isObject(this.#doc.components) ? this.#doc.components : {};
    for (const [type, entries] of Object.entries(source)) {
      if (!isObject(entries)) continue;
      const taken = new Set(Object.keys(this.#shared.components[type] ?? {}));
      const renames = new Map<string, string>();
      for (const name of Object.keys(entries)) {
        const wanted = `${this.#provider.code}_${name}`;
        let candidate = wanted;
        for (let n = 2; taken.has(candidate); n++) candidate = `${wanted}_${n}`;
        taken.add(candidate);
        renames.set(name, candidate);
      }
      this.#names.set(type, renames);
    }
  }

  /** Gives every operation (paths, webhooks, callbacks, component path items) its new operationId, in document order. */
  #nameOperations(): void {
    const visitItem = (item: unknown, label: string, topLevel: boolean): void => {
      if (!isObject(item)) return;
      for (const method of METHODS) {
        const op = item[method];
        if (!isObject(op) || this.#operations.has(op)) continue;
        const given =
          typeof op.operationId === "string" && op.operationId !== "" ? op.operationId : undefined;
        const wanted = `${this.#provider.code}_${given ?? `${method}${slug(label)}`}`;
        let id = wanted;
        for (let n = 2; this.#shared.operationIds.has(id); n++) id = `${wanted}_${n}`;
        this.#shared.operationIds.add(id);
        this.#operations.set(op, id);
        if (topLevel) this.#topLevel.add(op);
        if (given && !this.#operationIdMap.has(given)) this.#operationIdMap.set(given, id);
        for (const callback of Object.values(isObject(op.callbacks) ? op.callbacks : {})) {
          if (!isObject(callback)) continue;
          for (const [expression, callbackItem] of Object.entries(callback)) {
            visitItem(callbackItem, `${label}_callback_${expression}`, false);
          }
        }
      }
    };
    for (const [path, item] of Object.entries(isObject(this.#doc.paths) ? this.#doc.paths : {})) {
      visitItem(item, path, true);
    }
    for (const [name, item] of Object.entries(isObject(this.#doc.webhooks) ? this.#doc.webhooks : {})) {
      visitItem(item, `webhook_${name}`, true);
    }
    const components = isObject(this.#doc.components) ? this.#doc.components : {};
    for (const [name, item] of Object.entries(isObject(components.pathItems) ? components.pathItems : {})) {
      visitItem(item, `pathItem_${name}`, false);
    }
    for (const [name, callback] of Object.entries(
      isObject(components.callbacks) ? components.callbacks : {},
    )) {
      if (!isObject(callback)) continue;
      for (const [expression, item] of Object.entries(callback)) {
        visitItem(item, `callback_${name}_${expression}`, false);
      }
    }
  }

  /** Which component schemas extend which (`allOf: [{$ref: Parent}]`), for implicit discriminator values. */
  #findChildren(): void {
    const components = isObject(this.#doc.components) ? this.#doc.components : {};
    const schemas = isObject(components.schemas) ? components.schemas : {};
    for (const [name, schema] of Object.entries(schemas)) {
      if (!isObject(schema) || !Array.isArray(schema.allOf)) continue;
      for (const part of schema.allOf) {
        const parent = isObject(part) && typeof part.$ref === "string" ? schemaName(part.$ref) : undefined;
        if (parent !== undefined) this.#children.set(parent, [...(this.#children.get(parent) ?? []), name]);
      }
    }
  }

  #pathItem(item: unknown, path: string[]): unknown {
    if (!isObject(item)) return item;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(item)) {
      if (key === "servers") {
        this.#warnings.add(
          `The servers of ${formatPointer(path)} are dropped: requests to it go through the gateway`,
        );
        continue;
      }
      out[key] = this.#walk(value, [...path, key]);
    }
    return out;
  }

  #operation(op: Record<string, unknown>, path: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const topLevel = this.#topLevel.has(op);
    for (const [key, value] of Object.entries(op)) {
      if (key === "servers") {
        this.#warnings.add(
          `The servers of ${formatPointer(path)} are dropped: requests to it go through the gateway`,
        );
      } else if (key === "operationId") {
        out.operationId = this.#operations.get(op);
      } else if (key === "tags" && topLevel) {
        // Set below: one tag per provider.
      } else if (key === "security" && Array.isArray(value)) {
        out.security = this.#renameSecurity(value);
      } else {
        out[key] = this.#walk(value, [...path, key]);
      }
    }
    if (!("operationId" in out)) out.operationId = this.#operations.get(op);
    if (topLevel) {
      out.tags = [this.#provider.tag];
      if (!("security" in out) && this.#security !== undefined) out.security = this.#security;
      out["x-gateway-status"] = this.#provider.status;
    }
    return out;
  }

  #renameSecurity(requirements: unknown[]): unknown[] {
    const renames = this.#names.get("securitySchemes");
    return requirements.map((requirement) => {
      if (!isObject(requirement)) return requirement;
      const out: Record<string, unknown> = {};
      for (const [name, scopes] of Object.entries(requirement)) out[renames?.get(name) ?? name] = scopes;
      return out;
    });
  }

  #walk(node: unknown, path: string[]): unknown {
    if (Array.isArray(node)) return node.map((item, i) => this.#walk(item, [...path, String(i)]));
    if (!isObject(node)) return node;
    if (this.#operations.has(node)) return this.#operation(node, path);
    if (typeof node.$ref === "string" && this.#isForeign(node.$ref)) return this.#inline(node, path);
    const parent = path[path.length - 2];
    const isLink = parent === "links";
    const names = NAME_MAPS.has(path[path.length - 1] ?? "");
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (names) {
        out[key] = this.#walk(value, [...path, key]);
      } else if (LITERAL_KEYS.has(key) || (key === "examples" && Array.isArray(value))) {
        out[key] = value;
      } else if (key === "value" && parent === "examples") {
        out[key] = value; // an Example object's value is data
      } else if (key === "$ref" && typeof value === "string") {
        out[key] = this.#ref(value);
      } else if (isLink && key === "operationRef" && typeof value === "string") {
        out[key] = this.#ref(value);
      } else if (isLink && key === "operationId" && typeof value === "string") {
        out[key] = this.#operationIdMap.get(value) ?? `${this.#provider.code}_${value}`;
      } else if (key === "discriminator" && isObject(value)) {
        out[key] = this.#discriminator(value, node, path);
      } else {
        out[key] = this.#walk(value, [...path, key]);
      }
    }
    return out;
  }

  /** A reference to a component, a path or a webhook of this document, renamed. */
  #ref(ref: string): string {
    if (!ref.startsWith("#/")) return ref;
    let segments: string[];
    try {
      segments = parsePointer(ref.slice(1));
    } catch {
      return ref;
    }
    const [root, second, third] = segments;
    if (root === "components" && second !== undefined && third !== undefined) {
      const renamed = this.#names.get(second)?.get(third);
      if (renamed) segments[2] = renamed;
    } else if (root === "paths" && second !== undefined) {
      segments[1] = this.#gatewayPath(second);
    } else if (root === "webhooks" && second !== undefined) {
      segments[1] = `${this.#provider.code}_${second}`;
    }
    return refTo(segments);
  }

  /** Whether a `$ref` points somewhere the merged document does not keep (not components, paths or webhooks). */
  #isForeign(ref: string): boolean {
    if (!ref.startsWith("#/")) return false;
    const root = ref.slice(2).split("/")[0];
    return root !== "components" && root !== "paths" && root !== "webhooks";
  }

  /** A reference to a part of the document the merge does not keep (`#/x-common/...`): its content, copied in. */
  #inline(node: Record<string, unknown>, path: string[]): unknown {
    const ref = node.$ref as string;
    let target: unknown;
    try {
      target = getAt(this.#doc, parsePointer(ref.slice(1)));
    } catch {
      target = undefined;
    }
    if (target === undefined || this.#inlining.has(ref)) {
      this.#warnings.add(
        `$ref "${ref}" cannot be carried over: it points outside components, paths and webhooks`,
      );
      return { description: `Reference not carried over by the gateway: ${ref}` };
    }
    this.#inlining.add(ref);
    const value = this.#walk(target, path);
    this.#inlining.delete(ref);
    const siblings: Record<string, unknown> = {};
    for (const [key, sibling] of Object.entries(node)) {
      if (key !== "$ref") siblings[key] = this.#walk(sibling, [...path, key]);
    }
    return isObject(value) ? { ...value, ...siblings } : value;
  }

  /**
   * Renames the schemas a discriminator maps to. Implicit mappings (a payload value that is a
   * schema's name) would break with the rename, so the names of the `oneOf`/`anyOf` members and
   * of the schemas that extend this one are made explicit.
   */
  #discriminator(
    discriminator: Record<string, unknown>,
    schema: Record<string, unknown>,
    path: string[],
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(discriminator)) {
      if (key !== "mapping") out[key] = this.#walk(value, [...path, "discriminator", key]);
    }
    const schemas = this.#names.get("schemas");
    const mapping: Record<string, unknown> = {};
    const given = isObject(discriminator.mapping) ? discriminator.mapping : {};
    for (const [value, target] of Object.entries(given)) {
      if (typeof target !== "string") mapping[value] = target;
      else if (target.startsWith("#")) mapping[value] = this.#ref(target);
      else mapping[value] = schemas?.get(target) ?? target;
    }
    const implicit: string[] = [];
    for (const keyword of ["oneOf", "anyOf"]) {
      const members = schema[keyword];
      if (!Array.isArray(members)) continue;
      for (const member of members) {
        const name =
          isObject(member) && typeof member.$ref === "string" ? schemaName(member.$ref) : undefined;
        if (name !== undefined) implicit.push(name);
      }
    }
    const self = path.length === 3 && path[0] === "components" && path[1] === "schemas" ? path[2] : undefined;
    if (self !== undefined) implicit.push(...(this.#children.get(self) ?? []));
    for (const name of implicit) {
      const renamed = schemas?.get(name);
      if (renamed && !(name in mapping)) mapping[name] = refTo(["components", "schemas", renamed]);
    }
    if (Object.keys(mapping).length > 0 || "mapping" in discriminator) out.mapping = mapping;
    return out;
  }
}

/** `#/components/schemas/Pet` → `Pet`; undefined for anything else. */
function schemaName(ref: string): string | undefined {
  if (!ref.startsWith("#/components/schemas/")) return undefined;
  try {
    const segments = parsePointer(ref.slice(1));
    return segments.length === 3 ? segments[2] : undefined;
  } catch {
    return undefined;
  }
}

/** The path of a server URL, variables set to their defaults, without a trailing slash. */
function serverPath(server: Record<string, unknown>): string {
  let url = typeof server.url === "string" ? server.url : "";
  const variables = isObject(server.variables) ? server.variables : {};
  url = url.replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const variable = variables[name];
    return isObject(variable) && typeof variable.default === "string" ? variable.default : whole;
  });
  let path = url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(url);
  if (scheme) path = url.slice(scheme[0].length);
  else if (url.startsWith("//")) path = url.slice(2).replace(/^[^/]*/, "");
  path = path.split(/[?#]/)[0]!.replace(/\/+$/, "");
  if (path !== "" && !path.startsWith("/")) path = `/${path}`;
  // A path still holding a {variable} without default cannot be known: take none.
  return /[{}]/.test(path) ? "" : path;
}

function slug(label: string): string {
  const s = label.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  return s === "" ? "_root" : `_${s}`;
}
