/**
 * Routing cost alone: NamespaceTable.match with 1 namespace against 1,000, for a path under the
 * last one. Run: node_modules/.bin/bun bench/proxy/routing.ts
 */
import { NamespaceTable, type ProxyTarget } from "../../lib/proxy/table.ts";
import { Traffic } from "../../lib/proxy/traffic.ts";

function table(count: number): NamespaceTable {
  const targets: ProxyTarget[] = [];
  for (let i = 0; i < count; i++) {
    const code = count === 1 ? "bench" : `bench-${String(i).padStart(4, "0")}`;
    targets.push({
      code,
      namespace: `/api/v1/${code}`,
      upstream: () => null,
      endpoint: () => null,
      status: () => "ready",
      timeoutMs: 1,
      holds: () => false,
      holdMs: 0,
      holdQueue: 0,
      traffic: new Traffic(),
    });
  }
  return new NamespaceTable(targets);
}

function nsPerLookup(t: NamespaceTable, path: string): number {
  let hits = 0;
  for (let i = 0; i < 200_000; i++) if (t.match(path)) hits++;
  const n = 2_000_000;
  const start = performance.now();
  for (let i = 0; i < n; i++) if (t.match(path)) hits++;
  if (hits === 0) throw new Error("no match");
  return ((performance.now() - start) / n) * 1e6;
}

const one = table(1);
const thousand = table(1000);
const rounds: Array<[number, number]> = [];
for (let round = 0; round < 5; round++) {
  rounds.push([nsPerLookup(one, "/api/v1/bench/items"), nsPerLookup(thousand, "/api/v1/bench-0999/items")]);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const a = median(rounds.map((r) => r[0]));
const b = median(rounds.map((r) => r[1]));
console.log(
  `match, 1 namespace: ${a.toFixed(1)} ns; 1,000 namespaces: ${b.toFixed(1)} ns; ratio ${(b / a).toFixed(3)}`,
);
