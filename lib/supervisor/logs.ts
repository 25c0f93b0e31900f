export interface LogLine {
  /** Milliseconds since the epoch. */
  time: number;
  stream: "stdout" | "stderr" | "gateway";
  line: string;
}

/**
 * A bounded ring of a provider's output lines. Memory stays bounded by `maxLines` times the
 * line cap of the reader feeding it, however much the provider writes.
 */
export class LogRing {
  readonly #lines: LogLine[];
  #next = 0;
  #size = 0;

  /** @param maxLines lines kept; older ones are dropped. @default 1000 */
  constructor(readonly maxLines = 1000) {
    this.#lines = new Array(maxLines);
  }

  push(entry: LogLine): void {
    this.#lines[this.#next] = entry;
    this.#next = (this.#next + 1) % this.maxLines;
    if (this.#size < this.maxLines) this.#size++;
  }

  /** The last `count` lines, oldest first. */
  tail(count = this.maxLines): LogLine[] {
    const n = Math.max(0, Math.min(count, this.#size));
    const out: LogLine[] = [];
    for (let i = n; i > 0; i--) {
      out.push(this.#lines[(this.#next - i + this.maxLines) % this.maxLines]!);
    }
    return out;
  }
}

/**
 * Reads a byte stream as text lines and calls `onLine` for each. A line longer than
 * `maxLineBytes` is cut there (the rest of it is dropped, with a marker) so a provider that never
 * writes a newline cannot grow the gateway's memory. Resolves when the stream ends.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  maxLineBytes = 16 * 1024,
): Promise<void> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let pending = "";
  let dropping = false;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = decoder.decode(value, { stream: true });
      for (;;) {
        const newline = text.indexOf("\n");
        if (newline === -1) break;
        const piece = text.slice(0, newline);
        text = text.slice(newline + 1);
        if (dropping) dropping = false;
        else {
          const line = pending + piece;
          onLine(line.length > maxLineBytes ? cutLine(line, maxLineBytes) : stripCarriageReturn(line));
        }
        pending = "";
      }
      if (dropping) continue;
      pending += text;
      if (pending.length > maxLineBytes) {
        onLine(cutLine(pending, maxLineBytes));
        pending = "";
        dropping = true;
      }
    }
    if (!dropping && pending.length > 0) onLine(stripCarriageReturn(pending + decoder.decode()));
  } catch {
    // The pipe broke (process killed): the lines read so far were delivered.
  } finally {
    reader.releaseLock();
  }
}

function cutLine(line: string, max: number): string {
  return `${line.slice(0, max)} …[line cut at ${max} characters]`;
}

function stripCarriageReturn(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
