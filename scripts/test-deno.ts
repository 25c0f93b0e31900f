/**
 * Runs the black-box tests against a Deno gateway (`deno run main.ts`): every test file that
 * starts its gateway through `startUnderTest` or as a subprocess (`spawnGateway`, `runCli`), with
 * GATEWAY_UNDER_TEST=deno. `npm test` runs it after the whole suite has run on Bun, so each of
 * those tests passes both ways. Extra arguments go to `bun test` (a `-t` filter, say).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const BLACK_BOX = /\b(startUnderTest|startUnderTestWithSibling|spawnGateway|runCli)\(/;

const files = readdirSync(join(root, "tests"))
  .filter((name) => name.endsWith(".test.ts"))
  .filter((name) => BLACK_BOX.test(readFileSync(join(root, "tests", name), "utf8")))
  .sort()
  .map((name) => join("tests", name));

console.log(`Black-box tests against deno run main.ts: ${files.length} files`);
const proc = Bun.spawn({
  cmd: [process.execPath, "test", ...files, ...process.argv.slice(2)],
  cwd: root,
  env: { ...process.env, GATEWAY_UNDER_TEST: "deno" },
  stdio: ["inherit", "inherit", "inherit"],
});
process.exit(await proc.exited);
