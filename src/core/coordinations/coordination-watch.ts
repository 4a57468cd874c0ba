import { ConsortError } from "../errors.js";
import type { PageBudget } from "../sequence-log.js";
import type { DropReason } from "../store.js";
import type { CoordinationSummary } from "./coordination-engine.js";

/**
 * One WatchCoordinations stream: what the coordination feed lists for a watcher (its snapshot or catch-up, then the
 * ids changed since it last read), turned into batches as the transport pulls them. Each change is read from the
 * feed when its batch is made, so a watcher holds ids, never figures nor a queue of changes.
 */

/** One change as a watcher receives it. */
export type CoordinationChange =
  | { readonly revision: number; readonly kind: "updated"; readonly coordination: CoordinationSummary }
  | { readonly revision: number; readonly kind: "removed"; readonly coordinationId: string; readonly reason: DropReason };

/** One response's worth of changes. */
export interface CoordinationWatchBatch {
  readonly watchEpoch: string;
  /** The revision the batch brings the watcher up to: where a resumed watch continues. */
  readonly headRevision: number;
  /** First batch of a full snapshot sent to a watcher that asked to resume and could not: forget what you knew. */
  readonly reset: boolean;
  /** Last batch of the snapshot or of the catch-up after a resume. */
  readonly caughtUp: boolean;
  /** Oldest revision first; empty only on a batch ending a snapshot or catch-up with nothing (more) to send. */
  readonly changes: readonly CoordinationChange[];
}

/** How a watch's batches are taken. */
export interface CoordinationWatchOptions {
  /** Ends the stream quietly (client cancel, deadline, shutdown: the caller tells them apart). */
  readonly signal?: AbortSignal;
  /** Bounds each batch's bytes as sent (the first change always goes). @default none */
  readonly budget?: PageBudget<CoordinationChange>;
  /** Changes per batch at most. @default 1000 */
  readonly maxChanges?: number;
}

/** A registered watch. */
export interface CoordinationWatch {
  /**
   * Its batches as a pulled stream (so the transport's flow control paces it): the snapshot or catch-up first, then
   * live changes. Returns when the signal aborts. Always closes the watch.
   */
  readonly batches: AsyncGenerator<CoordinationWatchBatch>;
  /** The head revision of the last batch handed over: the resume point. */
  readonly lastRevision: number;
  /** Coordinations changed since the watcher last took a batch (what a slow watcher holds). */
  readonly pendingCount: number;
  /** Unregisters (idempotent). */
  close(): void;
}

/** A coordination id to send, with the revision it had when listed (skipped if it changed since). */
export interface Listed {
  readonly id: string;
  readonly revision: number;
}

/** What the feed holds for one watcher: the ids changed since it last took them, and how to wake it. */
export interface WatcherSlot {
  pending: Set<string>;
  wake: (() => void) | undefined;
}

/** The feed as a watch stream reads it. */
export interface WatchSource {
  readonly watchEpoch: string;
  readonly headRevision: number;
  /** Removals up to this revision are forgotten. */
  readonly forgottenThrough: number;
  /** The revision `id` has now: its coordination's last change, else its newest removal kept. */
  revisionOf(id: string): number | undefined;
  /** What `id` is now, at {@link revisionOf}. */
  changeOf(id: string): CoordinationChange | undefined;
  /** Every coordination with a revision, oldest change first. */
  snapshot(): Listed[];
  /** `ids` at their revisions now, oldest first (those with none left out). */
  listed(ids: Iterable<string>): Listed[];
}

/** Where a watch starts: its first list, as of which revision, and whether it is a reset. */
export interface WatchStart {
  readonly list: Listed[];
  readonly upTo: number;
  readonly reset: boolean;
  /** The revision the watcher knew before the first batch (its `after_revision`, 0 for a snapshot). */
  readonly from: number;
}

