import { encodePageToken } from "../page-token.js";
import type { LogPage, PageOptions } from "../sequence-log.js";

/** What a routing history holds: numbered entries that can be marked as having left it. */
export interface Retainable {
  readonly sequence: number;
  /** Set once the entry has left its history (see {@link RoutingHistory.discarded}). */
  gone: boolean;
}

/**
 * One policy id's routing history: its newest `capacity` results in recording order, numbered 1, 2, 3… Unlike a
 * signal log (`SequenceLog`), entries can also leave from the middle — the results of a dropped coordination —
 * and the bound counts the entries retained, so the history then holds the newest `capacity` of the others.
 * Sequences keep growing and are never reused, so a page token (a sequence) stays meaningful across removals.
 * An entry leaving from the middle costs O(1) amortized: it is skipped until such entries are half the history.
 */
export interface RoutingHistory<T extends Retainable> {
  /** Newest sequence ever appended; 0 before the first. Survives {@link clear}. */
  readonly head: number;
  /** Number of retained entries. */
  readonly size: number;
  /** The oldest retained entry, or `undefined` when empty. */
  oldest(): T | undefined;
  /** Appends an entry whose sequence must be `head + 1`; returns the entry evicted past capacity, if any. */
  append(entry: T): T | undefined;
  /** Removes the oldest retained entry and returns it; `undefined` when empty. */
  dropOldest(): T | undefined;
  /**
   * Told that a retained entry has just been marked `gone` (it left from anywhere): it no longer counts, pages
   * skip it, and it is removed once it reaches the front or such entries are half of those held.
   */
  discarded(): void;
  /** Removes every retained entry and returns them, oldest first; numbering continues from `head`. */
  clear(): T[];
  /** One page of the retained entries, newest first (the same contract as `pageNewestFirst` of a signal log). */
  page(o: PageOptions<T>): LogPage<T>;
}

/** Creates an empty {@link RoutingHistory} retaining at most `capacity` (≥ 1) entries. */
export function createRoutingHistory<T extends Retainable>(capacity: number): RoutingHistory<T> {
  // Entries in recording order from index `first`, `gone` of them discarded but still held (never the one at
  // `first`). The slots before `first` are emptied and reclaimed once they are at least half the array, and the
  // discarded entries once they are half of those held: each reclaim copies no more entries than were shifted out
  // or discarded since the last (O(1) amortized), and the array stays within about four times the entries retained.
  let items: (T | undefined)[] = [];
  let first = 0;
  let gone = 0;
  let head = 0;
  /** Keeps the front retained: discarded entries reaching it go. */
  const trimFront = () => {
    while (gone > 0 && first < items.length && (items[first] as T).gone) {
      items[first++] = undefined;
      gone--;
    }
    if (first === items.length) {
      items = [];
      first = 0;
    } else if (first >= 8 && 2 * first >= items.length) {
      items = items.slice(first);
      first = 0;
    }
  };
  const shift = (): T | undefined => {
    if (first >= items.length) return undefined;
    const entry = items[first];
    items[first++] = undefined;
    trimFront();
    return entry;
  };
  /** The index of the newest entry whose sequence is below `before` (`first - 1` when none). */
  const below = (before: number) => {
    let lo = first;
    let hi = items.length; // the answer is in [lo - 1, hi - 1]
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((items[mid] as T).sequence < before) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  };
  return {
    get head() {
      return head;
    },
    get size() {
      return items.length - first - gone;
    },
    oldest: () => items[first],
    append(entry) {
      if (entry.sequence !== head + 1) throw new Error(`sequence ${entry.sequence} does not follow head ${head}`);
      head = entry.sequence;
      items.push(entry);
      return items.length - first - gone > capacity ? shift() : undefined;
    },
    dropOldest: shift,
    discarded() {
      gone++;
      if (2 * gone >= items.length - first) {
        items = (items.slice(first) as T[]).filter((e) => !e.gone);
        first = 0;
        gone = 0;
      } else {
        trimFront();
      }
    },
    clear() {
      const removed = (items.slice(first) as T[]).filter((e) => !e.gone);
      items = [];
      first = 0;
      gone = 0;
      return removed;
    },
    page(o) {
      const out: T[] = [];
      let bytes = 0;
      let cut = false;
      let i = o.before === undefined ? items.length - 1 : below(o.before);
      for (; i >= first && out.length < o.size; i--) {
        const entry = items[i] as T;
        if (entry.gone || !o.matches(entry)) continue;
        if (o.budget !== undefined) {
          bytes += o.budget.sizeOf(entry);
          if (bytes > o.budget.maxBytes && out.length > 0) {
            cut = true;
            break;
          }
        }
        out.push(entry);
      }
      // Another page exists if the page was cut by bytes, or if an older retained entry is left to scan.
      const last = out[out.length - 1];
      const more = last !== undefined && (cut || (out.length === o.size && i >= first));
      return { items: out, nextPageToken: more ? encodePageToken(last.sequence, o.fingerprint) : "" };
    },
  };
}
