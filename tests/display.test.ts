/**
 * The live start-up view: drawn in place on a terminal (a real pseudo-terminal from util-linux
 * `script`), absent on a pipe and with --log-format json; and the drawing itself against a fake
 * terminal.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { type DisplaySource, StartupDisplay } from "../lib/supervisor/display.ts";
import type { ProviderStatus, StatusEvent } from "../lib/supervisor/status.ts";
import {
  addEchoProvider,
  addProvider,
  cleanup,
  collectText,
  exitCode,
  leftoverProcesses,
  makeSpace,
  request,
  SOURCE_GATEWAY,
  type Space,
  spawnGateway,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(120_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

const ESCAPE = "\x1b[";
const SCRIPT = "/usr/bin/script";

/** `text` without ANSI escape sequences. */
function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

/** Two echo providers that get ready and one that fails at once. */
function threeProviders(space: Space): void {
  addEchoProvider(space, "alpha");
  addEchoProvider(space, "beta");
  addProvider(
    space,
    "broken",
    { code: "broken", runtime: "exec", binary: "./crash.sh", restart: { policy: "never" } },
    { fixtures: ["crash.sh"] },
  );
}

/**
 * Runs the gateway from source on a pseudo-terminal (`script -qfc CMD /dev/null`): its stdout and
 * stderr are a TTY, and everything it draws comes out of `script`'s stdout.
 */
