// Lints the Dockerfile with dockerfile-utils (the linter of the Dockerfile language server) and
// fails on any finding, warnings included: node scripts/lint-dockerfile.mjs
import { spawnSync } from "node:child_process";

const result = spawnSync("node_modules/.bin/dockerfile-utils", ["lint", "Dockerfile"], { encoding: "utf8" });
const findings = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
if (result.status !== 0 || findings !== "") {
  console.error(`Dockerfile: dockerfile-utils found problems:\n${findings}`);
  process.exit(1);
}
console.log("Dockerfile: dockerfile-utils found nothing to fix");
