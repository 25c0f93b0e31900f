import { readFileSync, realpathSync } from "node:fs";
import { basename, dirname, extname, relative, resolve, sep } from "node:path";
import { asSpecDocument, MAX_SPEC_BYTES, type OpenApiDocument, parseSpecText } from "./load.ts";
import { formatPointer, getAt, isObject, parsePointer, refTo } from "./pointer.ts";

/** What bundling made of a spec: one self-contained document, and what it read and refused. */
export interface BundleResult {
  document: OpenApiDocument;
  /** Every file read or looked for (absolute paths), the root first: what to watch for changes. */
  files: string[];
  /** Refused references (a URL, a path leaving the provider directory): replaced, never fetched. */
  warnings: string[];
  /** References that cannot be resolved (a missing file or target, a file that does not parse). */
  errors: string[];
}

/** Where a `$ref` to another file was replaced, so that the document still shows what it was. */
export const REFUSED_REF_KEY = "x-gateway-refused-ref";

type ComponentType =
  | "schemas"
  | "parameters"
  | "responses"
  | "requestBodies"
  | "headers"
  | "examples"
  | "links"
  | "callbacks"
  | "pathItems";

/** Keywords whose value is one schema (JSON Schema 2020-12 and draft 4, as OpenAPI uses them). */
const SCHEMA_KEYWORDS = new Set([
  "schema",
  "items",
  "additionalProperties",
  "additionalItems",
  "not",
  "contains",
  "if",
  "then",
  "else",
  "propertyNames",
  "unevaluatedItems",
  "unevaluatedProperties",
  "contentSchema",
]);
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "dependentSchemas"]);
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems", "items"]);
/** Keywords whose value is data, never a document part: a `$ref` there is literal text. */
export const LITERAL_KEYS = new Set(["example", "default", "const", "enum"]);
/** Objects whose keys are names given by the author, not keywords (so `default` may be a key there). */
export const NAME_MAPS = new Set([
  "properties",
  "patternProperties",
  "$defs",
  "dependentSchemas",
  "definitions",
  "schemas",
  "responses",
  "parameters",
  "headers",
  "links",
  "callbacks",
  "requestBodies",
  "securitySchemes",
  "pathItems",
  "paths",
  "webhooks",
  "content",
  "encoding",
  "variables",
  "mapping",
  "scopes",
  "examples",
]);

/**
 * Reads a spec file and bundles every file it refers to (`$ref: ./schemas/pet.yaml`,
 * `common.json#/components/schemas/Error`) into one document. Only files inside `root` (the
 * provider directory, symlinks resolved) are read; a reference to a URL or to a path outside is
 * refused with a warning and replaced by a placeholder, never fetched. Throws only when the spec
 * file itself cannot be read or parsed.
 */
export function bundleSpecFile(file: string, root: string): BundleResult {
  const realRoot = realpathSync(root);
  const real = realpathSync(file);
  const text = readSpecFile(real);
  const document = asSpecDocument(
    parseSpecText(text, displayPath(real, realRoot)),
    displayPath(real, realRoot),
  );
  return bundleDocument(document, { file: real, root: realRoot });
}

/**
 * Bundles a parsed document. Without `file` (a spec fetched from a provider) every reference to
 * another document is refused: only local (`#/...`) references are kept.
 */
export function bundleDocument(
  document: OpenApiDocument,
  options: { file?: string; root?: string } = {},
): BundleResult {
  if (!hasExternalRef(document)) {
    return { document, files: options.file ? [options.file] : [], warnings: [], errors: [] };
  }
  return new Bundler(document, options).run();
}

function readSpecFile(file: string): string {
  const bytes = readFileSync(file);
  if (bytes.length > MAX_SPEC_BYTES) {
    throw new Error(`${file} is ${bytes.length} bytes, more than the ${MAX_SPEC_BYTES} a spec may have`);
  }
  return new TextDecoder().decode(bytes);
}

