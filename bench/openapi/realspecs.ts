/**
 * Real-world specs: loads every `<dir>/<name>/spec.{yaml,json}` under REALSPECS (by default
 * `../shared/realspecs`, outside the project: the documents are not ours to copy), as the gateway
 * loads a provider's `spec` file, then merges them into one document and validates it.
 *
 * Prints, for each spec, its input version, how many operations were kept and left out, and the
 * load time; then the merge time (median of 9) and whether the merged document is valid.
 *
 *   bun bench/openapi/realspecs.ts            REALSPECS=/path/to/specs bun bench/openapi/realspecs.ts
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { mergeSpecs } from "../../lib/openapi/merge.ts";
import { type LoadedSpec, loadSpecFile } from "../../lib/openapi/spec.ts";
import { validateSpec } from "../../lib/openapi/validate.ts";
import { BENCH_BASE, readyProviders } from "./merge-inputs.ts";

const root = resolve(process.env.REALSPECS ?? join(import.meta.dir, "..", "..", "..", "shared", "realspecs"));
if (!existsSync(root)) {
  console.error(`No real specs at ${root}: set REALSPECS to a folder of <name>/spec.yaml or spec.json.`);
  process.exit(2);
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const countOperations = (document: LoadedSpec["document"]) => {
  let count = 0;
  for (const item of Object.values((document?.paths ?? {}) as Record<string, Record<string, unknown>>))
    for (const method of METHODS) if (item && typeof item === "object" && method in item) count++;
  return count;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const ms = (value: number) => Math.round(value * 10) / 10;

const loaded: Array<{ code: string; spec: LoadedSpec; loadMs: number }> = [];
for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  const file = ["spec.yaml", "spec.json"].find((candidate) => existsSync(join(dir, candidate)));
  if (!file) continue;
  const started = performance.now();
  const spec = await loadSpecFile(file, dir);
  loaded.push({
    code: name.replace(/[^a-z0-9-]/g, "-").slice(0, 40),
    spec,
    loadMs: performance.now() - started,
  });
}

let loadTotal = 0;
for (const { code, spec, loadMs } of loaded) {
  loadTotal += loadMs;
  const leftOut = (spec as { leftOut?: unknown[] }).leftOut ?? [];
  const state = spec.document ? "used" : `left out (${spec.errors.length} errors)`;
  console.log(
    `${code.padEnd(24)} ${String(spec.inputVersion ?? "?").padEnd(4)} ${state.padEnd(24)} ` +
      `operations kept ${String(countOperations(spec.document)).padStart(3)}, left out ${String(leftOut.length).padStart(2)}; ` +
      `load ${ms(loadMs)} ms`,
  );
}

const providers = readyProviders(loaded);
const base = BENCH_BASE;
const runs: number[] = [];
for (let run = 0; run < 9; run++) {
  const started = performance.now();
  mergeSpecs(providers, base);
  runs.push(performance.now() - started);
}
const merged = mergeSpecs(providers, base);
const validation = await validateSpec(merged);
console.log(
  `${loaded.length} specs: load ${ms(loadTotal)} ms in all; merge ${ms(median(runs))} ms (median of 9); ` +
    `merged operations ${countOperations(merged)}; merged document valid: ${validation.valid}`,
);
if (!validation.valid) {
  console.error(validation.errors.slice(0, 5).join("\n"));
  process.exit(1);
}
