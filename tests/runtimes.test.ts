import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Manifest, parseManifest } from "../lib/manifest.ts";
import {
  buildLaunchCommand,
  expandVariables,
  LaunchError,
  type LaunchInput,
  RuntimeRegistry,
} from "../lib/runtimes.ts";

const root = mkdtempSync(join(tmpdir(), "gateway-runtimes-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A fresh provider dir with an executable `bin/tool` and a `server.ts`. */
function providerDir(): string {
  const dir = join(root, `provider-${++counter}`);
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "tool"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(join(dir, "server.ts"), "export {};\n");
  return dir;
}

function manifest(yaml: string): Manifest {
  return parseManifest(yaml, "manifest.yaml").manifest;
}

const BUN = { cmd: ["/opt/gateway/gateway"], env: { BUN_BE_BUN: "1" } };

function input(m: Manifest, dir: string, extra: Partial<LaunchInput> = {}): LaunchInput {
  return { manifest: m, dir, port: 4567, env: { PATH: "/nonexistent", PORT: "4567" }, bun: BUN, ...extra };
}

/** Runs `fn` expecting a LaunchError, and returns it. */
function launchError(fn: () => unknown): LaunchError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LaunchError);
    return error as LaunchError;
  }
  throw new Error("expected a LaunchError");
}

const registry = new RuntimeRegistry();

describe("RuntimeRegistry", () => {
  test("RuntimeRegistry lists the built-in runtimes, external included", () => {
    const names = registry.list().map((r) => r.name);
    for (const name of ["core", "exec", "bun", "node", "deno", "external"]) expect(names).toContain(name);
    for (const runtime of registry.list()) expect(runtime.source).toBe("built-in");
    expect(registry.list().find((r) => r.name === "external")!.requires).toBe("nothing");
  });

  test("RuntimeRegistry.resolve returns a runtime by name", () => {
    const core = registry.resolve("core");
    expect(core.name).toBe("core");
    expect(core.requires).toBe("binary");
  });

  test("RuntimeRegistry.resolve resolves core-default to core", () => {
    const resolved = registry.resolve("core-default");
    expect(resolved.name).toBe("core");
    expect(resolved.command).toEqual(registry.resolve("core").command);
  });

  test("RuntimeRegistry.resolve refuses an unknown runtime, listing the known ones and suggesting the closest", () => {
    const error = launchError(() => registry.resolve("exce"));
    expect(error.field).toBe("runtime");
    expect(error.message).toContain('"exce"');
    expect(error.message).toContain('did you mean "exec"');
    for (const name of ["core", "exec", "bun", "node", "deno", "external"])
      expect(error.message).toContain(name);
  });

  test("RuntimeRegistry.resolve refuses an unknown runtime without suggesting a far one", () => {
    const error = launchError(() => registry.resolve("cobol-on-punch-cards"));
    expect(error.message).not.toContain("did you mean");
    expect(error.message).toContain("known runtimes: ");
  });

  test("RuntimeRegistry.resolve refuses an unknown x-default instead of falling back", () => {
    expect(launchError(() => registry.resolve("ruby-default")).message).toContain('"ruby-default"');
  });

  test("RuntimeRegistry.loadFile adds the runtimes of runtimes.yaml", () => {
    const file = join(root, "runtimes-good.yaml");
    writeFileSync(
      file,
      `runtimes:
  ruby:
    description: Ruby from PATH
    requires: entry
    command: [ruby, "{entry}", "{args}"]
    env: { RUBYOPT: -W0 }
  grpc:
    requires: binary
    command: ["{binary}"]
    dies_with_gateway: true
`,
    );
    const runtimes = new RuntimeRegistry();
    runtimes.loadFile(file);
    const ruby = runtimes.resolve("ruby-default");
    expect(ruby).toMatchObject({ name: "ruby", requires: "entry", command: ["ruby", "{entry}", "{args}"] });
    expect(ruby.dies_with_gateway).toBe(false);
    expect(runtimes.resolve("grpc").dies_with_gateway).toBe(true);
    expect(ruby.env).toEqual({ RUBYOPT: "-W0" });
    expect(runtimes.list().find((r) => r.name === "ruby")!.source).toBe(file);
    // The built-ins stay.
    expect(runtimes.resolve("core").name).toBe("core");
    // Another registry is untouched.
    expect(() => registry.resolve("ruby")).toThrow(LaunchError);
  });

  test("RuntimeRegistry.loadFile lets runtimes.yaml override a built-in runtime", () => {
    const file = join(root, "runtimes-override.yaml");
    writeFileSync(
      file,
      "runtimes:\n  node:\n    requires: entry\n    command: [/opt/node22/bin/node, '{entry}']\n",
    );
    const runtimes = new RuntimeRegistry();
    runtimes.loadFile(file);
    expect(runtimes.resolve("node").command).toEqual(["/opt/node22/bin/node", "{entry}"]);
  });

  test("RuntimeRegistry.loadFile rejects a bad runtime naming the file and the field", () => {
    const file = join(root, "runtimes-bad.yaml");
    writeFileSync(file, "runtimes:\n  ruby:\n    requires: script\n    command: [ruby]\n");
    const runtimes = new RuntimeRegistry();
    expect(() => runtimes.loadFile(file)).toThrow(file);
    expect(() => runtimes.loadFile(file)).toThrow('"runtimes.ruby.requires"');
    expect(() => runtimes.resolve("ruby")).toThrow(LaunchError);
  });

  test("RuntimeRegistry.loadFile rejects an unknown field in a runtime definition", () => {
    const file = join(root, "runtimes-unknown.yaml");
    writeFileSync(file, "runtimes:\n  ruby:\n    requires: entry\n    command: [ruby]\n    shell: true\n");
    expect(() => new RuntimeRegistry().loadFile(file)).toThrow(file);
  });

  test("RuntimeRegistry.loadFile rejects a runtimes file that is not YAML naming the file", () => {
    const file = join(root, "runtimes-yaml.yaml");
    writeFileSync(file, "runtimes: {ruby: [\n");
    expect(() => new RuntimeRegistry().loadFile(file)).toThrow(file);
  });

  test("RuntimeRegistry.loadFile refuses to redefine external", () => {
    const file = join(root, "runtimes-external.yaml");
    writeFileSync(file, "runtimes:\n  external:\n    requires: binary\n    command: ['{binary}']\n");
    const runtimes = new RuntimeRegistry();
    expect(() => runtimes.loadFile(file)).toThrow('"external"');
    expect(runtimes.resolve("external").requires).toBe("nothing");
  });

  test("RuntimeRegistry.loadFile ignores a missing file", () => {
    const runtimes = new RuntimeRegistry();
    runtimes.loadFile(join(root, "absent.yaml"));
    expect(runtimes.list().map((r) => r.name)).toEqual(registry.list().map((r) => r.name));
  });
});