/** Turns a registered watcher into a {@link CoordinationWatch}; `unregister` runs once, when it closes. */
export function createCoordinationWatch(source: WatchSource, slot: WatcherSlot, start: WatchStart, unregister: () => void, o: CoordinationWatchOptions = {}): CoordinationWatch {
  const maxChanges = o.maxChanges ?? 1000;
  const { signal, budget } = o;
  let delivered = start.from;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    slot.pending = new Set();
    const wake = slot.wake;
    slot.wake = undefined;
    wake?.();
    unregister();
  };
  const stale = (entry: Listed) => source.revisionOf(entry.id) !== entry.revision;

  /**
   * Batches of `list` as of `upTo`. An entry that changed again since it was listed is skipped (its newer change
   * is pending). A batch's head is its last revision, the last batch's `upTo`: either is a point to resume from.
   */
  function* batchesOf(list: Listed[], upTo: number, kind: { reset: boolean; caughtUp: boolean }): Generator<CoordinationWatchBatch> {
    let i = 0;
    let first = true;
    while (i < list.length || (first && kind.caughtUp)) {
      const changes: CoordinationChange[] = [];
      let bytes = 0;
      for (; i < list.length && changes.length < maxChanges; i++) {
        const entry = list[i] as Listed;
        if (stale(entry)) continue;
        const change = source.changeOf(entry.id) as CoordinationChange;
        if (budget !== undefined) {
          const size = budget.sizeOf(change);
          if (changes.length > 0 && bytes + size > budget.maxBytes) break;
          bytes += size;
        }
        changes.push(change);
      }
      while (i < list.length && stale(list[i] as Listed)) i++;
      const last = i >= list.length;
      if (changes.length === 0 && !(last && kind.caughtUp)) continue;
      const batch: CoordinationWatchBatch = {
        watchEpoch: source.watchEpoch,
        headRevision: last ? upTo : (changes[changes.length - 1] as CoordinationChange).revision,
        reset: first && kind.reset,
        caughtUp: last && kind.caughtUp,
        changes,
      };
      first = false;
      // Delivered once handed over: the transport sends what it was given before any status.
      delivered = batch.headRevision;
      yield batch;
      if (signal?.aborted === true) return;
    }
    delivered = Math.max(delivered, upTo);
  }

  const wait = () =>
    new Promise<void>((resolve) => {
      if (slot.pending.size > 0 || closed || signal?.aborted === true) {
        resolve();
        return;
      }
      const onAbort = () => {
        slot.wake = undefined;
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      slot.wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
    });

  async function* batches(): AsyncGenerator<CoordinationWatchBatch> {
    try {
      yield* batchesOf(start.list, start.upTo, { reset: start.reset, caughtUp: true });
      for (;;) {
        if (signal?.aborted === true || closed) return;
        if (slot.pending.size === 0) {
          await wait();
          continue;
        }
        const upTo = source.headRevision;
        const ids = slot.pending;
        slot.pending = new Set();
        // Removals this watcher has yet to hear of may be forgotten (it fell more than the kept removals behind):
        // it starts over.
        if (delivered < source.forgottenThrough) yield* batchesOf(source.snapshot(), upTo, { reset: true, caughtUp: true });
        else yield* batchesOf(source.listed(ids), upTo, { reset: false, caughtUp: false });
      }
    } finally {
      close();
    }
  }

  return {
    batches: batches(),
    get lastRevision() {
      return delivered;
    },
    get pendingCount() {
      return slot.pending.size;
    },
    close,
  };
}

/** Shutdown's end of a coordination watch: UNAVAILABLE; the next server has another epoch, so a watcher resets. */
export function coordinationWatchShuttingDown(watchEpoch: string, headRevision: number): ConsortError {
  return new ConsortError("unavailable", "server is shutting down; watch again (a restarted server has a new watch epoch: the watch starts over with a snapshot)", {
    reason: "SHUTTING_DOWN",
    metadata: { watch_epoch: watchEpoch, head_revision: String(headRevision) },
  });
}
