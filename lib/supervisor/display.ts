import type { ProviderStatus, StatusEvent } from "./status.ts";

/** Where the display draws: a terminal (process.stdout when it is a TTY). */
export interface TerminalOut {
  write(text: string): unknown;
  /** Width in columns, when known. */
  columns?: number;
  /** Height in rows, when known. */
  rows?: number;
}

/** What the display watches; the Gateway has this shape. */
export interface DisplaySource {
  readonly providers: ReadonlyMap<
    string,
    {
      launchable: boolean;
      supervisor: { code: string; status: ProviderStatus; lastError: string | null; restarts: number };
    }
  >;
  subscribe(listener: (event: StatusEvent) => void): () => void;
}

export interface DisplayOptions {
  /** Milliseconds between frames. @default 80 */
  frameMs?: number;
  /** Use ANSI colours. @default true unless NO_COLOR is set */
  color?: boolean;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

interface Row {
  code: string;
  status: ProviderStatus;
  /** When it settled (ms since the display began), if it did. */
  settledAt?: number;
  restarts: number;
  /** Why it failed, when it did. */
  reason?: string;
}

/** Statuses after which a provider needs no more watching at start-up. */
const SETTLED: ReadonlySet<ProviderStatus> = new Set([
  "ready",
  "failed",
  "stopped",
  "disabled",
  "unhealthy",
  "awaiting_agent",
]);
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const ESC = "\x1b[";

/**
 * The start-up view on a terminal: one line per provider (spinner, status, elapsed time) redrawn
 * in place until every provider has settled, then a summary line. Log lines written meanwhile go
 * through {@link log}, which prints them above the block so the two never garble each other.
 * Draw it only on a TTY; elsewhere the status lines in the log say the same thing.
 */
export class StartupDisplay {
  readonly #out: TerminalOut;
  readonly #frameMs: number;
  readonly #color: boolean;
  readonly #now: () => number;
  #rows: Row[] = [];
  #began = 0;
  /** Lines of the block now on screen, below the cursor's line start. */
  #height = 0;
  #frame = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: () => void = () => {};
  #active = false;
  #done: Promise<void> = Promise.resolve();
  #finish: () => void = () => {};

  constructor(out: TerminalOut, options: DisplayOptions = {}) {
    this.#out = out;
    this.#frameMs = options.frameMs ?? 80;
    this.#color = options.color ?? !process.env.NO_COLOR;
    this.#now = options.now ?? Date.now;
  }

  /** Whether the live block is being drawn. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Starts drawing the providers `source` will start. Resolves once all of them have settled
   * (or {@link close} was called) and the summary is printed.
   */
  follow(source: DisplaySource): Promise<void> {
    if (this.#active) return this.#done;
    this.#rows = [...source.providers.values()]
      .filter((entry) => entry.launchable && entry.supervisor.status !== "disabled")
      .map((entry) => ({ code: entry.supervisor.code, status: entry.supervisor.status, restarts: 0 }));
    this.#began = this.#now();
    if (this.#rows.length === 0) return Promise.resolve();
    this.#active = true;
    this.#done = new Promise((resolve) => {
      this.#finish = resolve;
    });
    this.#unsubscribe = source.subscribe((event) => this.#onStatus(event));
    // Statuses may have moved between the snapshot and the subscription.
    for (const row of this.#rows) {
      const status = source.providers.get(row.code)?.supervisor.status;
      if (status) this.#update(row, status);
    }
    this.#draw();
    this.#timer = setInterval(() => this.#tick(), this.#frameMs);
    (this.#timer as { unref?: () => void }).unref?.();
    this.#checkSettled();
    return this.#done;
  }

  /** Prints a log line with `write` (which ends it): above the block while it is drawn, straight through otherwise. */
  log(line: string, write: (line: string) => void): void {
    if (!this.#active) {
      write(line);
      return;
    }
    this.#clear();
    write(line);
    // Redrawn on the next frame: a burst of log lines clears the block once, not once per line.
  }

  /** Stops drawing (start-up interrupted, or the gateway is stopping) and prints the summary so far. */
  close(): void {
    if (this.#active) this.#end();
  }

  #onStatus(event: StatusEvent): void {
    const row = this.#rows.find((r) => r.code === event.code);
    if (!row) return;
    if (event.to === "restarting") row.restarts++;
    row.reason = event.to === "failed" ? event.reason : undefined;
    this.#update(row, event.to);
    this.#checkSettled();
    this.#draw();
  }

  #update(row: Row, status: ProviderStatus): void {
    row.status = status;
    if (SETTLED.has(status)) row.settledAt ??= this.#now() - this.#began;
    else row.settledAt = undefined;
  }

