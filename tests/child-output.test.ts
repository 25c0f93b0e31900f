/**
 * A provider's stdout and stderr as the Bun adapter hands them to the supervisor: over the
 * gateway's own socket pairs on Linux (lib/runtime/bun-output.ts), read with backpressure.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { fstatSync, openSync, readdirSync } from "node:fs";
import { bunAdapter } from "../lib/runtime/bun.ts";
import { outputPairs } from "../lib/runtime/bun-output.ts";
import type { ChildProcess } from "../lib/runtime/types.ts";

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    bunAdapter.killGroup(child.pid, "SIGKILL");
    await child.exited;
  }
});

function spawnScript(script: string): ChildProcess {
  const child = bunAdapter.spawn({
    cmd: [process.execPath, "-e", script],
    cwd: import.meta.dir,
    env: { ...process.env, BUN_BE_BUN: "1" } as Record<string, string>,
    diesWithParent: true,
  });
  children.push(child);
  return child;
}

/** Reads the whole stream, pausing now and then so that its queue fills and the socket stops reading. */
async function readSlowly(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  for (let n = 0; ; n++) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    if (n % 8 === 0) await Bun.sleep(5);
  }
  return Buffer.concat(parts).toString("utf8");
}

const LINES = 40_000;

describe("a child's output", () => {
  test("arrives whole and in order on both streams when the gateway reads slower than the child writes", async () => {
    // Blocking writes of about 1.2 MB to each stream: far more than the kernel buffers hold, so the
    // child waits on the gateway (and would fail with EAGAIN if its end were non-blocking).
    const child = spawnScript(`
      const { writeSync } = require("node:fs");
      for (let i = 0; i < ${LINES}; i += 100) {
        let out = "", err = "";
        for (let j = i; j < i + 100; j++) { out += "out " + j + " " + "x".repeat(20) + "\\n"; err += "err " + j + "\\n"; }
        writeSync(1, out);
        writeSync(2, err);
      }
    `);
    const [stdout, stderr, exit] = await Promise.all([
      readSlowly(child.stdout),
      readSlowly(child.stderr),
      child.exited,
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    const outLines = stdout.trimEnd().split("\n");
    const errLines = stderr.trimEnd().split("\n");
    expect(outLines).toHaveLength(LINES);
    expect(errLines).toHaveLength(LINES);
    for (let i = 0; i < LINES; i++) {
      if (outLines[i] !== `out ${i} ${"x".repeat(20)}`) throw new Error(`stdout line ${i}: ${outLines[i]}`);
      if (errLines[i] !== `err ${i}`) throw new Error(`stderr line ${i}: ${errLines[i]}`);
    }
  });

  test("ends when the child exits, and leaves no descriptor of it open in the gateway", async () => {
    const before = readdirSync("/proc/self/fd").length;
    for (let round = 0; round < 20; round++) {
      const child = spawnScript(`console.log("hello"); console.error("world");`);
      const [stdout, stderr] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      expect(stdout).toBe("hello\n");
      expect(stderr).toBe("world\n");
      expect((await child.exited).code).toBe(0);
    }
    children.splice(0);
    // Sockets are closed as their end is read; a few may still be on the way out.
    await Bun.sleep(50);
    expect(readdirSync("/proc/self/fd").length).toBeLessThan(before + 5);
  });

  test("a child's output ends when it exits, though a child spawned after it still runs", async () => {
    // Were its end of the pair left open in the gateway, or inherited by the next spawn, the
    // stream would stay open as long as the later child lives.
    const short = spawnScript(`setTimeout(() => console.log("short"), 200);`);
    const long = spawnScript(`console.log("long"); setTimeout(() => {}, 60_000);`);
    expect(await new Response(short.stdout).text()).toBe("short\n");
    expect((await short.exited).code).toBe(0);
    const reader = long.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("long\n");
    reader.releaseLock();
  });

  test("a spawn that fails leaves no descriptor of its output pairs open", () => {
    const before = readdirSync("/proc/self/fd").length;
    for (let round = 0; round < 20; round++) {
      expect(() =>
        bunAdapter.spawn({
          cmd: ["/nonexistent/provider-binary"],
          cwd: import.meta.dir,
          env: {},
          diesWithParent: true,
        }),
      ).toThrow();
    }
    expect(readdirSync("/proc/self/fd").length).toBeLessThan(before + 3);
  });

  test("when the second pair cannot be made, the first is closed and the error says what to do", () => {
    const opened: number[] = [];
    let calls = 0;
    // A socketpair that succeeds once (with two real descriptors), then fails as with EMFILE.
    const call = (_domain: number, _type: number, _protocol: number, fds: Int32Array) => {
      if (calls++ > 0) return -1;
      fds[0] = openSync("/dev/null", "r");
      fds[1] = openSync("/dev/null", "r");
      opened.push(fds[0], fds[1]);
      return 0;
    };
    expect(() => outputPairs(call)).toThrow(/socketpair\(2\) failed.*raise ulimit -n/);
    expect(opened).toHaveLength(2);
    for (const fd of opened) expect(() => fstatSync(fd)).toThrow();
  });
});
