import { type LogFormat, Logger, type LogLevel } from "../logger.ts";
import { StartupDisplay } from "./display.ts";

/** A stream as process.stderr is one: `write` returns false once it buffers, then `drain` follows. */
export interface DrainingStream {
  write(text: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/**
 * Bytes written into a stream that said it is full, before lines are dropped. A log reader that
 * stalls (a full pipe nobody reads) then costs at most this much memory, not a copy of the log.
 * @default 1 MiB
 */
const MAX_BACKLOG_BYTES = 1024 * 1024;

/**
 * A line writer onto `stream` whose memory stays bounded when the stream's reader falls behind:
 * once the stream reports it is buffering and `maxBacklog` more bytes were queued, further lines
 * are dropped (never waited for: the gateway must not block on its log) until it drains, and
 * `onDropped` is told how many. A function for `stream` is called on the first line: Bun builds
 * `process.stderr` on first access, which costs 1.5 ms of a start that may log nothing.
 */
export function boundedLineWriter(
  target: DrainingStream | (() => DrainingStream),
  options: { maxBacklog?: number; onDropped?: (count: number) => void } = {},
): (line: string) => void {
  const maxBacklog = options.maxBacklog ?? MAX_BACKLOG_BYTES;
  let full = false;
  let backlog = 0;
  let dropped = 0;
  let stream: DrainingStream | undefined = typeof target === "function" ? undefined : target;
  const onDrain = () => {
    full = false;
    backlog = 0;
    const count = dropped;
    dropped = 0;
    if (count > 0) options.onDropped?.(count);
  };
  return (line) => {
    if (full) {
      if (backlog > maxBacklog) {
        dropped++;
        return;
      }
      backlog += line.length + 1;
    }
    stream ??= (target as () => DrainingStream)();
    if (!stream.write(`${line}\n`) && !full) {
      full = true;
      stream.once("drain", onDrain);
    }
  };
}

/**
 * The logger of `gateway serve` (onto stderr, bounded as {@link boundedLineWriter} says) and, when
 * stdout is a terminal and the format is pretty, the live {@link StartupDisplay} its lines go
 * around. The display is made by `startDisplay`, once the providers are spawned: Bun builds
 * `process.stdout` and `process.stderr` on first access, 1.5 ms that would delay the first spawn
 * (stderr is built on the first log line).
 */
export function serveOutput(
  config: { logLevel: LogLevel; logFormat: LogFormat },
  options: { display?: boolean } = {},
): {
  logger: Logger;
  startDisplay(): StartupDisplay | undefined;
} {
  let display: StartupDisplay | undefined;
  let logger: Logger | undefined;
  const toStderr = boundedLineWriter(() => process.stderr, {
    onDropped: (count) =>
      logger?.warn(`${count} log lines were dropped: the log output did not keep up with the gateway`),
  });
  const write = (line: string) => (display ? display.log(line, toStderr) : toStderr(line));
  logger = new Logger({ level: config.logLevel, format: config.logFormat, write });
  const startDisplay = () => {
    if (options.display !== false && config.logFormat === "pretty" && process.stdout.isTTY)
      display ??= new StartupDisplay(process.stdout);
    return display;
  };
  return { logger, startDisplay };
}
