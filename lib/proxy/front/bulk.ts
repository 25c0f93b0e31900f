import type { RawSockets } from "../../runtime/index.ts";

/** Chunks this large count as bulk data. */
export const BULK_CHUNK = 16 * 1024;
const BULK_GC_BYTES = 32 * 1024 * 1024;

/**
 * Every chunk a socket delivers is a fresh buffer, garbage once relayed. At hundreds of MB/s
 * they pile up faster than the collector's schedule frees them (a 1 GiB upload peaked at
 * 108 MB resident); a collection every 32 MiB of bulk data keeps the peak near 85 MB for the
 * cost of about a third of the throughput ceiling (still ~1 GiB/s). Small responses never
 * count (callers count only chunks of BULK_CHUNK or more), so ordinary traffic never pays for it.
 */
export class BulkCollector {
  #bytes = 0;

  constructor(readonly sockets: RawSockets) {}

  count(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes >= BULK_GC_BYTES) {
      this.#bytes = 0;
      this.sockets.collectGarbage();
    }
  }
}