function onTerminal(args: string[]): { output: () => string; stop: () => Promise<number> } {
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  const command = `exec ${[...SOURCE_GATEWAY, ...args].map(quote).join(" ")}`;
  const proc = Bun.spawn({
    cmd: [SCRIPT, "-qfc", command, "/dev/null"],
    env: { ...process.env, COLUMNS: "100", LINES: "30" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = collectText(proc.stdout);
  const stop = async () => {
    // The gateway is script's child (exec'd by its shell): SIGTERM it as an operator would.
    const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/);
    for (const child of children.filter(Boolean)) process.kill(Number(child), "SIGTERM");
    const code = await exitCode(proc);
    if (code !== "still running") return code;
    proc.kill("SIGKILL");
    return -1;
  };
  return { output: output.text, stop };
}

describe("start-up display", () => {
  test("on a terminal with pretty logs, one line per provider is redrawn in place, then a summary", async () => {
    if (!existsSync(SCRIPT)) {
      console.warn("skipped: no util-linux script on this machine");
      return;
    }
    const space = makeSpace();
    threeProviders(space);
    const tty = onTerminal(["--providers-dir", space.providersDir, "--port", "0"]);
    try {
      const summary = await waitFor("the summary line", () =>
        plain(tty.output())
          .split(/\r?\n/)
          .find((line) => line.startsWith("providers: ")),
      );
      expect(summary).toMatch(/^providers: 2 ready, 1 failed \(\d+(\.\d)? m?s\)$/);
      const out = tty.output();
      // Drawn in place: the cursor goes back up over the block and clears it.
      expect(out).toMatch(/\x1b\[\d+F\x1b\[J/);
      const lines = plain(out).split(/\r?\n/);
      expect(lines).toContainEqual(expect.stringMatching(/^✔ alpha +ready +\d/));
      expect(lines).toContainEqual(expect.stringMatching(/^✔ beta +ready +\d/));
      expect(lines).toContainEqual(expect.stringMatching(/^✖ broken +failed +.*exited with code 3/));
      // A spinner frame was shown while they started.
      expect(lines.some((line) => /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] /.test(line))).toBe(true);
      // The log lines went around the block, not through it.
      expect(lines.some((line) => /^INFO {2}\[alpha\] ready: healthy after/.test(line))).toBe(true);
      expect(lines.some((line) => line.startsWith("gateway listening on http://127.0.0.1:"))).toBe(true);
    } finally {
      expect(await tty.stop()).toBe(0);
    }
    expect(await leftoverProcesses(space.marker)).toEqual([]);
  });

  test("on a terminal with --log-format json, nothing is drawn", async () => {
    if (!existsSync(SCRIPT)) return;
    const space = makeSpace();
    threeProviders(space);
    const tty = onTerminal(["--providers-dir", space.providersDir, "--port", "0", "--log-format", "json"]);
    try {
      const url = await waitFor(
        "the listening record",
        () => /"msg":"listening","url":"([^"]+)"/.exec(tty.output())?.[1],
      );
      await waitForStatus(url, "alpha", "ready");
      await waitForStatus(url, "broken", "failed");
      await Bun.sleep(300);
      expect(tty.output()).not.toContain(ESCAPE);
      expect(tty.output()).not.toContain("providers: ");
    } finally {
      expect(await tty.stop()).toBe(0);
    }
  });

  test("on a pipe, the output holds no ANSI escapes, only plain log lines", async () => {
    const space = makeSpace();
    threeProviders(space);
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"]);
    await waitForStatus(gw.url, "alpha", "ready");
    await waitForStatus(gw.url, "beta", "ready");
    await waitForStatus(gw.url, "broken", "failed");
    expect((await request(`${gw.url}/readyz`)).status).toBe(503);
    await Bun.sleep(300);
    gw.proc.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    const all = gw.stdout() + gw.stderr();
    expect(all).not.toContain(ESCAPE);
    expect(gw.stdout()).toMatch(/^gateway listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    // The status lines are there, as plain log lines.
    expect(gw.stderr()).toContain("[alpha] ready: healthy after");
    expect(gw.stderr()).toContain("[broken] failed: process exited with code 3");
  });
});

/** A terminal that records what is written, with the cursor movements applied to a screen. */
class FakeTerminal {
  written = "";
  constructor(
    readonly columns = 60,
    readonly rows = 10,
  ) {}
  write(text: string): void {
    this.written += text;
  }
  /** The visible lines: applies "up N lines and clear below" the way a terminal does. */
  screen(): string[] {
    const lines: string[] = [];
    let current = "";
    for (const token of this.written.split(/(\x1b\[\d*[A-Za-z]|\n)/)) {
      const move = /^\x1b\[(\d*)([A-Za-z])$/.exec(token);
      if (token === "\n") {
        lines.push(current);
        current = "";
      } else if (move?.[2] === "F") {
        lines.splice(lines.length - Number(move[1] || 1));
        current = "";
      } else if (move?.[2] === "J" || move?.[2] === "m") {
        // clear below (nothing is below the cursor here) / colour
      } else current += token;
    }
    if (current) lines.push(current);
    return lines;
  }
}

/** A DisplaySource whose statuses the test sets. */
function fakeSource(
  codes: string[],
): DisplaySource & { set(code: string, to: ProviderStatus, reason?: string): void } {
  const listeners = new Set<(event: StatusEvent) => void>();
  const providers = new Map(
    codes.map((code) => [
      code,
      {
        launchable: true,
        supervisor: { code, status: "starting" as ProviderStatus, lastError: null, restarts: 0 },
      },
    ]),
  );
  return {
    providers,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(code, to, reason = "because") {
      const supervisor = providers.get(code)!.supervisor;
      const from = supervisor.status;
      supervisor.status = to;
      for (const listener of listeners) listener({ code, from, to, reason, time: new Date().toISOString() });
    },
  };
}

describe("StartupDisplay", () => {
  test("draws a line per provider, redraws in place, ends with the summary once all have settled", async () => {
    const terminal = new FakeTerminal(100);
    let now = 1000;
    const display = new StartupDisplay(terminal, { color: false, frameMs: 10_000, now: () => now });
    const source = fakeSource(["one", "two"]);
    const done = display.follow(source);
    expect(display.active).toBe(true);
    expect(terminal.screen()).toEqual([`⠋ one  starting   0 ms`, `⠋ two  starting   0 ms`]);
    now += 250;
    source.set("one", "ready");
    now += 1000;
    source.set("two", "restarting");
    source.set("two", "starting");
    display.log("a log line", (line) => terminal.write(`${line}\n`));
    now += 500;
    source.set("two", "failed", "process exited with code 3");
    await done;
    expect(display.active).toBe(false);
    expect(terminal.screen()).toEqual([
      "a log line",
      "✔ one  ready      250 ms",
      "✖ two  failed     1.8 s (1 restart): process exited with code 3",
      "providers: 1 ready, 1 failed (1.8 s)",
    ]);
    // Once done, log lines go straight through.
    display.log("after", (line) => terminal.write(`${line}\n`));
    expect(terminal.screen().at(-1)).toBe("after");
  });

  test("fits the block to a small terminal: long lines are cut, extra providers summed up", () => {
    const terminal = new FakeTerminal(30, 6);
    const display = new StartupDisplay(terminal, { color: false, frameMs: 10_000, now: () => 0 });
    const codes = Array.from({ length: 12 }, (_, i) => `provider-with-a-long-name-${i}`);
    const source = fakeSource(codes);
    void display.follow(source);
    for (const code of codes.slice(0, 5)) source.set(code, "ready");
    const screen = terminal.screen();
    expect(screen.length).toBeLessThanOrEqual(terminal.rows - 1);
    for (const line of screen) expect(line.length).toBeLessThan(terminal.columns);
    expect(screen.at(-1)).toBe("… 9 more (5 ready)");
    display.close();
    expect(terminal.screen().at(-1)).toStartWith("providers: 5 ready, 7 starting");
  });

  test("with nothing to start, draws nothing", async () => {
    const terminal = new FakeTerminal();
    const display = new StartupDisplay(terminal, { color: false });
    await display.follow(fakeSource([]));
    expect(display.active).toBe(false);
    expect(terminal.written).toBe("");
  });
});
