/**
 * What the supervisor benchmarks (and scripts/record-bytecode-order.ts) share: the fixture
 * providers, the gateway's command line, and waiting for a 200.
 */
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

/** The status `url` answers (its body read), or 0 when nothing answers. */
export async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Polls `url` every `everyMs` until it answers 200; returns when, in ms since `since`. */
export async function until200(
  url: string,
  since: number,
  everyMs = 5,
  timeoutMs = 120_000,
): Promise<number> {
  while (performance.now() - since < timeoutMs) {
    if ((await status(url)) === 200) return performance.now() - since;
    await Bun.sleep(everyMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}
