/**
 * The status changes the gateway published, numbered, the last {@link JOURNAL_SIZE} of them kept:
 * `GET /_gateway/events` gives each its number as the SSE `id:`, and a client that reconnects with
 * `Last-Event-ID` gets every change it missed (contract §4) instead of a fresh snapshot, so the
 * dashboard loses nothing while its stream is down. Older than that, it gets a snapshot again.
 */
import type { StatusEvent } from "./supervisor/status.ts";

export const JOURNAL_SIZE = 1024;

export interface JournalEntry {
  id: number;
  event: StatusEvent;
}

export class EventJournal {
  readonly #ring: JournalEntry[] = [];
  /**
   * Ids start at the boot time in microseconds, so a gateway that restarted numbers above every
   * id its predecessor gave: a client resuming with an old id gets a snapshot, never a few new
   * events taken for all it missed.
   */
  #lastId = Date.now() * 1000;

  /** The id of the newest event; before any, the starting point (see #lastId). */
  get lastId(): number {
    return this.#lastId;
  }

  append(event: StatusEvent): JournalEntry {
    const entry = { id: ++this.#lastId, event };
    this.#ring.push(entry);
    if (this.#ring.length > JOURNAL_SIZE) this.#ring.shift();
    return entry;
  }

  /**
   * The events after `id`, oldest first; null when some of them are no longer kept (or `id` is
   * not one this gateway gave: from before a restart of the gateway, say).
   */
  since(id: number): JournalEntry[] | null {
    if (!Number.isSafeInteger(id) || id < 0 || id > this.#lastId) return null;
    if (id === this.#lastId) return [];
    const oldest = this.#ring[0]?.id ?? this.#lastId + 1;
    if (id + 1 < oldest) return null;
    return this.#ring.slice(id + 1 - oldest);
  }
}
