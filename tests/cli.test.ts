/**
 * Integration tests of the command line: the gateway run as a subprocess (`bun main.ts`, and once
 * the compiled `./gateway`), its exit codes, signals, `smoke` and `providers`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import packageJson from "../package.json" with { type: "json" };
import { buildGateway } from "../scripts/build.ts";
import {
  acceptsConnections,
  addEchoProvider,
  addGrandchildProvider,
  addProvider,
  cleanup,
  exitCode,
  getProvider,
  getProviders,
  isFreshBuild,
  leftoverProcesses,
  makeSpace,
  markedProcesses,
  REPO_ROOT,
  request,
  runCli,
  spawnGateway,
  startUnderTest,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(120_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

describe("usage", () => {
  test("an unknown flag exits 2 and names the flag", async () => {
    const { code, stderr, stdout } = await runCli(["--providers-dri", "/tmp"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--providers-dri");
    expect(stderr).toContain("--providers-dir");
    expect(stdout).toBe("");
  });

  test("a bad flag value and an unknown command exit 2 and say which", async () => {
    const port = await runCli(["--port", "eighty"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain("--port");
    expect(port.stderr).toContain("eighty");
    const command = await runCli(["smoek"]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("smoek");
  });

  test("--help prints the usage and --version the version, both exit 0", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage:");
    for (const word of ["--providers-dir", "--port", "smoke", "providers list", "healthcheck"]) {
      expect(help.stdout).toContain(word);
    }
    const version = await runCli(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toStartWith(`gateway ${packageJson.version}`);
  });
});

describe("serve", () => {
  test("SIGTERM stops the gateway with exit 0 and leaves no provider process, grandchildren and SIGTERM-ignorers included", async () => {
    const space = makeSpace();
    addGrandchildProvider(space, "tree");
    addEchoProvider(space, "stubborn", { env: { IGNORE_SIGTERM: "1" }, stop_timeout: "300ms" });
    addEchoProvider(space, "plain");
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"]);
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const code of ["tree", "stubborn", "plain"]) await waitForStatus(gw.url, code, "ready");
    expect((await request(`${gw.url}/readyz`)).status).toBe(200);
    const tree = await getProvider(gw.url, "tree");
    const sleeper = await waitFor("the grandchild sleep", () =>
      markedProcesses(space.marker, "tree").find((p) => p.cmdline.startsWith("sleep 999")),
    );
    expect(sleeper.pid).not.toBe(tree.pid!);
    expect(markedProcesses(space.marker, "stubborn")).toHaveLength(1);

    gw.proc.kill("SIGTERM");
    expect(await exitCode(gw)).toBe(0);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
    await waitFor("the SIGKILL warning in the log", () =>
      gw.stderr().includes("did not stop within stop_timeout"),
    );
  });

  test("SIGTERM stops accepting at once but lets an in-flight request finish before stopping providers", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo");
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"]);
    await waitForStatus(gw.url, "echo", "ready");
    const release = join(space.root, "release");
    let answered = false;
    const inFlight = request<{ held: boolean }>(`${gw.url}/api/v1/echo/hold?until=${release}`, {
      signal: AbortSignal.timeout(60_000),
    }).finally(() => {
      answered = true;
    });
    await waitFor("the request to reach the provider", async () => {
      const { body } = await request<{ lines: Array<{ line: string }> }>(
        `${gw.url}/_gateway/providers/echo/logs`,
      );
      return body.lines.some((l) => l.line === `holding until ${release}`);
    });

    gw.proc.kill("SIGTERM");
    await waitFor("the listener to refuse new connections", async () => !(await acceptsConnections(gw.url)));
    expect(answered).toBe(false);
    expect(markedProcesses(space.marker, "echo")).toHaveLength(1);

    writeFileSync(release, "");
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ held: true });
    expect(await exitCode(gw)).toBe(0);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("SIGINT stops it too; with --log-format json the listening record carries the url", async () => {
    const space = makeSpace();
    addEchoProvider(space, "plain");
    const gw = await spawnGateway(
      ["--providers-dir", space.providersDir, "--port", "0", "--log-format", "json"],
      {
        urlFrom: "json",
      },
    );
    await waitForStatus(gw.url, "plain", "ready");
    gw.proc.kill("SIGINT");
    expect(await exitCode(gw)).toBe(0);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("healthcheck exits 0 against a running gateway and 1 against a closed port", async () => {
    const space = makeSpace();
    const gw = await startUnderTest(space);
    const ok = await runCli(["healthcheck", "--url", `${gw.url}/healthz`]);
    expect(ok.code).toBe(0);
    await gw.shutdown();
    const closed = await runCli(["healthcheck", "--url", `${gw.url}/healthz`]);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toContain(gw.url);
  });
});

describe("check", () => {
  /** The scratch dirs `gateway check` makes for its private registry and ledger. */
  const scratchDirs = () =>
    new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("gateway-check-")));

  test("check exits 0 for a provider that starts and answers, and leaves nothing behind", async () => {
    const space = makeSpace();
    const dir = addEchoProvider(space, "fine");
    const before = scratchDirs();
    const { code, stdout, stderr } = await runCli(["check", dir]);
    expect({ code, stdout, stderr }).toMatchObject({ code: 0 });
    expect(stdout).toMatch(/^ok\s+manifest .*fine/m);
    expect(stdout).toMatch(/^ok\s+ready\s/m);
    expect(stdout).toMatch(/check: \d+ passed, 0 failed/);
    expect([...scratchDirs()].filter((name) => !before.has(name))).toEqual([]);
    expect(readdirSync(space.providersDir)).toEqual(["fine"]);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("check exits 1 naming why a provider that exits at once is not ready", async () => {
    const space = makeSpace();
    const dir = addProvider(
      space,
      "crash",
      { code: "crash", runtime: "exec", binary: "./crash.sh", restart: { policy: "never" } },
      { fixtures: ["crash.sh"] },
    );
    const { code, stdout } = await runCli(["check", dir]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL\s+ready\s+failed: .*exited with code 3/m);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("check exits 1 on a manifest that does not validate, naming the field", async () => {
    const space = makeSpace();
    const dir = addEchoProvider(space, "bad", { health: { interval: "soon" } });
    const { code, stdout } = await runCli(["check", dir]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL\s+.*field "health\.interval"/m);
  });
});

describe("smoke", () => {
  test("smoke exits 0 when every provider starts and answers", async () => {
    const space = makeSpace();
    addEchoProvider(space, "one");
    addEchoProvider(space, "two");
    const { code, stdout, stderr } = await runCli(["smoke", "--providers-dir", space.providersDir]);
    expect({ code, stdout, stderr }).toMatchObject({ code: 0 });
    expect(stdout).toContain("smoke:");
    expect(stdout).toContain(" 0 failed");
    expect(stdout).not.toContain("FAIL");
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("smoke exits 1 and names the provider that fails", async () => {
    const space = makeSpace();
    addEchoProvider(space, "good");
    addProvider(
      space,
      "crash",
      { code: "crash", runtime: "exec", binary: "./crash.sh", restart: { policy: "never" } },
      { fixtures: ["crash.sh"] },
    );
    const { code, stdout } = await runCli(["smoke", "--providers-dir", space.providersDir]);
    expect(code).toBe(1);
    const failures = stdout.split("\n").filter((line) => line.startsWith("FAIL"));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((line) => line.includes("crash"))).toBe(true);
    expect(failures.join("\n")).toContain("exited with code 3");
    expect(stdout).toMatch(/ok\s+good/);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });
});

describe("providers", () => {
  test("providers list, disable and enable edit registry.yaml; a disabled provider is reported disabled and not started", async () => {
    const space = makeSpace();
    addEchoProvider(space, "one", { version: "1.0.0" });
    addEchoProvider(space, "two", { version: "2.0.0" });
    const dir = ["--providers-dir", space.providersDir];
    const registryFile = join(space.providersDir, "registry.yaml");
    type Registry = { providers: Array<{ code: string; enabled: boolean; version?: string }> };
    const registry = () => parseYaml(readFileSync(registryFile, "utf8")) as Registry;
    const rowOf = (stdout: string, code: string) =>
      stdout.split("\n").find((line) => line.split(/\s+/)[0] === code) ?? "";

    const list = await runCli(["providers", "list", ...dir]);
    expect(list.code).toBe(0);
    expect(rowOf(list.stdout, "one")).toMatch(/^one\s+yes\s+1\.0\.0/);
    expect(rowOf(list.stdout, "two")).toMatch(/^two\s+yes\s+2\.0\.0/);

    const disable = await runCli(["providers", "disable", "two", ...dir]);
    expect(disable.code).toBe(0);
    expect(registry().providers.find((p) => p.code === "two")?.enabled).toBe(false);
    expect(rowOf((await runCli(["providers", "list", ...dir])).stdout, "two")).toMatch(/^two\s+no\b/);

    const first = await startUnderTest(space);
    await waitForStatus(first.url, "one", "ready");
    const two = await getProvider(first.url, "two");
    expect(two.status).toBe("disabled");
    expect(two.pid).toBeNull();
    expect(markedProcesses(space.marker, "two")).toEqual([]);
    expect((await request(`${first.url}/readyz`)).status).toBe(200);
    expect((await request(`${first.url}/api/v1/two/items`)).status).toBe(503);
    // Loading the registry back must not silently re-enable it.
    expect(registry().providers.find((p) => p.code === "two")?.enabled).toBe(false);
    await first.shutdown();

    const enable = await runCli(["providers", "enable", "two", ...dir]);
    expect(enable.code).toBe(0);
    expect(registry().providers.find((p) => p.code === "two")?.enabled).toBe(true);
    const second = await startUnderTest(space);
    await waitForStatus(second.url, "two", "ready");
    expect((await request(`${second.url}/api/v1/two/items`)).status).toBe(200);

    const unknown = await runCli(["providers", "disable", "nope", ...dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("nope");
  });
});

describe("compiled binary", () => {
  let binary = join(REPO_ROOT, "gateway");
  let buildDir: string | undefined;

  beforeAll(async () => {
    if (isFreshBuild(binary)) return;
    // No ./gateway, or older than the sources: build one of our own rather than test a stale one.
    buildDir = mkdtempSync(join(tmpdir(), "gateway-build-"));
    binary = join(buildDir, "gateway");
    await buildGateway(binary);
  }, 300_000);

  afterAll(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  test("the compiled ./gateway serves examples/providers: /readyz turns 200 and every namespace answers", async () => {
    const examples = join(REPO_ROOT, "examples", "providers");
    expect(existsSync(examples)).toBe(true);
    const space = makeSpace();
    const gw = await spawnGateway(
      ["--providers-dir", examples, "--registry", join(space.root, "registry.yaml"), "--port", "0"],
      // Away from the sources: what it runs (the spec worker too) must come from the executable.
      { cmd: [binary], env: { GW_TEST_MARKER: space.marker }, cwd: space.root },
    );
    await waitFor("/readyz to answer 200", async () => (await request(`${gw.url}/readyz`)).status === 200, {
      timeoutMs: 30_000,
    });
    const views = await getProviders(gw.url);
    expect(views.map((view) => view.code)).toEqual(
      expect.arrayContaining(["files", "hello-core", "widgets"]),
    );
    for (const view of views)
      expect({ code: view.code, status: view.status }).toEqual({ code: view.code, status: "ready" });

    const widgets = await request(`${gw.url}/api/v1/widgets/items`);
    expect(widgets.status).toBe(200);
    expect(widgets.headers.get("content-type")).toContain("json");
    const files = await request(`${gw.url}/api/v1/files/hello.txt`);
    expect(files.status).toBe(200);
    expect(files.text).toBe(readFileSync(join(examples, "files", "public", "hello.txt"), "utf8"));
    const hello = await request(`${gw.url}/api/v1/hello-core/hello`);
    expect(hello.status).toBe(200);
    expect(hello.text.toLowerCase()).toContain("hello");
    // Both kinds of spec, loaded on the executable's spec worker thread: widgets' spec file and
    // hello-core's GET /openapi.json.
    await waitFor("both specs in /openapi.json", async () => {
      const doc = await request<{ paths: Record<string, unknown> }>(`${gw.url}/openapi.json`);
      const paths = Object.keys(doc.body.paths ?? {});
      return (
        paths.some((path) => path.startsWith("/api/v1/widgets/")) &&
        paths.some((path) => path.startsWith("/api/v1/hello-core/"))
      );
    });
    expect(gw.stderr() + gw.stdout()).not.toContain("spec worker thread failed");

    gw.proc.kill("SIGTERM");
    expect(await exitCode(gw)).toBe(0);
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });
});