describe("buildLaunchCommand", () => {
  test("buildLaunchCommand runs a core binary with its args then --namespace and --port", () => {
    const dir = providerDir();
    const m = manifest("code: w\nbinary: ./bin/tool\nargs: [--verbose, --level, '3']\n");
    const { cmd, env } = buildLaunchCommand(registry.resolve("core"), input(m, dir));
    expect(cmd).toEqual([
      join(dir, "bin", "tool"),
      "--verbose",
      "--level",
      "3",
      "--namespace",
      "/api/v1/w",
      "--port",
      "4567",
    ]);
    expect(env).toEqual({ PATH: "/nonexistent", PORT: "4567" });
  });

  test("buildLaunchCommand runs an exec binary with its args only, expanding ${PORT} and ${VAR} from env", () => {
    const dir = providerDir();
    const m = manifest(
      "code: w\nruntime: exec\nbinary: bin/tool\nargs: ['--listen=127.0.0.1:${PORT}', '${GREETING}, world', '${UNSET}']\n",
    );
    const { cmd } = buildLaunchCommand(
      registry.resolve("exec"),
      input(m, dir, { port: 5555, env: { PORT: "5555", GREETING: "hello" } }),
    );
    expect(cmd).toEqual([join(dir, "bin", "tool"), "--listen=127.0.0.1:5555", "hello, world", ""]);
  });

  test("buildLaunchCommand passes shell syntax in args through literally", () => {
    const dir = providerDir();
    const m = manifest(
      "code: w\nruntime: exec\nbinary: ./bin/tool\nargs: ['$(rm -rf /)', '*', '$HOME', '`id`', 'a b', '{port}']\n",
    );
    const { cmd } = buildLaunchCommand(registry.resolve("exec"), input(m, dir, { env: { HOME: "/root" } }));
    expect(cmd.slice(1)).toEqual(["$(rm -rf /)", "*", "$HOME", "`id`", "a b", "{port}"]);
  });

  test("buildLaunchCommand runs a bun entry with the given bun command and adds its env", () => {
    const dir = providerDir();
    const m = manifest("code: w\nentry: ./server.ts\nargs: [--dev]\n");
    const { cmd, env, diesWithParent } = buildLaunchCommand(registry.resolve("bun"), input(m, dir));
    expect(cmd).toEqual(["/opt/gateway/gateway", "run", "--no-orphans", join(dir, "server.ts"), "--dev"]);
    expect(env).toEqual({ BUN_BE_BUN: "1", PATH: "/nonexistent", PORT: "4567" });
    // --no-orphans ends the provider with the gateway: no setpriv wrapper for it; other runtimes get one.
    expect(diesWithParent).toBe(true);
    expect(
      buildLaunchCommand(registry.resolve("exec"), input(manifest("code: w\nbinary: /bin/true\n"), dir))
        .diesWithParent,
    ).toBe(false);
  });

  test("buildLaunchCommand lets the provider's env win over the runtime's env", () => {
    const dir = providerDir();
    const m = manifest("code: w\nentry: ./server.ts\n");
    const { env } = buildLaunchCommand(registry.resolve("bun"), input(m, dir, { env: { BUN_BE_BUN: "0" } }));
    expect(env.BUN_BE_BUN).toBe("0");
  });

  test("buildLaunchCommand adds the bun env only for the bun runtime", () => {
    const dir = providerDir();
    const m = manifest("code: w\nruntime: node\nentry: ./server.ts\n");
    const { cmd, env } = buildLaunchCommand(registry.resolve("node"), input(m, dir));
    expect(cmd).toEqual(["node", join(dir, "server.ts")]);
    expect(env.BUN_BE_BUN).toBeUndefined();
  });

  test("buildLaunchCommand refuses a binary that climbs out of the provider dir", () => {
    const dir = providerDir();
    const m = manifest("code: w\nbinary: ../../bin/sh\n");
    const error = launchError(() => buildLaunchCommand(registry.resolve("core"), input(m, dir)));
    expect(error.field).toBe("binary");
    expect(error.message).toContain("../../bin/sh");
  });

  test("buildLaunchCommand refuses an entry that climbs out of the provider dir", () => {
    const dir = providerDir();
    const m = manifest("code: w\nentry: ../provider-1/server.ts\n");
    const error = launchError(() => buildLaunchCommand(registry.resolve("bun"), input(m, dir)));
    expect(error.field).toBe("entry");
  });

  test("buildLaunchCommand refuses a binary that is a symlink leading out of the provider dir", () => {
    const dir = providerDir();
    symlinkSync("/bin/sh", join(dir, "bin", "escape"));
    const m = manifest("code: w\nbinary: ./bin/escape\n");
    const error = launchError(() => buildLaunchCommand(registry.resolve("core"), input(m, dir)));
    expect(error.field).toBe("binary");
    expect(error.message).toContain("./bin/escape");
  });

  test("buildLaunchCommand refuses a binary under a symlinked folder leading out of the provider dir", () => {
    const dir = providerDir();
    symlinkSync("/bin", join(dir, "system"));
    const m = manifest("code: w\nbinary: ./system/sh\n");
    expect(launchError(() => buildLaunchCommand(registry.resolve("core"), input(m, dir))).field).toBe(
      "binary",
    );
  });

  test("buildLaunchCommand accepts a symlink that stays inside the provider dir", () => {
    const dir = providerDir();
    symlinkSync("tool", join(dir, "bin", "alias"));
    const m = manifest("code: w\nruntime: exec\nbinary: ./bin/alias\n");
    expect(buildLaunchCommand(registry.resolve("exec"), input(m, dir)).cmd).toEqual([
      join(dir, "bin", "alias"),
    ]);
  });

  test("buildLaunchCommand reports a missing binary", () => {
    const dir = providerDir();
    const m = manifest("code: w\nbinary: ./bin/absent\n");
    const error = launchError(() => buildLaunchCommand(registry.resolve("core"), input(m, dir)));
    expect(error.field).toBe("binary");
    expect(error.message).toContain("does not exist");
  });

  test("buildLaunchCommand reports a binary that is not executable", () => {
    const dir = providerDir();
    writeFileSync(join(dir, "bin", "plain"), "#!/bin/sh\n");
    chmodSync(join(dir, "bin", "plain"), 0o644);
    const m = manifest("code: w\nbinary: ./bin/plain\n");
    const error = launchError(() => buildLaunchCommand(registry.resolve("core"), input(m, dir)));
    expect(error.field).toBe("binary");
    expect(error.message).toContain("not executable");
    expect(error.message).toContain("./bin/plain");
  });

  test("buildLaunchCommand reports a binary that is a directory", () => {
    const dir = providerDir();
    const m = manifest("code: w\nbinary: ./bin\n");
    expect(launchError(() => buildLaunchCommand(registry.resolve("core"), input(m, dir))).field).toBe(
      "binary",
    );
  });

  test("buildLaunchCommand looks a bare binary name up on PATH", () => {
    const dir = providerDir();
    const pathDir = join(root, `path-${counter}`);
    mkdirSync(pathDir);
    writeFileSync(join(pathDir, "helper"), "#!/bin/sh\n", { mode: 0o755 });
    const m = manifest("code: w\nruntime: exec\nbinary: helper\n");
    const { cmd } = buildLaunchCommand(
      registry.resolve("exec"),
      input(m, dir, { env: { PATH: `/nonexistent:${pathDir}` } }),
    );
    expect(cmd).toEqual([join(pathDir, "helper")]);
  });

  test("buildLaunchCommand prefers a bare binary name found in the provider dir over PATH", () => {
    const dir = providerDir();
    writeFileSync(join(dir, "sh"), "#!/bin/sh\n", { mode: 0o755 });
    const m = manifest("code: w\nruntime: exec\nbinary: sh\n");
    const { cmd } = buildLaunchCommand(
      registry.resolve("exec"),
      input(m, dir, { env: { PATH: "/bin:/usr/bin" } }),
    );
    expect(cmd).toEqual([join(dir, "sh")]);
  });

  test("buildLaunchCommand reports a bare binary name found neither in the dir nor on PATH", () => {
    const dir = providerDir();
    const m = manifest("code: w\nruntime: exec\nbinary: no-such-program-here\n");
    const error = launchError(() =>
      buildLaunchCommand(registry.resolve("exec"), input(m, dir, { env: { PATH: "/nonexistent" } })),
    );
    expect(error.field).toBe("binary");
    expect(error.message).toContain("no-such-program-here");
  });

  test("buildLaunchCommand allows an absolute binary outside the provider dir", () => {
    const dir = providerDir();
    const m = manifest("code: w\nruntime: exec\nbinary: /bin/sh\nargs: [-c, 'exit 0']\n");
    expect(buildLaunchCommand(registry.resolve("exec"), input(m, dir)).cmd).toEqual([
      "/bin/sh",
      "-c",
      "exit 0",
    ]);
  });

  test("buildLaunchCommand asks for a binary when the runtime needs one and none is given", () => {
    const dir = providerDir();
    const m = manifest("code: w\nruntime: core\n");
    expect(launchError(() => buildLaunchCommand(registry.resolve("core"), input(m, dir))).field).toBe(
      "binary",
    );
  });

  test("buildLaunchCommand asks for an entry when the runtime needs one and none is given", () => {
    const dir = providerDir();
    const m = manifest("code: w\nruntime: bun\n");
    expect(launchError(() => buildLaunchCommand(registry.resolve("bun"), input(m, dir))).field).toBe("entry");
  });

  test("buildLaunchCommand refuses to build a command for the external runtime", () => {
    const dir = providerDir();
    const m = manifest("code: w\nruntime: external\n");
    expect(launchError(() => buildLaunchCommand(registry.resolve("external"), input(m, dir))).field).toBe(
      "runtime",
    );
  });
});

describe("expandVariables", () => {
  test("expandVariables replaces ${VAR} and leaves $VAR and unbalanced braces alone", () => {
    expect(expandVariables("${A}-$A-${B-${A}", { A: "x", B: "y" })).toBe("x-$A-${B-x");
  });
});
