import { encodePageToken } from "./page-token.js";

/**
 * A bounded log of numbered entries (a coordination's signals, a policy's routing history): a ring of the newest
 * `capacity` entries, addressed by sequence in O(1). Sequences are contiguous from `oldest` to `head`; appending
 * past capacity drops the oldest.
 */
export interface SequenceLog<T extends { readonly sequence: number }> {
  /** Newest sequence ever appended; 0 before the first. Survives {@link clear}. */
  readonly head: number;
  /** Oldest retained sequence; `head + 1` when empty. */
  readonly oldest: number;
  /** Number of retained entries. */
  readonly size: number;
  /** Appends an entry whose sequence must be `head + 1`; returns the evicted entry, if any. */
  append(signal: T): T | undefined;
  /** The retained entry with that sequence, or `undefined`. */
  get(sequence: number): T | undefined;
  /**
   * Drops every retained entry up to `through` (default: `head`); numbering continues from the higher of `head`
   * and `through`, so a log can start past sequence 1 (a shared log purged or trimmed elsewhere: the next append is
   * `through + 1`). Entries after `through` stay. Returns how many were dropped.
   */
  clear(through?: number): number;
  /** Drops the oldest retained entry and returns it; `undefined` when empty. */
  dropOldest(): T | undefined;
}

/** Slots of a new (or cleared) log's ring. */
const initialRing = 16;

/** Creates an empty {@link SequenceLog} retaining at most `capacity` (≥ 1) entries. */
export function createSequenceLog<T extends { readonly sequence: number }>(capacity: number): SequenceLog<T> {
  // Small to start (an empty coordination costs next to nothing); it grows by doubling up to `capacity`.
  const ring: (T | undefined)[] = new Array<T | undefined>(Math.min(capacity, initialRing));
  let head = 0;
  let oldest = 1;
  const slot = (sequence: number) => sequence % ring.length;
  // The ring grows by doubling up to `capacity`, so small coordinations stay small.
  const grow = () => {
    const size = head - oldest + 1;
    if (size < ring.length || ring.length >= capacity) return;
    const next = Math.min(ring.length * 2, capacity);
    const copy = ring.slice();
    ring.length = next;
    ring.fill(undefined);
    for (let s = oldest; s <= head; s++) ring[s % next] = copy[s % copy.length];
  };
  return {
    get head() {
      return head;
    },
    get oldest() {
      return oldest;
    },
    get size() {
      return head - oldest + 1;
    },
    append(signal) {
      if (signal.sequence !== head + 1) throw new Error(`sequence ${signal.sequence} does not follow head ${head}`);
      grow();
      let evicted: T | undefined;
      if (head - oldest + 1 >= capacity) {
        evicted = ring[slot(oldest)];
        ring[slot(oldest)] = undefined;
        oldest++;
      }
      head = signal.sequence;
      ring[slot(head)] = signal;
      return evicted;
    },
    get(sequence) {
      if (sequence < oldest || sequence > head) return undefined;
      return ring[slot(sequence)];
    },
    dropOldest() {
      if (head < oldest) return undefined;
      const entry = ring[slot(oldest)];
      ring[slot(oldest)] = undefined;
      oldest++;
      return entry;
    },
    clear(through = head) {
      if (!Number.isSafeInteger(through) || through < 0) throw new RangeError(`through must be a non-negative integer, got ${through}`);
      if (through < head) {
        let n = 0;
        while (oldest <= through) {
          ring[slot(oldest)] = undefined;
          oldest++;
          n++;
        }
        return n;
      }
      const n = head - oldest + 1;
      ring.length = Math.min(capacity, initialRing);
      ring.fill(undefined);
      head = through;
      oldest = head + 1;
      return n;
    },
  };
}

/** A page of a {@link SequenceLog}, newest first. */
export interface LogPage<T> {
  readonly items: T[];
  readonly nextPageToken: string;
}

/**
 * A bound on the bytes of a page: each entry costs `sizeOf(entry)` (what it adds to the response as sent), and the
 * page ends before the entry that would take it past `maxBytes`. The first entry is always taken, so a page makes
 * progress; the caller guarantees that one entry fits.
 */
export interface PageBudget<T> {
  readonly maxBytes: number;
  readonly sizeOf: (entry: T) => number;
}

/** Options of {@link pageNewestFirst}. */
export interface PageOptions<T> {
  /** Most entries per page. */
  readonly size: number;
  /** Continue below this sequence (the decoded page token); `undefined` for the first page. */
  readonly before: number | undefined;
  /** The query's fingerprint, written into the next page token. */
  readonly fingerprint: string;
  readonly matches: (entry: T) => boolean;
  /** @default no byte bound */
  readonly budget?: PageBudget<T>;
}

/**
 * One page of `log` (possibly absent: an empty page), newest first, keeping entries that `matches`, at most
 * `size` of them and, with a budget, no more bytes than it allows: a page cut short by either bound has a next page
 * token (which holds the sequence to continue below), the last page an empty one.
 */
export function pageNewestFirst<T extends { readonly sequence: number }>(log: SequenceLog<T> | undefined, o: PageOptions<T>): LogPage<T> {
  if (log === undefined) return { items: [], nextPageToken: "" };
  const items: T[] = [];
  let bytes = 0;
  let cut = false;
  let seq = Math.min(o.before === undefined ? log.head : o.before - 1, log.head);
  for (; seq >= log.oldest && items.length < o.size; seq--) {
    const entry = log.get(seq) as T;
    if (!o.matches(entry)) continue;
    if (o.budget !== undefined) {
      bytes += o.budget.sizeOf(entry);
      if (bytes > o.budget.maxBytes && items.length > 0) {
        cut = true;
        break;
      }
    }
    items.push(entry);
  }
  // Another page exists if the page was cut by bytes, or if an older retained entry is left to scan.
  const last = items[items.length - 1];
  const more = last !== undefined && (cut || (items.length === o.size && seq >= log.oldest));
  return { items, nextPageToken: more ? encodePageToken(last.sequence, o.fingerprint) : "" };
}
