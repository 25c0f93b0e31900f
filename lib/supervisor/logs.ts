import { sleep } from "./sleep.ts";

export interface LogLine {
  /** Milliseconds since the epoch. */
  time: number;
  stream: "stdout" | "stderr" | "gateway";
  line: string;
}

/**
 * A bounded ring of a provider's output lines: at most `maxLines` lines and `maxChars`
 * characters, whichever is reached first (oldest lines go first). Memory stays bounded however
 * much, and however long lines, the provider writes.
 */
export class LogRing {
  readonly #lines: LogLine[];
  #start = 0;
  #size = 0;
  #chars = 0;
  /** Told of every line as it is kept (`GET …/logs/stream`); none most of the time. */
  readonly #followers = new Set<(line: LogLine) => void>();

  /**
   * @param maxLines lines kept. @default 1000
   * @param maxChars characters kept over all lines. @default 1 MiB
   */
  constructor(
    readonly maxLines = 1000,
    readonly maxChars = 1024 * 1024,
  ) {
    this.#lines = new Array(maxLines);
  }

  push(entry: LogLine): void {
    if (this.#size === this.maxLines) this.#dropOldest();
    this.#lines[(this.#start + this.#size) % this.maxLines] = entry;
    this.#size++;
    this.#chars += entry.line.length;
    // Keep the newest line even when it alone is over the budget.
    while (this.#chars > this.maxChars && this.#size > 1) this.#dropOldest();
    if (this.#followers.size > 0) for (const follower of this.#followers) follower(entry);
  }

  /** Calls `follower` with every line kept from now on; returns the function that stops it. */
  follow(follower: (line: LogLine) => void): () => void {
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  /** The last `count` lines, oldest first. */
  tail(count = this.maxLines): LogLine[] {
    const n = Math.max(0, Math.min(count, this.#size));
    const out: LogLine[] = [];
    for (let i = this.#size - n; i < this.#size; i++)
      out.push(this.#lines[(this.#start + i) % this.maxLines]!);
    return out;
  }

  #dropOldest(): void {
    const oldest = this.#lines[this.#start]!;
    this.#chars -= oldest.line.length;
    this.#lines[this.#start] = undefined as unknown as LogLine;
    this.#start = (this.#start + 1) % this.maxLines;
    this.#size--;
  }
}

export interface ReadLinesOptions {
  /** A longer line is cut here; the rest of it is dropped, with a marker. @default 16 KiB */
  maxLineBytes?: number;
  /**
   * Reading pauses once this many bytes were read within a second, so a provider that floods its
   * output is slowed down by its own full pipe instead of costing the gateway a core.
   * @default no limit
   */
  maxBytesPerSecond?: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** The budget of `maxBytesPerSecond` is checked per window of this length. */
const READ_WINDOW_MS = 100;

/**
 * Reads a byte stream as UTF-8 text lines and calls `onLine` for each. Works on bytes and decodes
 * each line on its own, so a line kept by the caller never pins the (much larger) chunk it came
 * from. A line longer than `maxLineBytes` is cut there (the rest of it is dropped, with a marker)
 * so a provider that never writes a newline cannot grow the gateway's memory. Resolves when the
 * stream ends or breaks.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  options: ReadLinesOptions | number = {},
): Promise<void> {
  const { maxLineBytes = 16 * 1024, maxBytesPerSecond = Number.POSITIVE_INFINITY } =
    typeof options === "number" ? { maxLineBytes: options } : options;
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const windowBudget = (maxBytesPerSecond * READ_WINDOW_MS) / 1000;
  /** The start of a line that began in an earlier chunk (at most `maxLineBytes`). */
  let pending: Uint8Array | undefined;
  let pendingLength = 0;
  /** Inside a line already cut: skip to its newline. */
  let dropping = false;
  let windowStart = Date.now();
  let windowBytes = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      let start = 0;
      while (start < chunk.length) {
        const newline = chunk.indexOf(NEWLINE, start);
        const end = newline === -1 ? chunk.length : newline;
        if (!dropping) {
          const room = maxLineBytes - pendingLength;
          if (end - start > room) {
            // Over the cap: deliver what fits now, drop the rest of the line.
            const head = joinBytes(pending, pendingLength, chunk.subarray(start, start + room));
            onLine(cutLine(decoder, head, maxLineBytes));
            pendingLength = 0;
            dropping = true;
          } else if (newline !== -1) {
            const line =
              pendingLength === 0
                ? chunk.subarray(start, end)
                : joinBytes(pending, pendingLength, chunk.subarray(start, end));
            onLine(decodeLine(decoder, line));
            pendingLength = 0;
          } else {
            pending ??= new Uint8Array(maxLineBytes);
            pending.set(chunk.subarray(start, end), pendingLength);
            pendingLength += end - start;
          }
        }
        if (newline === -1) break;
        dropping = false;
        start = newline + 1;
      }
      windowBytes += chunk.length;
      if (windowBytes >= windowBudget) {
        const wait = windowStart + READ_WINDOW_MS - Date.now();
        if (wait > 0) await sleep(wait);
        windowStart = Date.now();
        windowBytes = 0;
      } else if (Date.now() - windowStart >= READ_WINDOW_MS) {
        windowStart = Date.now();
        windowBytes = 0;
      }
    }
    if (!dropping && pendingLength > 0) onLine(decodeLine(decoder, pending!.subarray(0, pendingLength)));
  } catch {
    // The pipe broke (process killed): the lines read so far were delivered.
  } finally {
    reader.releaseLock();
  }
}

function joinBytes(pending: Uint8Array | undefined, pendingLength: number, tail: Uint8Array): Uint8Array {
  if (!pending || pendingLength === 0) return tail;
  const joined = new Uint8Array(pendingLength + tail.length);
  joined.set(pending.subarray(0, pendingLength));
  joined.set(tail, pendingLength);
  return joined;
}

function decodeLine(decoder: TextDecoder, bytes: Uint8Array): string {
  const end =
    bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
  return decoder.decode(bytes.subarray(0, end));
}

/** The first `max` bytes of a line, cut back to a character boundary, with a marker. */
function cutLine(decoder: TextDecoder, bytes: Uint8Array, max: number): string {
  let end = Math.min(max, bytes.length);
  // A UTF-8 continuation byte (10xxxxxx) at the cut means a character was split: keep it whole out.
  if (end < bytes.length) while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${decoder.decode(bytes.subarray(0, end))} …[line cut at ${max} B]`;
}

/** A token bucket of lines: lets `perSecond` lines a second through, in bursts of up to `burst`. */
export class LineBudget {
  #tokens: number;
  #last: number;

  /**
   * @param perSecond sustained lines per second.
   * @param burst lines let through at once after a quiet spell.
   */
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    now = Date.now(),
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Whether one more line may go through now. */
  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.perSecond) / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
