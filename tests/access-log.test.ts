/**
 * `--access-log`: one line per proxied request, JSON with `--log-format json`, through a real
 * gateway subprocess; none without the flag.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import {
  addEchoProvider,
  cleanup,
  makeSpace,
  request,
  serveArgs,
  spawnGateway,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(60_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

test("--access-log writes one JSON line per proxied request with provider, method, path, status, bytes, duration and request id", async () => {
  const space = makeSpace();
  addEchoProvider(space, "logged");
  const gw = await spawnGateway([...serveArgs(space), "--access-log", "--log-format", "json"], {
    urlFrom: "json",
  });
  await waitForStatus(gw.url, "logged", "ready");
  await request(`${gw.url}/api/v1/logged/items?page=2`, { headers: { "x-request-id": "req-one" } });
  await request(`${gw.url}/api/v1/logged/upload`, { method: "POST", body: "hello" });
  await request(`${gw.url}/_gateway/providers`);
  const lines = await waitFor("two access lines", () => {
    const access = gw
      .stderr()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => record.msg === "access");
    return access.length >= 2 && access;
  });
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatchObject({
    level: "info",
    provider: "logged",
    method: "GET",
    path: "/api/v1/logged/items?page=2",
    status: 200,
    request_id: "req-one",
  });
  expect(lines[0]!.bytes).toBeGreaterThan(0);
  expect(lines[0]!.duration_ms).toBeGreaterThanOrEqual(0);
  expect(Date.parse(String(lines[0]!.access_time))).toBeGreaterThan(0);
  expect(lines[1]).toMatchObject({ method: "POST", path: "/api/v1/logged/upload", status: 200 });
});

test("without --access-log no request is logged", async () => {
  const space = makeSpace();
  addEchoProvider(space, "quiet");
  const gw = await spawnGateway([...serveArgs(space), "--log-format", "json"], { urlFrom: "json" });
  await waitForStatus(gw.url, "quiet", "ready");
  await request(`${gw.url}/api/v1/quiet/items`);
  await Bun.sleep(200);
  expect(gw.stderr()).not.toContain('"msg":"access"');
});
