/**
 * Builds the single executable: `bun scripts/build.ts [outfile]` (default ./gateway). The one
 * place that knows the build flags; `npm run build`, the tests that build a binary of their own
 * and the benchmarks all come through here.
 */
import { existsSync, readdirSync } from "node:fs";
import { resolve } from "node:path";

const REPO = resolve(import.meta.dir, "..");

export const BUILD_FLAGS = [
  "--compile",
  // Precompiled bytecode: the modules load without parsing (boot about 3× faster).
  "--bytecode",
  "--minify-syntax",
  // ES modules, split at each dynamic import: a chunk (the HTTP app, MCP, the spec worker's
  // parser) is loaded when first imported, not parsed with the start-up code. Measured: boot
  // −0.9 ms, RSS with 50 ready providers −1.1 to −1.3 MB (bench/supervisor/memory.ts).
  "--format=esm",
  "--splitting",
  // The JIT starts 20× more reluctant to tier up, so the run-once code of start-up (module
  // loading, manifests, 50 spawns) is not compiled on a second core while the providers need
  // it; the gateway sets the normal policy back once no provider is starting
  // (RuntimeAdapter.startupDone). Measured: 100 → 62 ms of CPU to start 50 providers.
  "--compile-jit-policy",
  "20",
  // The gateway's environment is the one it was started with: no .env or bunfig.toml from the
  // working directory (Bun's default for executables would read both).
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

/**
 * The profiles the bytecode is laid out by, most common first (`scripts/record-bytecode-order.ts`
 * records them): the bytecode common runs used, first and together, so fewer pages of the
 * executable are read in. A build without them (none there) works the same, with more memory.
 */
export const BYTECODE_ORDER_DIR = resolve(REPO, "scripts", "bytecode-order");

function bytecodeOrderFiles(): string[] {
  if (!existsSync(BYTECODE_ORDER_DIR)) return [];
  return readdirSync(BYTECODE_ORDER_DIR)
    .filter((name) => name.endsWith(".order"))
    .sort()
    .map((name) => resolve(BYTECODE_ORDER_DIR, name));
}

/** Builds the gateway into `outfile`; throws with Bun's output on failure. */
export async function buildGateway(
  outfile: string,
  bun = process.execPath,
  options: { bytecodeOrder?: boolean } = {},
): Promise<void> {
  const profiles = options.bytecodeOrder === false ? [] : bytecodeOrderFiles();
  const order = profiles.length > 0 ? [`--bytecode-order=${profiles.join(",")}`] : [];
  const build = Bun.spawn({
    // The spec worker is a second entry point: a compiled executable only holds the workers named here.
    cmd: [
      bun,
      "build",
      ...BUILD_FLAGS,
      ...order,
      "main.ts",
      "lib/openapi/spec-worker.ts",
      "--outfile",
      outfile,
    ],
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([
    build.exited,
    new Response(build.stdout).text(),
    new Response(build.stderr).text(),
  ]);
  if (code !== 0) throw new Error(`bun build failed (exit ${code}):\n${stdout}${stderr}`);
}

if (import.meta.main) {
  const outfile = resolve(process.argv[2] ?? resolve(REPO, "gateway"));
  await buildGateway(outfile);
  console.log(`built ${outfile}`);
}