  #checkSettled(): void {
    if (this.#active && this.#rows.every((row) => SETTLED.has(row.status))) this.#end();
  }

  #tick(): void {
    this.#frame++;
    this.#draw();
  }

  #end(): void {
    this.#active = false;
    clearInterval(this.#timer);
    this.#unsubscribe();
    this.#clear();
    this.#out.write(this.#block(false).join(""));
    this.#out.write(`${this.#summary()}\n`);
    this.#height = 0;
    this.#finish();
  }

  #draw(): void {
    if (!this.#active) return;
    this.#clear();
    const lines = this.#block(true);
    this.#out.write(lines.join(""));
    this.#height = lines.length;
  }

  /** Moves to the first line of the block and clears from there down. */
  #clear(): void {
    if (this.#height > 0) this.#out.write(`${ESC}${this.#height}F${ESC}J`);
    this.#height = 0;
  }

  /** The block's lines, each ending in a newline, fitted to the terminal. */
  #block(live: boolean): string[] {
    const width = Math.max(20, (this.#out.columns || 80) - 1);
    const room = Math.max(3, (this.#out.rows || 24) - 2);
    const codeWidth = Math.min(24, Math.max(...this.#rows.map((row) => row.code.length)));
    let rows = this.#rows;
    let hidden = "";
    if (live && rows.length > room) {
      // Too many for the screen: the ones still starting and the failed ones first.
      const open = rows.filter((row) => row.status !== "ready");
      rows = open.slice(0, room - 1);
      const ready = this.#rows.length - open.length;
      hidden = `… ${this.#rows.length - rows.length} more (${ready} ready)`;
    }
    const lines = rows.map((row) => {
      const { icon, paint } = this.#look(row, live);
      const elapsed = this.#seconds(row.settledAt ?? this.#now() - this.#began);
      const restarts = row.restarts > 0 ? ` (${row.restarts} restart${row.restarts > 1 ? "s" : ""})` : "";
      const reason = row.reason ? `: ${row.reason}` : "";
      const text = `${row.code.padEnd(codeWidth)}  ${row.status.padEnd(10)} ${elapsed}${restarts}${reason}`;
      return `${paint(icon)} ${fit(text, width - 2)}\n`;
    });
    if (hidden) lines.push(`${fit(hidden, width)}\n`);
    return lines;
  }

  #look(row: Row, live: boolean): { icon: string; paint: (text: string) => string } {
    switch (row.status) {
      case "ready":
        return { icon: "✔", paint: (t) => this.#paint(32, t) };
      case "failed":
        return { icon: "✖", paint: (t) => this.#paint(31, t) };
      case "unhealthy":
        return { icon: "!", paint: (t) => this.#paint(33, t) };
      case "stopped":
      case "disabled":
        return { icon: "-", paint: (t) => t };
      default:
        return {
          icon: live ? SPINNER[this.#frame % SPINNER.length]! : "…",
          paint: (t) => this.#paint(36, t),
        };
    }
  }

  #summary(): string {
    const counts = new Map<string, number>();
    for (const row of this.#rows) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
    const order: ProviderStatus[] = ["ready", "failed", "unhealthy", "stopped", "starting", "restarting"];
    const parts = order
      .filter((status) => counts.get(status))
      .map((status) => `${counts.get(status)} ${status}`);
    const took = this.#seconds(this.#now() - this.#began);
    const allReady = counts.get("ready") === this.#rows.length;
    const text = `providers: ${parts.join(", ")} (${took})`;
    return allReady ? this.#paint(32, text) : counts.get("failed") ? this.#paint(31, text) : text;
  }

  #seconds(ms: number): string {
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  #paint(code: number, text: string): string {
    return this.#color ? `${ESC}${code}m${text}${ESC}0m` : text;
  }
}

/** `text` cut to `width` characters. */
function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
