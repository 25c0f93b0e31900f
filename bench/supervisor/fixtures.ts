/** What the supervisor benchmarks share: the fixture providers and the gateway's command line. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const FIXTURE = join(import.meta.dir, "fixture.ts");

/** Writes `count` fixture providers (`p000`…, runtime bun, health /health) into `dir`; returns `dir`. */
export function fixtureProviders(dir: string, count: number): string {
  const source = readFileSync(FIXTURE);
  for (let i = 0; i < count; i++) {
    const code = `p${String(i).padStart(3, "0")}`;
    mkdirSync(join(dir, code), { recursive: true });
    writeFileSync(join(dir, code, "fixture.ts"), source);
    writeFileSync(
      join(dir, code, "manifest.yaml"),
      `code: ${code}\nruntime: bun\nentry: ./fixture.ts\nhealth: { path: /health }\nstop_timeout: 2s\n`,
    );
  }
  return dir;
}

/** `gateway` serving `dir` on `port`, logging warnings and worse as JSON. */
export function gatewayCommand(gateway: string, dir: string, port: number): string[] {
  return [
    gateway,
    "--providers-dir",
    dir,
    "--port",
    String(port),
    "--log-level",
    "warn",
    "--log-format",
    "json",
  ];
}
