/**
 * The fixture providers of tests/fixtures/ in a sandbox: {@link fixtureManifest}, the one builder
 * of their manifests, and helpers that add the common ones; also the shapes the wire fixture
 * (tests/fixtures/wire.ts) answers with.
 */
import { addProvider, BUN, type Space } from "./sandbox.ts";

/** How a fixture starts: a file of tests/fixtures/ run by Bun (`"echo.ts"`), or an executable one. */
export type FixtureLaunch = string | { binary: string; args?: string[] };

/**
 * The manifest of a fixture provider: health at `/health`, probed every second, 20 s to start,
 * 5 s to stop; `extra` goes on top (a key set to `undefined` there is left out of the YAML, so
 * the schema's default applies).
 */
export function fixtureManifest(
  code: string,
  launch: FixtureLaunch,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const how =
    typeof launch === "string"
      ? { runtime: "bun", entry: `./${launch}` }
      : { runtime: "exec", binary: `./${launch.binary}`, ...(launch.args ? { args: launch.args } : {}) };
  return {
    code,
    ...how,
    health: { path: "/health", interval: "1s", startup_timeout: "20s" },
    stop_timeout: "5s",
    ...extra,
  };
}

/** A manifest for the Bun echo fixture (tests/fixtures/echo.ts), merged with `extra`. */
export function echoManifest(code: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { code, name: `Echo ${code}`, ...fixtureManifest(code, "echo.ts", extra) };
}

/** Adds a provider running `entry` (a file of tests/fixtures/) with Bun; returns its dir. */
export function addFixtureProvider(
  space: Space,
  code: string,
  entry: string,
  extra: Record<string, unknown> = {},
): string {
  return addProvider(space, code, fixtureManifest(code, entry, extra), { fixtures: [entry] });
}

/** Adds an echo provider (Bun runtime). */
export function addEchoProvider(space: Space, code: string, extra: Record<string, unknown> = {}): string {
  return addProvider(space, code, echoManifest(code, extra), { fixtures: ["echo.ts"] });
}

/** Adds a raw-socket HTTP/1.1 provider (tests/fixtures/wire.ts) that reports the exact bytes it got. */
export function addWireProvider(space: Space, code: string, extra: Record<string, unknown> = {}): string {
  return addFixtureProvider(space, code, "wire.ts", extra);
}

/**
 * A provider whose process tree goes two deep: `grandchild.sh` leaves a background child and runs
 * the echo fixture (health `/health`), so stopping it must end the whole process group. It keeps
 * the schema's start-up and stop timeouts.
 */
export function addGrandchildProvider(
  space: Space,
  code: string,
  extra: Record<string, unknown> = {},
): string {
  const manifest = fixtureManifest(
    code,
    { binary: "grandchild.sh" },
    { env: { FIXTURE_BUN: BUN }, health: { path: "/health" }, stop_timeout: undefined, ...extra },
  );
  return addProvider(space, code, manifest, { fixtures: ["grandchild.sh", "echo.ts"] });
}

/**
 * A provider that runs but never listens (`forever.sh`), so it is never healthy: it stays
 * `starting` until its `startup_timeout` (in `health`, given by the caller).
 */
export function addNeverReadyProvider(space: Space, code: string, extra: Record<string, unknown>): string {
  return addProvider(
    space,
    code,
    { code, runtime: "exec", binary: "./forever.sh", ...extra },
    { fixtures: ["forever.sh"] },
  );
}

/** What the wire fixture echoes for a request it has no route for. */
export interface WireEcho {
  provider: string;
  conn: number;
  seq: number;
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  rawHead: string;
  bodyLength: number;
  body: string | null;
  decodedBody: string | null;
  sha256: string;
}

/** What the wire fixture's `GET /__state?id=X` answers about request id X. */
export interface WireState {
  hits: number;
  received: number;
  produced: number;
  aborted_at: number | null;
  produced_closed_at: number | null;
}
