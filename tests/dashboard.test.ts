/**
 * The dashboard (/_gateway/ui) in headless Chromium against real fixture providers: every row
 * reaches ready; a killed provider's row changes live with the reason; Start, and Restart with and
 * without an admin token; controls that say why they are disabled; a Core element that renders and
 * fetches its API through the gateway, broken elements confined to their panels; an event stream
 * cut and restored with no change lost; the phone layout. Screenshots go to tests/artifacts/.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import type { BrowserContext, Page } from "playwright-core";
import {
  addProvider,
  cleanup,
  echoManifest,
  getProvider,
  makeSpace,
  onCleanup,
  request,
  type Space,
  startInProcess,
  startUnderTest,
  waitFor,
  waitForStatus,
} from "./helpers.ts";
import { CHROMIUM, skipsWithoutChromium } from "./support/browser.ts";

setDefaultTimeout(120_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

const browserTest = test.skipIf(skipsWithoutChromium("dashboard.test.ts"));
const ARTIFACTS = join(import.meta.dir, "artifacts");

/** An echo provider with a UI element made of `tests/fixtures/elements/<file>`. */
function addElementProvider(space: Space, code: string, tag: string, file: string): void {
  addProvider(space, code, echoManifest(code, { element: { tag, source: `./${file}` } }), {
    fixtures: ["echo.ts", `elements/${file}`],
  });
}

/** Chromium with no way off loopback; closed at clean-up. Console errors and CSP reports are collected. */
async function openBrowser(viewport = { width: 1280, height: 900 }) {
  const { chromium } = await import("playwright-core");
  const userDataDir = mkdtempSync(join(tmpdir(), "gateway-dashboard-"));
  const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Anything not on loopback goes to a proxy that is not there.
      "--proxy-server=http://127.0.0.1:9",
    ],
  });
  onCleanup(async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });
  const page: Page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const requested: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on("request", (req) => requested.push(req.url()));
  return { page, problems, requested };
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

const pill = (page: Page, code: string, status: string) =>
  page.locator(`#provider-${code} .pill[data-status="${status}"]`);

