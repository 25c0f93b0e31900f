import { describe, expect, test } from "bun:test";
import { type LogLine, LogRing, readLines } from "../lib/supervisor/logs.ts";

const encoder = new TextEncoder();

/** A byte stream that yields `chunks` one by one. */
function streamOf(...chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const queue = chunks.map((chunk) => (typeof chunk === "string" ? encoder.encode(chunk) : chunk));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
}

async function linesOf(stream: ReadableStream<Uint8Array>, maxLineBytes?: number): Promise<string[]> {
  const lines: string[] = [];
  await readLines(stream, (line) => lines.push(line), maxLineBytes);
  return lines;
}

function line(n: number): LogLine {
  return { time: n, stream: "stdout", line: `line ${n}` };
}

describe("LogRing", () => {
  test("LogRing returns its lines oldest first", () => {
    const ring = new LogRing(5);
    for (let i = 1; i <= 3; i++) ring.push(line(i));
    expect(ring.tail().map((l) => l.line)).toEqual(["line 1", "line 2", "line 3"]);
  });

  test("LogRing keeps only the newest maxLines lines, in order", () => {
    const ring = new LogRing(4);
    for (let i = 1; i <= 11; i++) ring.push(line(i));
    expect(ring.tail().map((l) => l.time)).toEqual([8, 9, 10, 11]);
  });

  test("LogRing.tail returns the last count lines", () => {
    const ring = new LogRing(10);
    for (let i = 1; i <= 7; i++) ring.push(line(i));
    expect(ring.tail(3).map((l) => l.time)).toEqual([5, 6, 7]);
    expect(ring.tail(100).map((l) => l.time)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  test("LogRing.tail of zero or a negative count is empty", () => {
    const ring = new LogRing(3);
    ring.push(line(1));
    expect(ring.tail(0)).toEqual([]);
    expect(ring.tail(-4)).toEqual([]);
  });

  test("LogRing is empty at first", () => {
    expect(new LogRing().tail()).toEqual([]);
  });

  test("LogRing keeps 1000 lines by default", () => {
    const ring = new LogRing();
    for (let i = 0; i < 1500; i++) ring.push(line(i));
    const tail = ring.tail();
    expect(tail).toHaveLength(1000);
    expect(tail[0]!.time).toBe(500);
    expect(tail[999]!.time).toBe(1499);
  });
});

describe("readLines", () => {
  test("readLines delivers each line without its newline", async () => {
    expect(await linesOf(streamOf("one\ntwo\n\nfour\n"))).toEqual(["one", "two", "", "four"]);
  });

  test("readLines joins a line split across chunks", async () => {
    expect(await linesOf(streamOf("hel", "lo wo", "rld\nsec", "ond\n"))).toEqual(["hello world", "second"]);
  });

  test("readLines strips the carriage return of \\r\\n line ends, even across chunks", async () => {
    expect(await linesOf(streamOf("dos\r\nline\r", "\nmid\rdle\n"))).toEqual(["dos", "line", "mid\rdle"]);
  });

  test("readLines delivers a last line without newline", async () => {
    expect(await linesOf(streamOf("first\nlast"))).toEqual(["first", "last"]);
    expect(await linesOf(streamOf("only\r"))).toEqual(["only"]);
  });

  test("readLines delivers nothing for an empty stream", async () => {
    expect(await linesOf(streamOf())).toEqual([]);
  });

  test("readLines decodes a UTF-8 character split across chunks", async () => {
    const bytes = encoder.encode("héllo ✓\n");
    // Split inside "é" (2 bytes) and inside "✓" (3 bytes).
    const lines = await linesOf(streamOf(bytes.slice(0, 2), bytes.slice(2, 8), bytes.slice(8)));
    expect(lines).toEqual(["héllo ✓"]);
  });

  test("readLines cuts a line at the cap, drops the rest of it and reads the next line normally", async () => {
    const lines = await linesOf(streamOf("0123456789", "abcdefghij", "klmnop\nnext\n"), 16);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toStartWith("0123456789abcdef");
    expect(lines[0]).not.toContain("g");
    expect(lines[0]).toContain("cut at 16");
    expect(lines[1]).toBe("next");
  });

  test("readLines cuts a long line even when its newline arrives in the same chunk", async () => {
    const lines = await linesOf(streamOf(`${"x".repeat(100)}\nshort\n`), 16);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.startsWith("x".repeat(16))).toBe(true);
    expect(lines[0]!.lastIndexOf("x")).toBe(15);
    expect(lines[1]).toBe("short");
  });

  test("readLines cuts a 10 MB line without newline to the cap without buffering it whole", async () => {
    const chunk = encoder.encode("y".repeat(64 * 1024));
    const total = (10 * 1024 * 1024) / chunk.length;
    let pulled = 0;
    let pulledAtFirstLine = -1;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled === total) controller.close();
          else {
            pulled++;
            controller.enqueue(chunk);
          }
        },
      },
      { highWaterMark: 0 },
    );
    const lines: string[] = [];
    await readLines(stream, (text) => {
      if (pulledAtFirstLine === -1) pulledAtFirstLine = pulled;
      lines.push(text);
    });
    expect(pulled).toBe(total);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith("y".repeat(16 * 1024))).toBe(true);
    expect(lines[0]!.lastIndexOf("y")).toBe(16 * 1024 - 1);
    expect(lines[0]!.length).toBeLessThan(16 * 1024 + 100);
    // The line went out as soon as the cap was passed, not once the stream ended.
    expect(pulledAtFirstLine).toBeLessThanOrEqual(2);
  });

  test("readLines resolves with the lines read so far when the stream breaks", async () => {
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(encoder.encode("before\n"));
        } else controller.error(new Error("pipe broke"));
      },
    });
    expect(await linesOf(stream)).toEqual(["before"]);
  });
});
