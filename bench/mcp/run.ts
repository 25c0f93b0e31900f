/**
 * MCP benchmark: `gateway mcp` (the compiled ./gateway) over PROVIDERS providers, driven by the
 * SDK's own stdio client, as an agent would. Two catalogues:
 *
 * - "small": PROVIDERS echo fixtures, one operation each (all listed as tools);
 * - "large": PROVIDERS tools fixtures (tests/fixtures/tools.ts), nine operations each, past the
 *   100-tool budget (only the gateway's tools listed; search reaches the rest).
 *
 * For each: initialize (from spawn), time until every provider's operations are in the catalogue,
 * then the median and p95 of `tools/list`, of `gateway_search`, and of one operation call
 * (through the proxy to a provider), ROUNDS times each.
 *
 * Run with `node_modules/.bin/bun bench/mcp/run.ts`; it builds ./gateway if missing.
 * Environment: PROVIDERS (default 50), ROUNDS (default 200), GATEWAY (binary, default ./gateway).
 * Writes bench/mcp/last-results.json.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const PROVIDERS = Number(process.env.PROVIDERS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 200);
const GATEWAY = resolve(process.env.GATEWAY ?? "./gateway");
const FIXTURES = resolve(import.meta.dir, "..", "..", "tests", "fixtures");

if (!existsSync(GATEWAY)) {
  const built = Bun.spawnSync(["npm", "run", "build"], { stdout: "inherit", stderr: "inherit" });
  if (built.exitCode !== 0) throw new Error("npm run build failed");
}

function stats(samples: number[]): { median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2));
  return { median: at(0.5), p95: at(0.95) };
}

async function timed(rounds: number, run: () => Promise<unknown>): Promise<{ median: number; p95: number }> {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return stats(samples);
}

async function measure(kind: "small" | "large") {
  const root = mkdtempSync(join(tmpdir(), `gateway-mcp-bench-${kind}-`));
  const fixture = kind === "small" ? "echo.ts" : "tools.ts";
  for (let i = 0; i < PROVIDERS; i++) {
    const dir = join(root, `p${i}`);
    mkdirSync(dir);
    copyFileSync(join(FIXTURES, fixture), join(dir, fixture));
    writeFileSync(
      join(dir, "manifest.yaml"),
      `code: p${i}\nruntime: bun\nentry: ./${fixture}\nhealth: {path: /health, interval: 1s, startup_timeout: 60s}\n`,
    );
  }
  const started = performance.now();
  const transport = new StdioClientTransport({
    command: GATEWAY,
    args: ["mcp", "--providers-dir", root, "--log-level", "warn"],
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  const initializeMs = performance.now() - started;
  const perProvider = kind === "small" ? 1 : 8;
  const search = () => client.callTool({ name: "gateway_search", arguments: { query: "items" } });
  for (;;) {
    const found = (await search()).structuredContent as { total: number };
    if (found.total >= PROVIDERS * (kind === "small" ? 1 : 2)) break;
    if (performance.now() - started > 120_000) throw new Error(`only ${found.total} operations after 120 s`);
    await Bun.sleep(100);
  }
  const catalogueMs = performance.now() - started;
  const listed = (await client.listTools()).tools.length;
  const last = `p${PROVIDERS - 1}`;
  const target = kind === "small" ? `${last}_list_items` : `${last}_get_item`;
  const call = () =>
    client.callTool({
      name: kind === "small" ? target : "gateway_call",
      arguments: kind === "small" ? {} : { name: target, arguments: { id: "1" } },
    });
  const probe = (await call()) as { isError?: boolean; content: Array<{ text?: string }> };
  if (probe.isError) throw new Error(`the call failed: ${probe.content[0]?.text}`);
  const result = {
    providers: PROVIDERS,
    operations: PROVIDERS * perProvider,
    tools_listed: listed,
    initialize_ms: Number(initializeMs.toFixed(1)),
    catalogue_complete_ms: Number(catalogueMs.toFixed(0)),
    tools_list_ms: await timed(ROUNDS, () => client.listTools()),
    gateway_search_ms: await timed(ROUNDS, search),
    call_ms: await timed(ROUNDS, call),
  };
  await client.close();
  rmSync(root, { recursive: true, force: true });
  return result;
}

const small = await measure("small");
console.log("small", small);
const large = await measure("large");
console.log("large", large);
const results = { date: new Date().toISOString(), bun: Bun.version, small, large };
writeFileSync(join(import.meta.dir, "last-results.json"), `${JSON.stringify(results, null, 2)}\n`);
