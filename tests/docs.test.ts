/**
 * `/docs`: the API reference page and its files, served from the binary; and, in headless
 * Chromium against the compiled ./gateway with every non-loopback request cut off, that it shows
 * every provider's operations, that "Try it out" reaches a provider through the gateway, and that
 * no request leaves localhost.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildGateway } from "../scripts/build.ts";
import {
  addEchoProvider,
  cleanup,
  isFreshBuild,
  makeSpace,
  REPO_ROOT,
  request,
  spawnGateway,
  startUnderTest,
  waitForStatus,
} from "./helpers.ts";
import { addSpecProvider } from "./openapi-helpers.ts";
import { CHROMIUM, skipsWithoutChromium } from "./support/browser.ts";

setDefaultTimeout(120_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

describe("/docs over HTTP", () => {
  test("/docs is an HTML page whose scripts and styles come from the gateway, under a same-origin-only policy", async () => {
    const gw = await startUnderTest(makeSpace());
    const page = await request<string>(`${gw.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("script-src 'self'");
    const sources = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(sources).toEqual([
      "data:,",
      "/docs/assets/swagger-ui.css",
      "/docs/assets/swagger-ui-bundle.js",
      "/docs/assets/init.js",
    ]);
    for (const [path, type, size] of [
      ["/docs/assets/swagger-ui.css", "text/css; charset=utf-8", 100_000],
      ["/docs/assets/swagger-ui-bundle.js", "text/javascript; charset=utf-8", 1_000_000],
      ["/docs/assets/init.js", "text/javascript; charset=utf-8", 100],
    ] as const) {
      const asset = await request(`${gw.url}${path}`);
      expect({ path, status: asset.status, type: asset.headers.get("content-type") }).toEqual({
        path,
        status: 200,
        type,
      });
      expect(asset.text.length).toBeGreaterThan(size);
      const etag = asset.headers.get("etag")!;
      const again = await request(`${gw.url}${path}`, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
    }
    // The page reads the gateway's document and never asks the public validator.
    const init = await request(`${gw.url}/docs/assets/init.js`);
    expect(init.text).toContain('url: "/openapi.json"');
    expect(init.text).toContain("validatorUrl: null");
  });
});

const SKIP_BROWSER = skipsWithoutChromium("docs.test.ts");

describe("/docs in headless Chromium, offline", () => {
  let binary = join(REPO_ROOT, "gateway");
  let buildDir: string | undefined;

  beforeAll(async () => {
    if (SKIP_BROWSER) return;
    buildDir = mkdtempSync(join(tmpdir(), "gateway-docs-build-"));
    if (isFreshBuild(binary)) {
      // Run a copy from elsewhere: whatever the page needs must be inside the binary.
      cpSync(binary, join(buildDir, "gateway"));
      binary = join(buildDir, "gateway");
      return;
    }
    binary = join(buildDir, "gateway");
    await buildGateway(binary);
  }, 300_000);

  afterAll(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  test.skipIf(SKIP_BROWSER)(
    "the page shows every provider's operations, 'Try it out' goes through the gateway, and nothing leaves localhost",
    async () => {
      const { chromium } = await import("playwright-core");
      const space = makeSpace();
      addSpecProvider(space, "pets", "petstore-v3", "openapi.yaml", { name: "Pets" });
      addSpecProvider(space, "store", "petstore-expanded-v2", "swagger.json", { name: "Store" });
      addEchoProvider(space, "echo", { name: "Echo" }); // its spec comes from its own /openapi.json
      const gw = await spawnGateway(
        [
          "--providers-dir",
          space.providersDir,
          "--registry",
          join(space.root, "registry.yaml"),
          "--port",
          "0",
        ],
        { cmd: [binary], env: { GW_TEST_MARKER: space.marker } },
      );
      for (const code of ["pets", "store", "echo"]) await waitForStatus(gw.url, code, "ready");
      // The echo provider's spec is fetched once it is ready: wait until the document has it.
      const doc = await waitForDocument(gw.url, "echo_listItems");
      const expectedIds = operationIds(doc);
      expect(expectedIds).toEqual(
        expect.arrayContaining(["pets_listPets", "store_addPet", "echo_listItems"]),
      );

      const userDataDir = mkdtempSync(join(tmpdir(), "gateway-chromium-"));
      const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          // The network is cut off: anything not on loopback goes to a proxy that is not there.
          "--proxy-server=http://127.0.0.1:9",
        ],
      });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        const requested: string[] = [];
        const violations: string[] = [];
        page.on("request", (req) => requested.push(req.url()));
        page.on("console", (message) => {
          if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
        });

        await page.goto(`${gw.url}/docs`);
        await page.locator(".opblock").first().waitFor({ timeout: 60_000 });
        // Every provider's tag, and every operation of the document, is on the page.
        for (const tag of ["gateway", "Pets", "Store", "Echo"]) {
          await page.locator(`.opblock-tag[data-tag="${tag}"]`).waitFor();
        }
        const shown = await page.locator(".opblock-summary-operation-id").allTextContents();
        expect(shown.map((id) => id.trim()).sort()).toEqual([...expectedIds].sort());

        // Try it out: GET /pets of the Petstore, through the gateway to the provider.
        const block = page.locator(
          '.opblock-get:has(.opblock-summary-path[data-path="/api/v1/pets/v1/pets"])',
        );
        await block.locator(".opblock-summary-control").click();
        const tryOut = block.locator("button.try-out__btn");
        if ((await tryOut.count()) > 0 && (await tryOut.textContent())?.includes("Try it out"))
          await tryOut.click();
        await block.locator('input[placeholder="limit"]').fill("7");
        await block.locator("button.execute").click();
        const status = block.locator(".live-responses-table tbody .response-col_status").first();
        await status.waitFor({ timeout: 30_000 });
        expect((await status.textContent())?.trim()).toBe("200");
        const body = await block
          .locator(".live-responses-table .response-col_description pre")
          .first()
          .textContent();
        expect(JSON.parse(body ?? "{}")).toMatchObject({
          provider: "pets",
          method: "GET",
          path: "/v1/pets",
          query: "?limit=7",
        });
        expect(requested).toContain(`${gw.url}/api/v1/pets/v1/pets?limit=7`);

        // Every request the page made went to this gateway on loopback.
        expect(requested.length).toBeGreaterThan(4);
        const outside = requested.filter((url) => {
          const { protocol, hostname } = new URL(url);
          if (protocol === "data:" || protocol === "blob:") return false;
          return !["127.0.0.1", "localhost", "[::1]"].includes(hostname);
        });
        expect(outside).toEqual([]);
        expect(violations).toEqual([]);
      } finally {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  );
});

async function waitForDocument(url: string, operationId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const doc = (await request<Record<string, unknown>>(`${url}/openapi.json`)).body;
    if (operationIds(doc).includes(operationId)) return doc;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${operationId} in /openapi.json`);
    await Bun.sleep(100);
  }
}

function operationIds(doc: Record<string, unknown>): string[] {
  const ids: string[] = [];
  for (const item of Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (method !== "parameters" && op.operationId) ids.push(op.operationId);
    }
  }
  return ids;
}
