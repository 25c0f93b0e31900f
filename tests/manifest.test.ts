import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { loadManifest, ManifestError, parseManifest } from "../lib/manifest.ts";

const FILE = "/providers/widget/manifest.yaml";

/** Parses `text` expecting a ManifestError, and returns it. */
function manifestError(text: string, file = FILE): ManifestError {
  try {
    parseManifest(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return error as ManifestError;
  }
  throw new Error("parseManifest accepted a manifest it should have refused");
}

const CORE_MANIFEST = `code: cool-widget
name: Cool Widget
version: 1.2.0
description: Widgets, but cool
author:
  name: Ada Lovelace
  email: ada@example.com
licence: EUPL-1.2
sign: 3q2+7w==
sign_key: ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIB7
layout:
  type: sidebar
  regions: [header, main, footer]
slots:
  header:
    - element: core-cool-header
      props: { compact: true, order: 1 }
  main:
    - element: core-cool-widget
permissions:
  network:
    allow: ["https://api.example.com"]
  storage: { read: true, write: false }
  process: []
modules:
  - name: widgets
    path: ./modules/widgets
    exports: [list, get]
  - name: reports
    path: ./modules/reports
daemons:
  indexer:
    binary: ./bin/indexer
    args: ["--fast"]
    health: { path: /ping, interval: 5s }
    restart: always
  mailer:
    binary: ./bin/mailer
    env: { SMTP_HOST: localhost }
`;

describe("parseManifest", () => {
  test("parseManifest accepts a manifest with only a code and settles every default", () => {
    const { manifest, warnings } = parseManifest("code: cool-widget\n", FILE);
    expect(warnings).toEqual([]);
    expect(manifest.code).toBe("cool-widget");
    expect(manifest.name).toBe("cool-widget");
    expect(manifest.version).toBeUndefined();
    expect(manifest.runtime).toBeUndefined();
    expect(manifest.binary).toBeUndefined();
    expect(manifest.entry).toBeUndefined();
    expect(manifest.namespace).toBe("/api/v1/cool-widget");
    expect(manifest.args).toEqual([]);
    expect(manifest.env).toEqual({});
    expect(manifest.port).toBe(0);
    expect(manifest.dependsOn).toEqual([]);
    expect(manifest.element).toBeUndefined();
    expect(manifest.spec).toBeUndefined();
    expect(manifest.health).toEqual({
      path: undefined,
      intervalMs: 1000,
      timeoutMs: 2000,
      startupTimeoutMs: 30_000,
      failureThreshold: 3,
    });
    expect(manifest.restart).toEqual({ policy: "on-failure", maxRestarts: 5 });
    expect(manifest.stopTimeoutMs).toBe(10_000);
    expect(manifest.timeoutMs).toBe(60_000);
  });

  test("parseManifest reads every provider field", () => {
    const text = `code: cool-widget
name: Cool Widget
version: 1.2.0
description: Widgets, but cool
namespace: /api/v2/widgets
runtime: exec
binary: ./bin/cool-widget
args: ["--verbose", 3, true]
env: { LOG_LEVEL: info, WORKERS: 4 }
port: 9123
health: { path: /health, interval: 500ms, timeout: 3s, startup_timeout: 1m, failure_threshold: 7 }
restart: { policy: always, max_restarts: 0 }
depends_on: [database, cache]
element: { tag: core-cool-widget, source: ./assets/core-cool-widget.js }
spec: ./openapi.yaml
stop_timeout: 3s
timeout: 250ms
`;
    const { manifest, warnings } = parseManifest(text, FILE);
    expect(warnings).toEqual([]);
    expect(manifest).toMatchObject({
      code: "cool-widget",
      name: "Cool Widget",
      version: "1.2.0",
      description: "Widgets, but cool",
      namespace: "/api/v2/widgets",
      runtime: "exec",
      binary: "./bin/cool-widget",
      args: ["--verbose", "3", "true"],
      env: { LOG_LEVEL: "info", WORKERS: "4" },
      port: 9123,
      health: {
        path: "/health",
        intervalMs: 500,
        timeoutMs: 3000,
        startupTimeoutMs: 60_000,
        failureThreshold: 7,
      },
      restart: { policy: "always", maxRestarts: 0 },
      dependsOn: ["database", "cache"],
      element: { tag: "core-cool-widget", source: "./assets/core-cool-widget.js" },
      spec: "./openapi.yaml",
      stopTimeoutMs: 3000,
      timeoutMs: 250,
    });
  });

  test("parseManifest accepts JSON text", () => {
    const { manifest } = parseManifest('{"code": "json-widget", "entry": "./server.ts"}', FILE);
    expect(manifest.code).toBe("json-widget");
    expect(manifest.runtime).toBe("bun");
  });

  test("parseManifest loads a full Core manifest unchanged and starts nothing for it", () => {
    const { manifest, warnings } = parseManifest(CORE_MANIFEST, FILE);
    expect(warnings).toEqual([]);
    expect(manifest.code).toBe("cool-widget");
    expect(manifest.name).toBe("Cool Widget");
    expect(manifest.version).toBe("1.2.0");
    expect(manifest.runtime).toBeUndefined();
    expect(manifest.binary).toBeUndefined();
    expect(manifest.entry).toBeUndefined();
    expect(manifest.raw).toEqual(parseYaml(CORE_MANIFEST));
    // Nested Core structures are carried as written, not reinterpreted nor trimmed.
    const daemons = manifest.raw.daemons as Record<string, Record<string, unknown>>;
    expect(daemons.indexer!.health).toEqual({ path: "/ping", interval: "5s" });
    expect(manifest.raw.licence).toBe("EUPL-1.2");
    expect(manifest.raw.sign_key).toBe("ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIB7");
  });

  test("parseManifest uses name as the identifier when code is absent", () => {
    const { manifest } = parseManifest("name: weather\n", FILE);
    expect(manifest.code).toBe("weather");
    expect(manifest.name).toBe("weather");
    expect(manifest.namespace).toBe("/api/v1/weather");
  });

  test("parseManifest refuses a name that cannot serve as the identifier when code is absent", () => {
    const error = manifestError("name: Cool Widget\n");
    expect(error.field).toBe("name");
    expect(error.reason).toContain("Cool Widget");
  });

  test("parseManifest requires a code or a name", () => {
    const error = manifestError("version: 1.0.0\n");
    expect(error.field).toBe("code");
    expect(error.reason).toContain("required");
  });

  test.each([["Cool-Widget"], ["-widget"], ["cool_widget"], ["cool widget"], ["a".repeat(64)], [""]])(
    "parseManifest rejects the invalid code %p",
    (code) => {
      const error = manifestError(`code: "${code}"\n`);
      expect(error.field).toBe("code");
    },
  );

  test("parseManifest accepts a code of 63 characters", () => {
    const code = `a${"b".repeat(62)}`;
    expect(parseManifest(`code: ${code}\n`, FILE).manifest.code).toBe(code);
  });

  test("parseManifest infers the core runtime from a binary", () => {
    expect(parseManifest("code: w\nbinary: ./bin/w\n", FILE).manifest.runtime).toBe("core");
  });

  test("parseManifest infers the bun runtime from an entry", () => {
    expect(parseManifest("code: w\nentry: ./server.ts\n", FILE).manifest.runtime).toBe("bun");
  });

  test("parseManifest keeps a declared runtime rather than inferring one", () => {
    const { manifest } = parseManifest("code: w\nbinary: ./bin/w\nruntime: exec\n", FILE);
    expect(manifest.runtime).toBe("exec");
  });

  test("parseManifest keeps an external runtime without binary nor entry", () => {
    expect(parseManifest("code: w\nruntime: external\n", FILE).manifest.runtime).toBe("external");
  });

  test("parseManifest rejects a binary together with an entry", () => {
    const error = manifestError("code: w\nbinary: ./bin/w\nentry: ./server.ts\n");
    expect(error.field).toBe("entry");
    expect(error.reason).toContain("binary");
  });

  test.each([
    ["250ms", 250],
    ["2s", 2000],
    ["1m", 60_000],
    ["1500", 1500],
    [1500, 1500],
    [0, 0],
  ])("parseManifest reads the duration %p as %p milliseconds", (written, ms) => {
    const value = typeof written === "number" ? String(written) : `"${written}"`;
    const { manifest } = parseManifest(`code: w\nhealth: { interval: ${value} }\ntimeout: ${value}\n`, FILE);
    expect(manifest.health.intervalMs).toBe(ms);
    expect(manifest.timeoutMs).toBe(ms);
  });

  test("parseManifest names health.interval when its duration is bad", () => {
    const error = manifestError("code: w\nhealth: { interval: soon }\n");
    expect(error.field).toBe("health.interval");
    expect(error.reason).toContain("soon");
    expect(error.message).toContain('field "health.interval"');
  });

  test.each([
    ["stop_timeout", "stop_timeout: 10 seconds"],
    ["timeout", "timeout: -5"],
    ["health.startup_timeout", "health: { startup_timeout: 1.5 }"],
    ["health.timeout", "health: { timeout: 2d }"],
  ])("parseManifest names %s when its duration is bad", (field, line) => {
    expect(manifestError(`code: w\n${line}\n`).field).toBe(field);
  });

  test("parseManifest's messages say what is wrong in English: a bad duration, a wrong type, a number out of range", () => {
    expect(manifestError("code: w\nhold: soon\n").reason).toBe(
      "is not a duration (use 250ms, 2s, 1m or whole milliseconds): soon",
    );
    const wrongType = manifestError("code: w\nport: eighty\n");
    expect(wrongType.field).toBe("port");
    expect(wrongType.reason).toBe("Invalid input: expected number, received string");
    expect(manifestError("code: w\nport: 70000\n").reason).toContain("Too big");
  });

  test("parseManifest warns about an unknown key and suggests the closest known one", () => {
    const { manifest, warnings } = parseManifest("code: w\nnamspace: /api/x\n", FILE);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.field).toBe("namspace");
    expect(warnings[0]!.message).toContain('"namspace"');
    expect(warnings[0]!.message).toContain('did you mean "namespace"');
    expect(warnings[0]!.message).toContain(FILE);
    // The misspelt key is ignored, so the default namespace applies.
    expect(manifest.namespace).toBe("/api/v1/w");
  });

  test("parseManifest warns about an unknown nested key with its full path", () => {
    const { manifest, warnings } = parseManifest("code: w\nhealth: { intervl: 5s }\n", FILE);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('"health.intervl"');
    expect(warnings[0]!.message).toContain('did you mean "health.interval"');
    expect(manifest.health.intervalMs).toBe(1000);
  });

  test("parseManifest warns about an unknown key without suggesting anything far from it", () => {
    const { warnings } = parseManifest("code: w\nx_gateway_future_feature: true\n", FILE);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('"x_gateway_future_feature"');
    expect(warnings[0]!.message).not.toContain("did you mean");
  });

  test.each([
    ["api/v1/w", "no leading slash"],
    ["/", "the root alone"],
    ["/api/v1/w/", "a trailing slash"],
    ["/api//w", "an empty segment"],
    ["/api/v 1", "a space"],
    ["/api/v1/w?x=1", "a query"],
    ["/api/%2e%2e", "a percent-encoded segment"],
  ])("parseManifest rejects the namespace %p (%s)", (namespace) => {
    const error = manifestError(`code: w\nnamespace: "${namespace}"\n`);
    expect(error.field).toBe("namespace");
  });

  test("parseManifest rejects a namespace holding a dot-segment", () => {
    // A "." or ".." segment is removed by URL normalisation (RFC 3986 §5.2.4), so such a
    // namespace can never be reached as written and would dodge the overlap checks.
    for (const namespace of ["/api/..", "/api/v1/w/.", "/.."]) {
      const error = manifestError(`code: w\nnamespace: "${namespace}"\n`);
      expect(error.field).toBe("namespace");
    }
  });

  test("parseManifest accepts a namespace of unreserved characters", () => {
    const { manifest } = parseManifest("code: w\nnamespace: /Api/v1.2/w_x~y-z\n", FILE);
    expect(manifest.namespace).toBe("/Api/v1.2/w_x~y-z");
  });

  test("parseManifest names the nested field of a bad restart policy", () => {
    const error = manifestError("code: w\nrestart: { policy: sometimes }\n");
    expect(error.field).toBe("restart.policy");
  });

  test("parseManifest rejects a port out of range", () => {
    expect(manifestError("code: w\nport: 70000\n").field).toBe("port");
  });

  test("parseManifest rejects an element tag that is not a custom element name", () => {
    expect(manifestError("code: w\nelement: { tag: widget, source: ./w.js }\n").field).toBe("element.tag");
  });

  test("parseManifest rejects a health path without a leading slash", () => {
    expect(manifestError("code: w\nhealth: { path: health }\n").field).toBe("health.path");
  });

  test("parseManifest keeps a version written like a decimal number as written", () => {
    // `version: 1.10` is a common way to write a version; YAML reads it as the number 1.1.
    const { manifest } = parseManifest("code: w\nversion: 1.10\n", FILE);
    expect(manifest.version).toBe("1.10");
  });

  test("parseManifest rejects invalid YAML with a ManifestError naming the file", () => {
    const error = manifestError("code: w\nenv: { A: 1\n");
    expect(error.file).toBe(FILE);
    expect(error.field).toBe("");
    expect(error.reason).toContain("not valid YAML");
    expect(error.message).toContain(FILE);
  });

  test.each([
    ["a list", "- code: w\n"],
    ["a scalar", "just a string\n"],
    ["an empty document", ""],
    ["null", "null\n"],
  ])("parseManifest rejects %s as the document", (_, text) => {
    const error = manifestError(text);
    expect(error.field).toBe("");
    expect(error.reason).toContain("mapping");
  });

  test("ManifestError carries file, field and reason and names the file in its message", () => {
    const error = manifestError("code: w\nport: many\n");
    expect(error.name).toBe("ManifestError");
    expect(error).toBeInstanceOf(Error);
    expect(error.file).toBe(FILE);
    expect(error.field).toBe("port");
    expect(error.reason.length).toBeGreaterThan(0);
    expect(error.message).toStartWith(`Cannot load manifest ${FILE}: field "port" `);
    expect(error.message).toContain(error.reason);
  });
});

describe("loadManifest", () => {
  const dir = mkdtempSync(join(tmpdir(), "gateway-manifest-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("loadManifest reads and validates a file", () => {
    const file = join(dir, "manifest.yaml");
    writeFileSync(file, "code: from-file\nbinary: ./bin/x\n");
    const { manifest } = loadManifest(file);
    expect(manifest.code).toBe("from-file");
    expect(manifest.runtime).toBe("core");
  });

  test("loadManifest reports a missing file as a ManifestError naming it", () => {
    const file = join(dir, "absent.yaml");
    let caught: unknown;
    try {
      loadManifest(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ManifestError);
    expect((caught as ManifestError).file).toBe(file);
    expect((caught as ManifestError).message).toContain(file);
  });
});