describe("the dashboard in headless Chromium", () => {
  browserTest(
    "shows every provider ready, a killed provider's row changes live with the reason, and Start brings it back",
    async () => {
      const space = makeSpace();
      addProvider(space, "alpha", echoManifest("alpha", { name: "Alpha", restart: { policy: "never" } }), {
        fixtures: ["echo.ts"],
      });
      addProvider(space, "beta", echoManifest("beta", { name: "Beta", version: "2.1.0" }), {
        fixtures: ["echo.ts"],
      });
      // A manifest that does not load: listed with its file and reason.
      addProvider(space, "bad", {
        code: "bad",
        runtime: "bun",
        entry: "./echo.ts",
        health: { interval: "often" },
      });
      const gw = await startInProcess(space);
      await waitForStatus(gw.url, "alpha", "ready");
      await waitForStatus(gw.url, "beta", "ready");

      const root = await request(`${gw.url}/`, { redirect: "manual" });
      expect(root.status).toBe(302);
      expect(root.headers.get("location")).toBe("/_gateway/ui");

      const { page, problems, requested } = await openBrowser();
      await page.goto(`${gw.url}/`);
      await page.locator("html[data-loaded]").waitFor();
      await pill(page, "alpha", "ready").waitFor();
      await pill(page, "beta", "ready").waitFor();
      expect(await page.locator("#summary").textContent()).toBe("2 of 2 ready");
      expect(await page.locator("#stream").textContent()).toBe("live");
      expect(await page.locator("#provider-beta summary").textContent()).toContain("v2.1.0");
      expect(await page.locator("#provider-beta summary").textContent()).toContain("/api/v1/beta");
      const problemText = await page.locator("#problem-list").textContent();
      expect(problemText).toContain("manifest.yaml");
      expect(problemText).toContain("health.interval");
      // Some traffic, for the row's figures.
      for (let i = 0; i < 20; i++) await request(`${gw.url}/api/v1/beta/items`);
      await shot(page, "ready");

      // Killed from outside: the row turns failed by itself (no reload, no polling) with the reason.
      const { pid } = await getProvider(gw.url, "alpha");
      process.kill(pid!, "SIGKILL");
      await pill(page, "alpha", "failed").waitFor();
      await page.locator("#provider-alpha > summary").click();
      const why = page.locator("#provider-alpha .why");
      await why.waitFor();
      expect(await why.textContent()).toContain("killed by SIGKILL");
      expect(await page.locator("#summary").textContent()).toBe("1 of 2 ready, 1 down");
      expect(await page.locator("#provider-alpha .changes").textContent()).toContain("ready → failed");
      await shot(page, "why-down");

      // Start, from the page: feedback while it runs, then ready again.
      await page.locator('#provider-alpha button[data-action="start"]').click();
      await pill(page, "alpha", "ready").waitFor();
      await page.locator("#provider-alpha .feedback", { hasText: "done, now ready" }).waitFor();
      expect((await getProvider(gw.url, "alpha")).pid).not.toBe(pid);

      // Logs: the provider's lines with stream tags, and search.
      const logs = page.locator("#provider-alpha .log-lines");
      await logs.locator(".line.stdout", { hasText: "listening" }).first().waitFor();
      // Followed live: a line the provider writes now appears, on both its streams.
      await request(`${gw.url}/api/v1/alpha/log?line=hello-live`);
      await logs.locator(".line.stdout", { hasText: "hello-live" }).waitFor();
      await logs.locator(".line.stderr", { hasText: "err:hello-live" }).waitFor();
      await page.locator("#provider-alpha input[type=search]").fill("listening");
      expect(await logs.locator(".line").count()).toBeGreaterThan(0);
      expect(await logs.locator("mark").first().textContent()).toBe("listening");

      // Timeline: a bar per provider that started.
      expect(await page.locator("#timeline .row").count()).toBe(2);

      // A provider whose directory goes away leaves the page by itself too.
      rmSync(join(space.providersDir, "beta"), { recursive: true, force: true });
      await gw.gateway.rescan();
      await page.locator("#provider-beta").waitFor({ state: "detached" });
      expect(await page.locator("#summary").textContent()).toBe("1 of 1 ready");

      const outside = requested.filter((url) => !url.startsWith(gw.url) && !url.startsWith("data:"));
      expect(outside).toEqual([]);
      expect(problems).toEqual([]);
    },
  );

  browserTest(
    "Restart asks for the admin token, refuses a wrong one and restarts with the right one; without rights the controls say why",
    async () => {
      const space = makeSpace();
      addProvider(space, "alpha", echoManifest("alpha", { name: "Alpha" }), { fixtures: ["echo.ts"] });
      const gw = await startUnderTest(space, { adminToken: "right-token-123" });
      await waitForStatus(gw.url, "alpha", "ready");
      const before = await getProvider(gw.url, "alpha");

      const { page, problems } = await openBrowser();
      await page.goto(`${gw.url}/_gateway/ui`);
      await pill(page, "alpha", "ready").waitFor();
      await page.locator("#provider-alpha > summary").click();
      await page.locator('#provider-alpha button[data-action="restart"]').click();
      const dialog = page.locator("#token-dialog");
      await dialog.waitFor();
      await page.locator("#token-input").fill("wrong-token");
      await page.locator("#token-ok").click();
      await page.locator("#token-error", { hasText: "That is not the admin token." }).waitFor();
      await shot(page, "token");
      await page.locator("#token-input").fill("right-token-123");
      await page.locator("#token-ok").click();
      await waitFor("alpha restarted", async () => {
        const now = await getProvider(gw.url, "alpha");
        return now.status === "ready" && now.pid !== before.pid;
      });
      await page.locator("#provider-alpha .feedback", { hasText: "done, now ready" }).waitFor();
      expect(await page.locator("#token-button").textContent()).toBe("Admin token: set");
      // Kept in this tab's session storage, nowhere else.
      expect(await page.evaluate(() => sessionStorage.getItem("gateway-admin-token"))).toBe(
        "right-token-123",
      );
      expect(await page.evaluate(() => localStorage.length)).toBe(0);
      expect(problems).toEqual([]);

      // No token, bound beyond loopback: the controls are disabled and say why.
      const open = makeSpace();
      addProvider(open, "gamma", echoManifest("gamma", { name: "Gamma" }), { fixtures: ["echo.ts"] });
      const wide = await startUnderTest(open, { host: "0.0.0.0" });
      await waitForStatus(wide.url, "gamma", "ready");
      // Reached over loopback, but the gateway listens beyond it: no token means no controls.
      await page.goto(`http://127.0.0.1:${new URL(wide.url).port}/_gateway/ui`);
      await pill(page, "gamma", "ready").waitFor();
      await page.locator("#provider-gamma > summary").click();
      const restart = page.locator('#provider-gamma button[data-action="restart"]');
      await page.locator("#provider-gamma .feedback", { hasText: "Controls disabled" }).waitFor();
      expect(await restart.isDisabled()).toBe(true);
      expect(await restart.getAttribute("title")).toContain("--admin-token");
    },
  );

  browserTest(
    "a Core element renders and fetches its API through the gateway; a script that throws or never defines its tag fails in its own panel",
    async () => {
      const space = makeSpace();
      addElementProvider(space, "view", "core-echo-view", "echo-view.js");
      addElementProvider(space, "throws", "core-throws", "throws.js");
      addElementProvider(space, "never", "core-never", "never.js");
      const gw = await startUnderTest(space);
      for (const code of ["view", "throws", "never"]) await waitForStatus(gw.url, code, "ready");

      const asset = await request(`${gw.url}/assets/view/echo-view.js`);
      expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect(asset.headers.get("x-content-type-options")).toBe("nosniff");
      expect(asset.headers.get("content-security-policy")).toContain("default-src 'none'");

      const { page, problems } = await openBrowser();
      await page.goto(`${gw.url}/_gateway/ui`);
      for (const code of ["view", "throws", "never"])
        await page.locator(`#provider-${code} > summary`).click();
      const view = page.locator("#provider-view .element-host core-echo-view");
      await view.filter({ hasText: "echo answered 200" }).waitFor();
      expect(await view.textContent()).toBe(`echo answered 200 for /items?from=element (api-url ${gw.url})`);
      expect(await view.getAttribute("base-url")).toBe(`${gw.url}/api/v1/view`);

      await page.locator("#provider-throws .element-host .error", { hasText: "broken on purpose" }).waitFor();
      await page
        .locator("#provider-never .element-host .error", { hasText: "did not define <core-never>" })
        .waitFor({ timeout: 30_000 });
      // Confined: the good element still works, and the other rows are untouched.
      expect(await page.locator(".element-host .error").count()).toBe(2);
      expect(await view.textContent()).toContain("echo answered 200");
      await shot(page, "elements");
      expect(problems).toEqual([]);
    },
  );

  browserTest("an event stream cut and restored resumes with Last-Event-ID and loses no change", async () => {
    const space = makeSpace();
    addProvider(space, "alpha", echoManifest("alpha", { name: "Alpha" }), { fixtures: ["echo.ts"] });
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "alpha", "ready");
    const upstreamPort = Number(new URL(gw.url).port);

    // A TCP relay between the browser and the gateway that can drop every connection, like a
    // load balancer that restarts.
    const heads: string[] = [];
    type Relayed = { peer?: Socket<unknown>; early: Buffer[] };
    const open = new Set<Socket<Relayed>>();
    let relay: TCPSocketListener<Relayed> | undefined;
    const listen = (port: number) =>
      Bun.listen<Relayed>({
        hostname: "127.0.0.1",
        port,
        socket: {
          async open(client) {
            open.add(client);
            client.data = { early: [] };
            const peer = await Bun.connect({
              hostname: "127.0.0.1",
              port: upstreamPort,
              socket: {
                data: (_, chunk) => void client.write(chunk),
                close: () => void client.end(),
                error: () => void client.end(),
              },
            });
            client.data.peer = peer;
            // What the client sent before the upstream connection was up.
            for (const chunk of client.data.early.splice(0)) peer.write(chunk);
          },
          data(client, chunk) {
            heads.push(chunk.toString("latin1"));
            if (client.data.peer) client.data.peer.write(chunk);
            else client.data.early.push(Buffer.from(chunk));
          },
          close(client) {
            open.delete(client);
            client.data.peer?.end();
          },
          error(client) {
            client.data.peer?.end();
          },
        },
      });
    relay = listen(0);
    const port = relay.port;
    onCleanup(() => relay?.stop(true));

    const { page, problems } = await openBrowser();
    await page.goto(`http://127.0.0.1:${port}/_gateway/ui`);
    await pill(page, "alpha", "ready").waitFor();
    await page.locator("#provider-alpha > summary").click();
    await page.locator("#stream", { hasText: "live" }).waitFor();

    // Cut: every connection dropped, and nothing listens for a while.
    relay.stop(true);
    for (const socket of open) socket.terminate();
    await page.locator("#stream.down").waitFor();

    // Meanwhile the provider restarts: three status changes the page cannot see yet.
    const restarted = await request(`${gw.url}/_gateway/providers/alpha/restart`, { method: "POST" });
    expect(restarted.status).toBe(202);
    await waitForStatus(gw.url, "alpha", "ready");
    await Bun.sleep(300);
    expect(await page.locator("#provider-alpha .changes li[data-event-id]").count()).toBe(0);

    // Long enough for reconnection attempts to fail against the closed port first.
    await Bun.sleep(2500);
    // Restored: the browser reconnects with Last-Event-ID and the missed changes arrive in order.
    relay = listen(port);
    await page.locator("#stream", { hasText: "live" }).waitFor();
    const changes = page.locator("#provider-alpha .changes li[data-event-id]");
    await waitFor("the three missed changes", async () => (await changes.count()) === 3);
    const texts = await changes.allTextContents();
    expect(texts.map((t) => t.replace(/^\S+ /, "").split(":")[0])).toEqual([
      "ready → restarting",
      "restarting → starting",
      "starting → ready",
    ]);
    const ids = (await changes.evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-event-id")))).map(
      Number,
    );
    expect(ids).toEqual([ids[0]!, ids[0]! + 1, ids[0]! + 2]);
    expect(
      heads.some((head) => /^GET \/_gateway\/events/.test(head) && /\r\nlast-event-id: \d+\r\n/i.test(head)),
    ).toBe(true);
    await shot(page, "resumed");
    expect(problems).toEqual([]);
  });

  browserTest("on a phone-sized screen every row fits without scrolling sideways", async () => {
    const space = makeSpace();
    addProvider(space, "alpha", echoManifest("alpha", { name: "Alpha with a rather long name" }), {
      fixtures: ["echo.ts"],
    });
    addElementProvider(space, "view", "core-echo-view", "echo-view.js");
    const gw = await startUnderTest(space);
    await waitForStatus(gw.url, "alpha", "ready");
    await waitForStatus(gw.url, "view", "ready");
    const { page, problems } = await openBrowser({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(`${gw.url}/_gateway/ui`);
    await pill(page, "alpha", "ready").waitFor();
    await pill(page, "view", "ready").waitFor();
    await page.locator("#provider-view > summary").click();
    await page.locator("#provider-view core-echo-view", { hasText: "echo answered" }).waitFor();
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      viewport: window.innerWidth,
    }));
    expect(widths.page).toBeLessThanOrEqual(widths.viewport);
    // Keyboard: Tab reaches a provider's row, and Enter opens it.
    await page.locator("#provider-alpha > summary").focus();
    await page.keyboard.press("Enter");
    expect(await page.locator("#provider-alpha").getAttribute("open")).not.toBeNull();
    await shot(page, "phone-dark");
    expect(problems).toEqual([]);
  });
});
