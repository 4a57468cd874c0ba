import { decodePageToken, encodePageToken } from "./page-token.js";

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
  /** Drops every retained entry; numbering continues from `head`. Returns how many were dropped. */
  clear(): number;
}

/** Creates an empty {@link SequenceLog} retaining at most `capacity` (≥ 1) entries. */
export function createSequenceLog<T extends { readonly sequence: number }>(capacity: number): SequenceLog<T> {
  const ring: (T | undefined)[] = new Array<T | undefined>(Math.min(capacity, 1024));
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
    clear() {
      const n = head - oldest + 1;
      ring.length = Math.min(capacity, 1024);
      ring.fill(undefined);
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
 * One page of `log` (possibly absent: an empty page), newest first, keeping entries that `matches`. The page
 * token holds the sequence to continue below and is valid only with the same `fingerprint` (the query's filters);
 * a malformed or foreign token is `invalid` naming `page_token`. The last page has an empty token.
 */
export function pageNewestFirst<T extends { readonly sequence: number }>(
  log: SequenceLog<T> | undefined,
  options: { readonly size: number; readonly pageToken: string; readonly fingerprint: string; readonly matches: (entry: T) => boolean },
): LogPage<T> {
  const before = decodePageToken<number>(options.pageToken, options.fingerprint, "number");
  if (log === undefined) return { items: [], nextPageToken: "" };
  const items: T[] = [];
  let seq = Math.min(before === undefined ? log.head : before - 1, log.head);
  for (; seq >= log.oldest && items.length < options.size; seq--) {
    const entry = log.get(seq) as T;
    if (options.matches(entry)) items.push(entry);
  }
  // Another page exists only if an older retained entry is left to scan.
  const last = items[items.length - 1];
  const more = items.length === options.size && last !== undefined && seq >= log.oldest;
  return { items, nextPageToken: more ? encodePageToken(last.sequence, options.fingerprint) : "" };
}