function displayPath(file: string, root: string | undefined): string {
  if (!root) return file;
  const rel = relative(root, file);
  return rel.startsWith("..") ? file : `./${rel.split(sep).join("/")}`;
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** Whether any `$ref` in `node` points at another document. */
function hasExternalRef(node: unknown, parentKey?: string): boolean {
  if (Array.isArray(node)) return node.some((item) => hasExternalRef(item));
  if (!isObject(node)) return false;
  if (typeof node.$ref === "string" && !node.$ref.startsWith("#")) return true;
  const names = parentKey !== undefined && NAME_MAPS.has(parentKey);
  for (const k in node) {
    if (!names && LITERAL_KEYS.has(k)) continue;
    if (hasExternalRef(node[k], k)) return true;
  }
  return false;
}

class Bundler {
  readonly #root: OpenApiDocument;
  readonly #rootFile: string | undefined;
  readonly #rootDir: string | undefined;
  readonly #swagger2: boolean;
  readonly #docs = new Map<string, unknown>();
  /** `file#pointer` → where its content now lives in the output. */
  readonly #located = new Map<string, string[]>();
  /** Component names in use, per type; hoisted components, per type, in order. */
  readonly #taken = new Map<ComponentType, Set<string>>();
  readonly #hoisted = new Map<ComponentType, Record<string, unknown>>();
  readonly #files: string[] = [];
  readonly #warnings = new Set<string>();
  readonly #errors = new Set<string>();

  constructor(root: OpenApiDocument, options: { file?: string; root?: string }) {
    this.#root = root;
    this.#rootFile = options.file;
    this.#rootDir = options.root;
    this.#swagger2 = typeof root.swagger === "string";
    if (options.file) {
      this.#docs.set(options.file, root);
      this.#files.push(options.file);
    }
    for (const type of COMPONENT_TYPES) {
      const section = getAt(root, this.#section(type) ?? []);
      this.#taken.set(type, new Set(isObject(section) ? Object.keys(section) : []));
    }
  }

  run(): BundleResult {
    const out: Record<string, unknown> = {};
    // Component sections first, so a file a component slot refers to lands in that slot.
    const sectionKeys = this.#swagger2 ? ["definitions", "parameters", "responses"] : ["components"];
    for (const key of sectionKeys) {
      if (key in this.#root) out[key] = this.#walk(this.#root[key], this.#rootFile, [key]);
    }
    for (const [key, value] of Object.entries(this.#root)) {
      if (!(key in out)) out[key] = this.#walk(value, this.#rootFile, [key]);
    }
    const document: OpenApiDocument = {};
    for (const key of Object.keys(this.#root)) document[key] = out[key];
    for (const [type, entries] of this.#hoisted) {
      const section = this.#section(type)!;
      let parent: Record<string, unknown> = document;
      for (const segment of section) {
        if (!isObject(parent[segment])) parent[segment] = {};
        parent = parent[segment] as Record<string, unknown>;
      }
      Object.assign(parent, entries);
    }
    return { document, files: this.#files, warnings: [...this.#warnings], errors: [...this.#errors] };
  }

  /** Where components of `type` live in this document's version, or undefined if it has no such section. */
  #section(type: ComponentType): string[] | undefined {
    if (!this.#swagger2) {
      if (type === "pathItems" && !String(this.#root.openapi).startsWith("3.1")) return undefined;
      return ["components", type];
    }
    if (type === "schemas") return ["definitions"];
    if (type === "parameters" || type === "responses") return [type];
    return undefined;
  }

  #walk(node: unknown, file: string | undefined, path: string[]): unknown {
    if (Array.isArray(node)) return node.map((item, i) => this.#walk(item, file, [...path, String(i)]));
    if (!isObject(node)) return node;
    if (typeof node.$ref === "string") return this.#reference(node, file, path);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      out[key] = this.#isLiteral(key, value, path) ? value : this.#walk(value, file, [...path, key]);
    }
    return out;
  }

  #isLiteral(key: string, value: unknown, path: string[]): boolean {
    // In a map of names (`properties`, `responses`...) a key is a name: `default` is a response there.
    if (NAME_MAPS.has(path[path.length - 1] ?? "")) return false;
    if (LITERAL_KEYS.has(key)) return true;
    // Swagger 2.0 response examples and JSON Schema `examples` lists are data.
    if (key === "examples" && (this.#swagger2 || Array.isArray(value))) return true;
    // An Example object's value (OpenAPI 3.x `examples: {name: {value: ...}}`).
    return key === "value" && path[path.length - 2] === "examples";
  }

  #reference(node: Record<string, unknown>, file: string | undefined, path: string[]): unknown {
    const ref = node.$ref as string;
    const siblings: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key !== "$ref") siblings[key] = this.#walk(value, file, [...path, key]);
    }
    const where = file ? ` in ${displayPath(file, this.#rootDir)}` : "";
    let target: { file: string; pointer: string };
    if (ref.startsWith("#")) {
      if (file === this.#rootFile) return { $ref: ref, ...siblings };
      target = { file: file!, pointer: ref.slice(1) };
    } else if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) {
      return this.#refuse(ref, `${where}: the gateway never fetches URLs`, siblings);
    } else if (!file || !this.#rootDir) {
      return this.#refuse(
        ref,
        `: a spec fetched from its provider may only hold local (#/...) references`,
        siblings,
      );
    } else {
      const hash = ref.indexOf("#");
      const filePart = hash === -1 ? ref : ref.slice(0, hash);
      let decoded = filePart;
      try {
        decoded = decodeURIComponent(filePart);
      } catch {
        // keep it as written
      }
      const abs = resolve(dirname(file), decoded);
      const pointer = hash === -1 ? "" : ref.slice(hash + 1);
      if (abs === this.#rootFile) return { $ref: `#${pointer}`, ...siblings };
      if (!isInside(abs, this.#rootDir)) {
        return this.#refuse(ref, `${where}: it points outside the provider directory`, siblings);
      }
      target = { file: abs, pointer };
    }
    return this.#resolve(ref, where, target, path, siblings);
  }

  #resolve(
    ref: string,
    where: string,
    target: { file: string; pointer: string },
    path: string[],
    siblings: Record<string, unknown>,
  ): unknown {
    let segments: string[];
    try {
      segments = parsePointer(target.pointer);
    } catch (error) {
      return this.#fail(ref, `$ref "${ref}"${where}: ${(error as Error).message}`, siblings);
    }
    const found = this.#locate(target.file, segments);
    if (found) return { $ref: refTo(found), ...siblings };
    const doc = this.#load(target.file, ref, where);
    if (doc === undefined) return this.#placeholder(ref, siblings);
    const value = getAt(doc, segments);
    if (value === undefined) {
      return this.#fail(
        ref,
        `$ref "${ref}"${where} points at nothing: ${displayPath(target.file, this.#rootDir)} has no ${formatPointer(segments) || "content"}`,
        siblings,
      );
    }
    const key = `${target.file}#${formatPointer(segments)}`;
    if (this.#isComponentSlot(path)) {
      // `components: {schemas: {Pet: {$ref: ./pet.yaml}}}`: the content takes the slot's place.
      this.#located.set(key, path);
      return this.#inline(this.#walk(value, target.file, path), siblings);
    }
    const component = this.#componentAt(segments) ?? this.#componentForSite(path, target.file, segments);
    if (component && this.#section(component.type)) {
      const name = this.#claim(component.type, component.name);
      const location = [...this.#section(component.type)!, name];
      this.#located.set(key, location);
      const hoisted = this.#hoisted.get(component.type) ?? {};
      this.#hoisted.set(component.type, hoisted);
      hoisted[name] = null; // keeps the order of first use
      hoisted[name] = this.#walk(value, target.file, location);
      return { $ref: refTo(location), ...siblings };
    }
    this.#located.set(key, path);
    return this.#inline(this.#walk(value, target.file, path), siblings);
  }

  #inline(value: unknown, siblings: Record<string, unknown>): unknown {
    return isObject(value) && Object.keys(siblings).length > 0 ? { ...value, ...siblings } : value;
  }

  /** Where a file's content at `segments` (or an enclosing part of it) already is in the output. */
  #locate(file: string, segments: string[]): string[] | undefined {
    for (let n = segments.length; n >= 0; n--) {
      const found = this.#located.get(`${file}#${formatPointer(segments.slice(0, n))}`);
      if (found) return [...found, ...segments.slice(n)];
    }
    return undefined;
  }

  #load(file: string, ref: string, where: string): unknown {
    if (this.#docs.has(file)) return this.#docs.get(file);
    this.#files.push(file);
    const shown = displayPath(file, this.#rootDir);
    try {
      const real = realpathSync(file);
      if (!isInside(real, this.#rootDir!)) {
        this.#warnings.add(`Refused $ref "${ref}"${where}: ${shown} is a link out of the provider directory`);
        this.#docs.set(file, undefined);
        return undefined;
      }
      const doc = parseSpecText(readSpecFile(real), shown);
      this.#docs.set(file, doc);
      return doc;
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
      this.#errors.add(`$ref "${ref}"${where} cannot be resolved: ${shown}: ${reason}`);
      this.#docs.set(file, undefined);
      return undefined;
    }
  }

  /** Whether `path` is a component's own slot (`components/schemas/Pet`, `definitions/Pet`). */
  #isComponentSlot(path: string[]): boolean {
    return COMPONENT_TYPES.some((type) => {
      const section = this.#section(type);
      return (
        section !== undefined &&
        path.length === section.length + 1 &&
        section.every((segment, i) => path[i] === segment)
      );
    });
  }

  /** The component a pointer names in its file (`/components/schemas/Pet`, `/definitions/Pet`). */
  #componentAt(segments: string[]): { type: ComponentType; name: string } | undefined {
    for (const type of COMPONENT_TYPES) {
      const section = this.#section(type);
      if (
        section &&
        segments.length === section.length + 1 &&
        section.every((segment, i) => segments[i] === segment)
      ) {
        return { type, name: segments[segments.length - 1]! };
      }
    }
    return undefined;
  }

  /** What kind of component a reference at `path` stands for, named after its file or pointer. */
  #componentForSite(
    path: string[],
    file: string,
    segments: string[],
  ): { type: ComponentType; name: string } | undefined {
    const type = siteType(path);
    if (!type) return undefined;
    const name = segments.length > 0 ? segments[segments.length - 1]! : basename(file, extname(file));
    return { type, name: name.replace(/[^A-Za-z0-9._-]/g, "_") || "Component" };
  }

  #claim(type: ComponentType, name: string): string {
    const taken = this.#taken.get(type)!;
    let candidate = name;
    for (let n = 2; taken.has(candidate); n++) candidate = `${name}_${n}`;
    taken.add(candidate);
    return candidate;
  }

  #refuse(ref: string, reason: string, siblings: Record<string, unknown>): unknown {
    this.#warnings.add(`Refused $ref "${ref}"${reason}`);
    return this.#placeholder(ref, siblings);
  }

  #fail(ref: string, message: string, siblings: Record<string, unknown>): unknown {
    this.#errors.add(message);
    return this.#placeholder(ref, siblings);
  }

  #placeholder(ref: string, siblings: Record<string, unknown>): unknown {
    return {
      description: `Reference not included by the gateway: ${ref}`,
      ...siblings,
      [REFUSED_REF_KEY]: ref,
    };
  }
}

const COMPONENT_TYPES: readonly ComponentType[] = [
  "schemas",
  "parameters",
  "responses",
  "requestBodies",
  "headers",
  "examples",
  "links",
  "callbacks",
  "pathItems",
];

/** The component type a `$ref` at `path` (in the output document) stands for, if it can be told. */
function siteType(path: string[]): ComponentType | undefined {
  const last = path[path.length - 1] ?? "";
  const parent = path[path.length - 2] ?? "";
  const isIndex = /^\d+$/.test(last);
  if (
    SCHEMA_KEYWORDS.has(last) ||
    SCHEMA_MAPS.has(parent) ||
    (SCHEMA_LISTS.has(parent) && isIndex) ||
    (parent === "definitions" && path.length > 2)
  ) {
    return "schemas";
  }
  if (parent === "parameters" && isIndex) return "parameters";
  if (parent === "responses" && !isIndex) return "responses";
  if (last === "requestBody") return "requestBodies";
  if (parent === "headers") return "headers";
  if (parent === "examples") return "examples";
  if (parent === "links") return "links";
  if (parent === "callbacks") return "callbacks";
  if (path.length === 2 && path[0] === "paths") return "pathItems";
  return undefined;
}
