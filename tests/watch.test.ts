/**
 * Watching the providers dir: a provider added, changed or removed while the gateway runs is
 * picked up without a restart; --no-watch leaves that to SIGHUP. Real gateway subprocesses.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  addEchoProvider,
  cleanup,
  echoManifest,
  getProviders,
  makeSpace,
  manifestYaml,
  request,
  spawnGateway,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(60_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

describe("watching the providers dir", () => {
  test("a provider dir added while the gateway runs is started and routed", async () => {
    const space = makeSpace();
    addEchoProvider(space, "first");
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"]);
    await waitForStatus(gw.url, "first", "ready");
    addEchoProvider(space, "second");
    await waitForStatus(gw.url, "second", "ready");
    const { status, body } = await request<{ path: string }>(`${gw.url}/api/v1/second/hello`);
    expect(status).toBe(200);
    expect(body.path).toBe("/hello");
  });

  test("a changed manifest restarts only that provider; a removed dir stops it", async () => {
    const space = makeSpace();
    const changedDir = addEchoProvider(space, "changed");
    const goneDir = addEchoProvider(space, "gone");
    addEchoProvider(space, "steady");
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"]);
    const before = new Map<string, number | null>();
    for (const code of ["changed", "gone", "steady"])
      before.set(code, (await waitForStatus(gw.url, code, "ready")).pid);

    writeFileSync(
      join(changedDir, "manifest.yaml"),
      manifestYaml(space, echoManifest("changed", { env: { FIXTURE_FLAVOUR: "new" } })),
    );
    const restarted = await waitFor("the changed provider to run with its new env", async () => {
      const { body } = await request<{ env: Record<string, string> }>(`${gw.url}/api/v1/changed/env`);
      return body.env?.FIXTURE_FLAVOUR === "new" ? body : undefined;
    });
    expect(restarted.env.FIXTURE_FLAVOUR).toBe("new");

    rmSync(goneDir, { recursive: true, force: true });
    await waitFor("the removed provider to leave the list", async () =>
      (await getProviders(gw.url)).every((p) => p.code !== "gone"),
    );
    const steady = (await getProviders(gw.url)).find((p) => p.code === "steady");
    expect(steady?.status).toBe("ready");
    expect(steady?.pid).toBe(before.get("steady") ?? -1);
  });

  test("with --no-watch a new provider waits for SIGHUP", async () => {
    const space = makeSpace();
    addEchoProvider(space, "first");
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0", "--no-watch"]);
    await waitForStatus(gw.url, "first", "ready");
    addEchoProvider(space, "later");
    await Bun.sleep(1500);
    expect((await getProviders(gw.url)).map((p) => p.code)).toEqual(["first"]);
    gw.proc.kill("SIGHUP");
    await waitForStatus(gw.url, "later", "ready");
  });
});
