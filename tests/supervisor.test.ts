/**
 * Integration tests of supervision with real processes: providers that cannot start, crash,
 * never get healthy, collide, escape their dir, hand-shake, or refuse to stop. Each broken
 * provider runs beside a healthy sibling that must keep serving.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runtime } from "../lib/runtime/index.ts";
import {
  addEchoProvider,
  addGrandchildProvider,
  addNeverReadyProvider,
  addProvider,
  cleanup,
  expectSiblingServes,
  FIXTURES,
  getProvider,
  isAlive,
  leftoverProcesses,
  makeSpace,
  markedProcesses,
  request,
  startInProcess,
  startUnderTest,
  startUnderTestWithSibling,
  transitionsOf,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

const CRASH_OUTPUT = "boom: cannot open the database";

describe("a provider that cannot run is failed with a clear error and spares its siblings", () => {
  test("missing binary", async () => {
    const space = makeSpace();
    addProvider(space, "ghost", { code: "ghost", runtime: "exec", binary: "./bin/ghost" });
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "ghost", "failed");
    expect(view.last_error).toContain("does not exist");
    expect(view.last_error).toContain("bin/ghost");
    expect(view.pid).toBeNull();
    expect(view.restarts).toBe(0);
    expect(markedProcesses(space.marker, "ghost")).toEqual([]);
    await expectSiblingServes(gw, { blames: "ghost" });
    expect((await request(`${gw.url}/api/v1/ghost/x`)).status).toBe(503);
  });

  test("binary not executable", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "noexec",
      { code: "noexec", runtime: "exec", binary: "./bin/tool" },
      { files: { "bin/tool": "#!/bin/sh\necho never\n" } },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "noexec", "failed");
    expect(view.last_error).toContain("not executable");
    expect(view.last_error).toContain("./bin/tool");
    expect(view.pid).toBeNull();
    await expectSiblingServes(gw, { blames: "noexec" });
  });

  test("exits at once with code 1 and restart policy never", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "crash",
      { code: "crash", runtime: "exec", binary: "./crash.sh", args: ["1"], restart: { policy: "never" } },
      { fixtures: ["crash.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "crash", "failed");
    expect(view.restarts).toBe(0);
    expect(view.pid).toBeNull();
    expect(view.last_error).toContain("exited with code 1");
    expect(view.last_error).toContain(CRASH_OUTPUT);
    await expectSiblingServes(gw, { blames: "crash" });
  });

  test("exits at once with on-failure and max_restarts 2: failed after 2 restarts", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "crash",
      {
        code: "crash",
        runtime: "exec",
        binary: "./crash.sh",
        restart: { policy: "on-failure", max_restarts: 2 },
      },
      { fixtures: ["crash.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "crash", "failed");
    expect(view.restarts).toBe(2);
    expect(view.last_error).toContain("code 3");
    expect(view.last_error).toContain(CRASH_OUTPUT);
    // Three runs: the first and two restarts.
    await waitFor("three runs in the provider's logs", async () => {
      const { body } = await request<{ lines: Array<{ line: string }> }>(
        `${gw.url}/_gateway/providers/crash/logs`,
      );
      return body.lines.filter((l) => l.line === "crash fixture starting").length === 3;
    });
    await expectSiblingServes(gw, { blames: "crash" });
  });

  test("never gets healthy within a small startup_timeout: failed and its process is gone", async () => {
    const space = makeSpace();
    addNeverReadyProvider(space, "sleepy", {
      health: { path: "/health", startup_timeout: "1s" },
      restart: { policy: "never" },
    });
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "sleepy", "failed");
    expect(view.last_error).toContain("startup_timeout");
    expect(view.last_error).toContain("1000 ms");
    expect(view.pid).toBeNull();
    expect(
      await waitFor(
        "the never-healthy process to end",
        () => markedProcesses(space.marker, "sleepy").length === 0,
      ),
    ).toBe(true);
    await expectSiblingServes(gw, { blames: "sleepy" });
  });

  test("exits at once leaving a background child: the child is ended with it", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "orphan",
      { code: "orphan", runtime: "exec", binary: "./orphan.sh", restart: { policy: "never" } },
      { fixtures: ["orphan.sh"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "orphan", "failed");
    expect(view.last_error).toContain("exited with code 1");
    const sleeper = await waitFor("the fixture's line naming its background child", async () => {
      const { body } = await request<{ lines: Array<{ line: string }> }>(
        `${gw.url}/_gateway/providers/orphan/logs`,
      );
      const pid = body.lines
        .map((l) => /^orphan fixture left sleep (\d+) behind$/.exec(l.line)?.[1])
        .find(Boolean);
      return pid ? Number(pid) : undefined;
    });
    expect(await waitFor("the background child to end", () => !isAlive(sleeper))).toBe(true);
    expect(markedProcesses(space.marker, "orphan")).toEqual([]);
    await expectSiblingServes(gw, { blames: "orphan" });
  });

  test("a failed provider starts over the admin API once its binary is fixed", async () => {
    const space = makeSpace();
    const dir = addProvider(space, "later", {
      code: "later",
      runtime: "exec",
      binary: "./server.py",
      health: { path: "/health" },
    });
    const gw = await startUnderTestWithSibling(space);
    expect((await waitForStatus(gw.url, "later", "failed")).last_error).toContain("does not exist");
    copyFileSync(join(FIXTURES, "handshake.py"), join(dir, "server.py"));
    chmodSync(join(dir, "server.py"), 0o755);
    expect((await request(`${gw.url}/_gateway/providers/later/start`, { method: "POST" })).status).toBe(202);
    await waitForStatus(gw.url, "later", "ready");
    expect((await request(`${gw.url}/api/v1/later/x`)).status).toBe(200);
    await expectSiblingServes(gw, "all ready");
  });

  test("a binary of ../../bin/sh is refused as leaving the provider dir", async () => {
    const space = makeSpace();
    addProvider(space, "escape", {
      code: "escape",
      runtime: "exec",
      binary: "../../bin/sh",
      args: ["-c", "sleep 999"],
    });
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "escape", "failed");
    expect(view.last_error).toContain("leaves the provider directory");
    expect(view.last_error).toContain("../../bin/sh");
    expect(view.pid).toBeNull();
    expect(markedProcesses(space.marker, "escape")).toEqual([]);
    await expectSiblingServes(gw, { blames: "escape" });
  });

  test("a binary that is a symlink out of the provider dir is refused", async () => {
    const space = makeSpace();
    const dir = addProvider(space, "linked", {
      code: "linked",
      runtime: "exec",
      binary: "./bin/sh",
      args: ["-c", "sleep 999"],
    });
    mkdirSync(join(dir, "bin"));
    symlinkSync("/bin/sh", join(dir, "bin", "sh"));
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "linked", "failed");
    expect(view.last_error).toContain("leads out of the provider directory");
    expect(view.pid).toBeNull();
    expect(markedProcesses(space.marker, "linked")).toEqual([]);
    await expectSiblingServes(gw, { blames: "linked" });
  });
});

describe("namespaces", () => {
  test("a namespace collision disables the later provider by code order, naming both; the other serves", async () => {
    const space = makeSpace();
    // Directory order is the reverse of code order: the code decides who keeps the namespace.
    addEchoProvider(space, "beta", { namespace: "/api/v1/shared" });
    addEchoProvider(space, "alpha", { namespace: "/api/v1/shared" });
    addEchoProvider(space, "gamma", { namespace: "/api/v1/shared/sub" });
    const gw = await startUnderTestWithSibling(space);
    await waitForStatus(gw.url, "alpha", "ready");

    for (const code of ["beta", "gamma"]) {
      const view = await getProvider(gw.url, code);
      expect(view.status).toBe("disabled");
      expect(view.pid).toBeNull();
      expect(view.last_error).toContain(`"${code}"`);
      expect(view.last_error).toContain('"alpha"');
      expect(view.last_error).toContain("/api/v1/shared");
      expect(markedProcesses(space.marker, code)).toEqual([]);
      expect(gw.logs.some((line) => line.includes('"level":"error"') && line.includes(`\\"${code}\\"`))).toBe(
        true,
      );
    }
    const through = await request<{ provider: string; path: string }>(`${gw.url}/api/v1/shared/sub/x`);
    expect(through.body).toMatchObject({ provider: "alpha", path: "/sub/x" });
    // Disabled providers are not waited for.
    await expectSiblingServes(gw, "all ready");
  });

  test("namespaces on or under reserved paths are refused, naming the provider and the path", async () => {
    const space = makeSpace();
    const reserved = { admin: "/_gateway/admin", assets: "/assets", health: "/healthz", docs: "/docs/x" };
    for (const [code, namespace] of Object.entries(reserved)) addEchoProvider(space, code, { namespace });
    const gw = await startUnderTestWithSibling(space);
    for (const [code, namespace] of Object.entries(reserved)) {
      const view = await getProvider(gw.url, code);
      expect(view.status).toBe("disabled");
      expect(view.last_error).toContain(`"${code}"`);
      expect(view.last_error).toContain("reserved");
      expect(view.last_error).toContain(namespace);
      expect(markedProcesses(space.marker, code)).toEqual([]);
    }
    expect((await request(`${gw.url}/healthz`)).status).toBe(200);
    await expectSiblingServes(gw, "all ready");
  });
});

describe("launching", () => {
  test("a provider that picks its own port and announces it with the handshake line is proxied there", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "shaker",
      { code: "shaker", runtime: "exec", binary: "./handshake.py", health: { path: "/health" } },
      { fixtures: ["handshake.py"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "shaker", "ready");
    const { status, body } = await request<{
      provider: string;
      path: string;
      port: number;
      env_port: string;
    }>(`${gw.url}/api/v1/shaker/hello?q=1`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ provider: "shaker", path: "/hello?q=1" });
    expect(body.port).toBe(view.port!);
    expect(String(body.port)).not.toBe(body.env_port);
    const logs = await request<{ lines: Array<{ line: string }> }>(
      `${gw.url}/_gateway/providers/shaker/logs`,
    );
    expect(logs.body.lines.map((l) => l.line)).toContain("handshake fixture serving");
    await expectSiblingServes(gw, "all ready");
  });

  test("a handshake with another protocol version fails that provider with a clear error", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "shaker",
      { code: "shaker", runtime: "exec", binary: "./handshake.py", args: ["2"], health: { path: "/health" } },
      { fixtures: ["handshake.py"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "shaker", "failed");
    expect(view.last_error).toContain("version 2");
    expect(view.restarts).toBe(0);
    expect(view.pid).toBeNull();
    expect(
      await waitFor(
        "the provider's process to end",
        () => markedProcesses(space.marker, "shaker").length === 0,
      ),
    ).toBe(true);
    await expectSiblingServes(gw, { blames: "shaker" });
  });

  test("runtime core runs binary args then --namespace NAMESPACE --port PORT", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "corey",
      {
        code: "corey",
        runtime: "core",
        binary: "./core.py",
        args: ["--verbose"],
        namespace: "/api/v3/corey",
      },
      { fixtures: ["core.py"] },
    );
    const gw = await startUnderTestWithSibling(space);
    const view = await waitForStatus(gw.url, "corey", "ready");
    const { body } = await request<{ provider: string; path: string; argv: string[] }>(
      `${gw.url}/api/v3/corey/a/b`,
    );
    expect(body).toEqual({
      provider: "corey",
      path: "/a/b",
      argv: ["--verbose", "--namespace", "/api/v3/corey", "--port", String(view.port)],
    });
  });
});

describe("restarts", () => {
  test("a provider killed after it was ready is restarted with a new pid", async () => {
    const space = makeSpace();
    addEchoProvider(space, "echo", { restart: { policy: "on-failure", max_restarts: 3 } });
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "echo", "ready");
    process.kill(before.pid!, "SIGKILL");
    const after = await waitFor("a restarted provider", async () => {
      const view = await getProvider(gw.url, "echo");
      return view.status === "ready" && view.pid !== before.pid ? view : undefined;
    });
    expect(after.restarts).toBe(1);
    expect((await request(`${gw.url}/api/v1/echo/items`)).status).toBe(200);
  });

  test("a provider whose health check keeps failing turns unhealthy, then is restarted", async () => {
    const space = makeSpace();
    const flag = join(space.root, "healthy");
    writeFileSync(flag, "");
    addEchoProvider(space, "flaky", {
      env: { READY_FLAG: flag },
      health: { path: "/health", interval: "100ms", failure_threshold: 2, startup_timeout: "5m" },
      restart: { policy: "on-failure", max_restarts: 5 },
    });
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "flaky", "ready");
    unlinkSync(flag);
    await waitFor("the provider to be restarted after turning unhealthy", async () => {
      const transitions = await transitionsOf(gw.url, "flaky");
      const unhealthy = transitions.findIndex((l) => l.startsWith("ready -> unhealthy"));
      return (
        unhealthy !== -1 && transitions.slice(unhealthy).some((l) => l.startsWith("unhealthy -> restarting"))
      );
    });
    writeFileSync(flag, "");
    const after = await waitFor("the restarted provider to be ready", async () => {
      const view = await getProvider(gw.url, "flaky");
      return view.status === "ready" && view.pid !== before.pid ? view : undefined;
    });
    expect(after.restarts).toBeGreaterThanOrEqual(1);
    expect(isAlive(before.pid!)).toBe(false);
  });
});

describe("stopping", () => {
  test("a stop that comes while a restart is stopping the old process wins: nothing is started again", async () => {
    const space = makeSpace();
    // Ignores SIGTERM, so the restart's own stop takes the whole stop_timeout: time for the stop to come in.
    addEchoProvider(space, "torn", { env: { IGNORE_SIGTERM: "1" }, stop_timeout: "1s" });
    const gw = await startUnderTest(space);
    const before = await waitForStatus(gw.url, "torn", "ready");
    expect((await request(`${gw.url}/_gateway/providers/torn/restart`, { method: "POST" })).status).toBe(202);
    expect((await request(`${gw.url}/_gateway/providers/torn/stop`, { method: "POST" })).status).toBe(202);
    await waitFor("the old process to be gone", () => !isAlive(before.pid!));
    await Bun.sleep(500);
    expect((await getProvider(gw.url, "torn")).status).toBe("stopped");
    expect(markedProcesses(space.marker, "torn")).toEqual([]);
  });

  test("shutdown ends a provider that is still starting", async () => {
    const space = makeSpace();
    addEchoProvider(space, "slow", {
      env: { READY_FLAG: join(space.root, "never") },
      health: { path: "/health", startup_timeout: "5m" },
    });
    const gw = await startUnderTest(space);
    await waitFor(
      "the starting provider's process",
      () => markedProcesses(space.marker, "slow").length === 1,
    );
    expect((await getProvider(gw.url, "slow")).status).toBe("starting");
    await gw.shutdown();
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("shutdown ends every provider's whole process group, a grandchild and a SIGTERM-ignoring provider included", async () => {
    const space = makeSpace();
    addGrandchildProvider(space, "tree", { stop_timeout: "5s" });
    addEchoProvider(space, "stubborn", { env: { IGNORE_SIGTERM: "1" }, stop_timeout: "300ms" });
    addEchoProvider(space, "plain");
    const gw = await startUnderTest(space);
    for (const code of ["tree", "stubborn", "plain"]) await waitForStatus(gw.url, code, "ready");
    const sleeper = await waitFor("the grandchild sleep", () =>
      markedProcesses(space.marker, "tree").find((p) => p.cmdline.startsWith("sleep 999")),
    );
    const tree = await getProvider(gw.url, "tree");
    expect(sleeper.pid).not.toBe(tree.pid!);

    const started = Date.now();
    await gw.shutdown();
    expect(await leftoverProcesses(space.marker)).toEqual([]);
    // The stubborn one needed its SIGKILL, which stop_timeout bounds.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(
      gw.logs.some((line) => line.includes("did not stop within stop_timeout") && line.includes("stubborn")),
    ).toBe(true);
  });
});

describe("the end of the start-up wave", () => {
  test("startupDone runs once, when no provider is starting any more, not before", async () => {
    const space = makeSpace();
    addEchoProvider(space, "one");
    addEchoProvider(space, "two");
    const statusesAtDone: string[][] = [];
    let gateway: { views(): Array<{ status: string }> } | undefined;
    const adapter = {
      ...runtime,
      startupDone: () => {
        statusesAtDone.push(gateway ? gateway.views().map((view) => view.status) : ["not started"]);
      },
    };
    const gw = await startInProcess(space, {}, adapter);
    gateway = gw.gateway;
    await waitForStatus(gw.url, "one", "ready");
    await waitForStatus(gw.url, "two", "ready");
    await waitFor("startupDone", () => statusesAtDone.length > 0);
    await Bun.sleep(200);
    expect(statusesAtDone).toEqual([["ready", "ready"]]);
  });

  test("startupWaveOver gives up waiting after its limit while a provider is still starting", async () => {
    const space = makeSpace();
    // /health answers 503 until a file that never appears exists.
    addEchoProvider(space, "slow", { env: { READY_FLAG: join(space.root, "never") } });
    const gw = await startInProcess(space);
    const started = performance.now();
    await gw.gateway.startupWaveOver(300);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(250);
    expect((await getProvider(gw.url, "slow")).status).toBe("starting");
  });
});
