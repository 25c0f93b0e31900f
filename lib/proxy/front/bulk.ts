import type { RawSockets } from "../../runtime/index.ts";

/** Chunks this large count as bulk data. */
export const BULK_CHUNK = 16 * 1024;
const BULK_GC_BYTES = 32 * 1024 * 1024;
/** A forced collection that takes longer than this is too dear to repeat as often. */
const GC_BUDGET_MS = 5;
const MAX_GC_BYTES = 1024 * 1024 * 1024;

/**
 * Every chunk a socket delivers is a fresh buffer, garbage once relayed. At hundreds of MB/s
 * they pile up faster than the collector's schedule frees them (a 1 GiB upload peaked at
 * 108 MB resident); a collection every 32 MiB of bulk data keeps the peak near 85 MB. Small
 * responses never count (callers count only chunks of BULK_CHUNK or more), so ordinary traffic
 * never pays for it.
 *
 * A forced collection stops the event loop for as long as the live heap takes to trace: a few
 * ms in a small gateway, but 60 ms with 50 large specs loaded (measured: a 20 MB response went
 * from 31 to 95 ms, and every other client waited too). So the pace adapts: a collection that
 * took more than GC_BUDGET_MS doubles the bytes before the next one (up to 1 GiB), one that was
 * cheap halves it back towards 32 MiB.
 */
export class BulkCollector {
  #bytes = 0;
  #every = BULK_GC_BYTES;

  constructor(readonly sockets: RawSockets) {}

  count(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes >= this.#every) {
      this.#bytes = 0;
      const started = performance.now();
      this.sockets.collectGarbage();
      const took = performance.now() - started;
      this.#every =
        took > GC_BUDGET_MS
          ? Math.min(MAX_GC_BYTES, this.#every * 2)
          : Math.max(BULK_GC_BYTES, this.#every / 2);
    }
  }
}
