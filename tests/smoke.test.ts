/**
 * `gateway smoke` for CI: one check per provider (ready, a request through the gateway, its spec),
 * one per manifest that did not load, one for the merged OpenAPI document (validated); a JUnit
 * report that validates against the JUnit schema (tests/fixtures/junit.xsd, with xmllint), green
 * and red; `--timeout` bounds the wait for providers.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addEchoProvider, addProvider, cleanup, FIXTURES, makeSpace, runCli, type Space } from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

/** xmllint's verdict on `file` against the JUnit schema: "" when it validates, else what it said. */
function schemaErrors(file: string): string {
  const result = Bun.spawnSync(["xmllint", "--noout", "--schema", join(FIXTURES, "junit.xsd"), file], {
    stdout: "pipe",
    stderr: "pipe",
  });
  return result.exitCode === 0 ? "" : result.stderr.toString();
}

interface TestCase {
  classname: string;
  name: string;
  failure?: string;
}

/** The test cases of a JUnit report (attributes of the simple form this gateway writes). */
function testCases(xml: string): TestCase[] {
  return [...xml.matchAll(/<testcase classname="([^"]*)" name="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g)].map(
    ([, classname, name, body]) => ({
      classname: classname!,
      name: name!,
      failure: unescapeXml(/<failure message="([^"]*)"/.exec(body!)?.[1]),
    }),
  );
}

function unescapeXml(text: string | undefined): string | undefined {
  return text
    ?.replaceAll("&quot;", '"')
    .replaceAll("&apos;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}

const smoke = (space: Space, ...more: string[]) =>
  runCli(["smoke", "--providers-dir", space.providersDir, ...more]);

describe("gateway smoke --junit", () => {
  test("all green: exit 0, a report that validates, one test case per check", async () => {
    const space = makeSpace();
    addEchoProvider(space, "first");
    addEchoProvider(space, "second");
    const report = join(space.root, "smoke.xml");
    const { code, stdout } = await smoke(space, "--junit", report);
    expect(code).toBe(0);
    expect(stdout).toContain("smoke: 7 passed, 0 failed");
    expect(schemaErrors(report)).toBe("");
    const cases = testCases(readFileSync(report, "utf8"));
    // The echo fixture serves /openapi.json, so each provider has a spec check too.
    expect(cases.map((c) => c.name)).toEqual([
      "first ready",
      "first proxy",
      "first spec",
      "second ready",
      "second proxy",
      "second spec",
      "openapi",
    ]);
    expect(cases.map((c) => c.classname)).toContain("provider.first");
    expect(cases.every((c) => c.failure === undefined)).toBe(true);
    expect(readFileSync(report, "utf8")).toContain('tests="7" failures="0"');
  });

  test("red: a provider that fails, a manifest that does not load, an invalid spec; each named with its reason", async () => {
    const space = makeSpace();
    addEchoProvider(space, "good");
    addProvider(
      space,
      "crashy",
      { code: "crashy", runtime: "exec", binary: "./crash.sh", restart: { policy: "never" } },
      { fixtures: ["crash.sh"] },
    );
    mkdirSync(join(space.providersDir, "broken"));
    writeFileSync(join(space.providersDir, "broken", "manifest.yaml"), "code: broken\nport: lots\n");
    addEchoProvider(space, "badspec", { spec: "./openapi.json" });
    writeFileSync(
      join(space.providersDir, "badspec", "openapi.json"),
      JSON.stringify({ openapi: "3.0.3", paths: 7 }),
    );
    const report = join(space.root, "smoke.xml");
    const { code, stdout } = await smoke(space, "--junit", report);
    expect(code).toBe(1);
    expect(schemaErrors(report)).toBe("");
    const xml = readFileSync(report, "utf8");
    const failed = testCases(xml).filter((c) => c.failure !== undefined);
    expect(failed.map((c) => c.name).sort()).toEqual(["badspec spec", "crashy ready", "load"]);
    expect(failed.find((c) => c.name === "crashy ready")!.failure).toContain("exited with code 3");
    expect(failed.find((c) => c.name === "load")!.failure).toContain('field "port"');
    expect(xml).toContain(`failures="${failed.length}"`);
    // The printed table names each failure and its reason too.
    expect(stdout).toMatch(/FAIL\s+crashy\s+ready\s+failed: .*exited with code 3/);
    expect(stdout).toMatch(/FAIL\s+-\s+load\s+.*broken/);
    expect(stdout).toMatch(/FAIL\s+badspec\s+spec/);
  });

  test("--timeout bounds the wait: a provider not ready by then fails, saying so", async () => {
    const space = makeSpace();
    addEchoProvider(space, "late", {
      env: { READY_FLAG: join(space.root, "never") },
      health: { path: "/health", interval: "1s", startup_timeout: "60s" },
    });
    const started = Date.now();
    const { code, stdout } = await smoke(space, "--timeout", "1s");
    expect(code).toBe(1);
    expect(stdout).toContain("after the --timeout of 1000 ms");
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test("--junit and --timeout belong to smoke; a bad --timeout is a usage error", async () => {
    expect((await runCli(["--junit", "x.xml"])).code).toBe(2);
    const bad = await runCli(["smoke", "--timeout", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--timeout");
  });
});
