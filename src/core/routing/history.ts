import { encodePageToken } from "../page-token.js";
import type { LogPage, PageOptions } from "../sequence-log.js";

/** What a routing history holds: numbered entries that can be marked as having left it. */
export interface Retainable {
  readonly sequence: number;
  /** Set once the entry has left its history; {@link RoutingHistory.prune} removes such entries. */
  gone: boolean;
}

/**
 * One policy id's routing history: its newest `capacity` results in recording order, numbered 1, 2, 3… Unlike a
 * signal log (`SequenceLog`), entries can also leave from the middle — the results of a dropped coordination —
 * and the bound counts the entries retained, so the history then holds the newest `capacity` of the others.
 * Sequences keep growing and are never reused, so a page token (a sequence) stays meaningful across removals.
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
  /** Removes every entry marked `gone`; returns how many. */
  prune(): number;
  /** Removes every retained entry and returns them, oldest first; numbering continues from `head`. */
  clear(): T[];
  /** One page of the retained entries, newest first (the same contract as `pageNewestFirst` of a signal log). */
  page(o: PageOptions<T>): LogPage<T>;
}

/** Creates an empty {@link RoutingHistory} retaining at most `capacity` (≥ 1) entries. */
export function createRoutingHistory<T extends Retainable>(capacity: number): RoutingHistory<T> {
  // Entries in recording order from index `first`; the slots before it are emptied and reclaimed once they are at
  // least half the array (each reclaim copies no more entries than were shifted out since the last: O(1) amortized,
  // and the array stays within about twice the entries it holds).
  let items: (T | undefined)[] = [];
  let first = 0;
  let head = 0;
  const shift = (): T | undefined => {
    if (first >= items.length) return undefined;
    const entry = items[first];
    items[first++] = undefined;
    if (first === items.length) {
      items = [];
      first = 0;
    } else if (first >= 8 && 2 * first >= items.length) {
      items = items.slice(first);
      first = 0;
    }
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
      return items.length - first;
    },
    oldest: () => items[first],
    append(entry) {
      if (entry.sequence !== head + 1) throw new Error(`sequence ${entry.sequence} does not follow head ${head}`);
      head = entry.sequence;
      items.push(entry);
      return items.length - first > capacity ? shift() : undefined;
    },
    dropOldest: shift,
    prune() {
      const before = items.length - first;
      items = (items.slice(first) as T[]).filter((e) => !e.gone);
      first = 0;
      return before - items.length;
    },
    clear() {
      const removed = items.slice(first) as T[];
      items = [];
      first = 0;
      return removed;
    },
    page(o) {
      const out: T[] = [];
      let bytes = 0;
      let cut = false;
      let i = o.before === undefined ? items.length - 1 : below(o.before);
      for (; i >= first && out.length < o.size; i--) {
        const entry = items[i] as T;
        if (!o.matches(entry)) continue;
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
