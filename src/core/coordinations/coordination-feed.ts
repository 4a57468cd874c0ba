import { ConsortError, Violations } from "../errors.js";
import type { Coordination, DropReason, Store } from "../store.js";
import { createUuidSource } from "../uuid.js";
import { optionalId } from "../validate.js";
import type { CoordinationSummary } from "./coordination-engine.js";
import {
  createCoordinationWatch,
  type CoordinationChange,
  type CoordinationWatch,
  type CoordinationWatchOptions,
  type Listed,
  type WatcherSlot,
  type WatchSource,
} from "./coordination-watch.js";

/**
 * WatchCoordinations' core: how the set of coordinations changes, coalesced per coordination and numbered by
 * server-wide revisions. A change only marks its coordination dirty (a Set add, on the publish path); a tick every
 * `intervalMs` gives each dirty coordination a new revision and adds its id to every watcher's pending set. Removals
 * are changes too, kept as tombstones (the newest `maxTombstones`) for watchers that resume.
 */

/** What a watcher asks for. */
export interface CoordinationWatchInput {
  /** The epoch of the stream being resumed; "" for a new watch. */
  readonly watchEpoch?: string;
  /** The head revision of the last batch received in that epoch; 0 for a full snapshot. */
  readonly afterRevision?: number;
}

/** Observers of the feed, for server metrics. */
export interface CoordinationFeedHooks {
  /** Open watches changed by `delta`. */
  readonly onWatchersChanged?: (delta: number) => void;
}

/** Options of {@link createCoordinationFeed}. */
export interface CoordinationFeedOptions {
  readonly store: Store;
  /** A coordination's figures now (the coordination engine's summary). */
  readonly summarize: (coordination: Coordination) => CoordinationSummary;
  /** Milliseconds changes are coalesced over before watchers hear of them. @default 250 */
  readonly intervalMs?: number;
  /** Removals remembered for resumed watches; a resume from before the forgotten ones starts over. @default 10000 */
  readonly maxTombstones?: number;
  /** Open watches at most (`exhausted`, TOO_MANY_WATCHES, beyond). @default 10000 */
  readonly maxWatchers?: number;
  readonly hooks?: CoordinationFeedHooks;
}

/** See the module comment. */
export interface CoordinationFeed {
  /** Random per feed (per server start): a revision means something only within its epoch. */
  readonly watchEpoch: string;
  /** The newest revision given; 0 before any change. */
  readonly headRevision: number;
  /** Removals up to this revision are forgotten: a resume from before it starts over with `reset`. */
  readonly forgottenThrough: number;
  /** Open watches. */
  readonly watcherCount: number;
  /**
   * Registers a watch: a full snapshot for a new one (with `reset` when it asked to resume in another epoch, or
   * from before the forgotten removals), only what changed after `afterRevision` for a resumed one. Beyond the
   * newest revision of this epoch: `out_of_range` (REVISION_AHEAD, metadata `head_revision`).
   */
  watch(input: CoordinationWatchInput, options?: CoordinationWatchOptions): CoordinationWatch;
  /** Gives what changed since the last tick its revisions and tells the watchers, now (the timer calls it). */
  tick(): void;
  /** Stops the timer and stops listening to the store; open watches stay until their streams end. */
  close(): void;
}

/** A removal, kept for resumed watches. */
interface Tombstone {
  readonly coordinationId: string;
  readonly reason: DropReason;
  readonly revision: number;
}

/** The store slot holding a coordination's last-change revision. */
const SLOT = "watchRevision";
const byRevision = (a: Listed, b: Listed) => a.revision - b.revision;

/** Creates a {@link CoordinationFeed} listening to the store's changes and drops. */
export function createCoordinationFeed(options: CoordinationFeedOptions): CoordinationFeed {
  const { store, summarize } = options;
  const intervalMs = options.intervalMs ?? 250;
  const maxTombstones = options.maxTombstones ?? 10_000;
  const maxWatchers = options.maxWatchers ?? 10_000;
  const hooks = options.hooks ?? {};
  const watchEpoch = createUuidSource()();
  let head = 0;
  let forgottenThrough = 0;
  /** Ids whose figures may have changed since the last tick: at most one per coordination. */
  const dirty = new Set<string>();
  /** Ids removed since the last tick, with the last reason. */
  const removed = new Map<string, DropReason>();
  /** Oldest first from `tombstoneHead`; `latest` holds each id's newest one still kept. */
  let tombstones: Tombstone[] = [];
  let tombstoneHead = 0;
  const latest = new Map<string, Tombstone>();
  const watchers = new Set<WatcherSlot>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const revisionOfCoordination = (c: Coordination) => c.slots[SLOT] as number | undefined;

  // One timer per interval while something changes, none while nothing does; it never keeps the process alive.
  const schedule = () => {
    if (timer !== undefined || closed) return;
    timer = setTimeout(feed.tick, intervalMs);
    timer.unref();
  };
  const stopChanges = store.onChange((c) => {
    dirty.add(c.id);
    if (timer === undefined) schedule();
  });
  // A coordination that never had a revision was never sent: its removal is news to no one.
  const stopDrops = store.onDrop((c, reason) => {
    if (revisionOfCoordination(c) === undefined) return;
    removed.set(c.id, reason);
    schedule();
  });

  const source: WatchSource = {
    watchEpoch,
    get headRevision() {
      return head;
    },
    get forgottenThrough() {
      return forgottenThrough;
    },
    revisionOf(id) {
      const c = store.peek(id);
      return (c === undefined ? undefined : revisionOfCoordination(c)) ?? latest.get(id)?.revision;
    },
    changeOf(id): CoordinationChange | undefined {
      const c = store.peek(id);
      const revision = c === undefined ? undefined : revisionOfCoordination(c);
      if (c !== undefined && revision !== undefined) return { revision, kind: "updated", coordination: summarize(c) };
      const t = latest.get(id);
      return t === undefined ? undefined : { revision: t.revision, kind: "removed", coordinationId: id, reason: t.reason };
    },
    snapshot() {
      const out: Listed[] = [];
      for (const c of store.all()) {
        const revision = revisionOfCoordination(c);
        if (revision !== undefined) out.push({ id: c.id, revision });
      }
      return out.sort(byRevision);
    },
    listed(ids) {
      const out: Listed[] = [];
      for (const id of ids) {
        const revision = source.revisionOf(id);
        if (revision !== undefined) out.push({ id, revision });
      }
      return out.sort(byRevision);
    },
  };

  /** What changed after `after`: coordinations changed since and removals kept since, oldest first. */
  const since = (after: number): Listed[] => {
    const out: Listed[] = [];
    for (const c of store.all()) {
      const revision = revisionOfCoordination(c);
      if (revision !== undefined && revision > after) out.push({ id: c.id, revision });
    }
    for (let i = tombstones.length - 1; i >= tombstoneHead; i--) {
      const t = tombstones[i] as Tombstone;
      if (t.revision <= after) break;
      out.push({ id: t.coordinationId, revision: t.revision });
    }
    return out.sort(byRevision);
  };

  const remember = (t: Tombstone) => {
    tombstones.push(t);
    latest.set(t.coordinationId, t);
    while (tombstones.length - tombstoneHead > maxTombstones) {
      const old = tombstones[tombstoneHead] as Tombstone;
      tombstones[tombstoneHead++] = undefined as unknown as Tombstone;
      forgottenThrough = old.revision;
      if (latest.get(old.coordinationId) === old) latest.delete(old.coordinationId);
    }
    if (tombstoneHead > 1024 && tombstoneHead * 2 > tombstones.length) {
      tombstones = tombstones.slice(tombstoneHead);
      tombstoneHead = 0;
    }
  };

  const feed: CoordinationFeed = {
    watchEpoch,
    get headRevision() {
      return head;
    },
    get forgottenThrough() {
      return forgottenThrough;
    },
    get watcherCount() {
      return watchers.size;
    },

    tick() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (dirty.size === 0 && removed.size === 0) return;
      const changed: string[] = [];
      // Removals first: a coordination deleted and created again within the interval ends up created.
      for (const [coordinationId, reason] of removed) {
        remember({ coordinationId, reason, revision: ++head });
        changed.push(coordinationId);
      }
      removed.clear();
      for (const id of dirty) {
        const c = store.peek(id);
        if (c === undefined) continue;
        c.slots[SLOT] = ++head;
        changed.push(id);
      }
      dirty.clear();
      for (const w of watchers) {
        for (const id of changed) w.pending.add(id);
        const wake = w.wake;
        w.wake = undefined;
        wake?.();
      }
    },

    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      stopChanges();
      stopDrops();
      dirty.clear();
      removed.clear();
    },

    watch(input, o) {
      const v = new Violations();
      // Epochs are server-minted UUIDs: bounded by the contract's 100 characters.
      const epoch = optionalId(v, "watch_epoch", input.watchEpoch ?? "", 100);
      const after = input.afterRevision ?? 0;
      if (!Number.isSafeInteger(after) || after < 0) v.add("after_revision", `must be a non-negative integer, got ${after}`);
      v.throwIfAny();
      const resuming = epoch === watchEpoch && after > 0;
      if (resuming && after > head) {
        throw new ConsortError("out_of_range", `after_revision ${after} is beyond the newest revision ${head} of this watch epoch; watch again without after_revision`, {
          reason: "REVISION_AHEAD",
          metadata: { head_revision: String(head), watch_epoch: watchEpoch },
        });
      }
      if (watchers.size >= maxWatchers) {
        throw new ConsortError("exhausted", `the server holds its limit of ${maxWatchers} coordination watches`, {
          reason: "TOO_MANY_WATCHES",
          metadata: { limit: String(maxWatchers) },
        });
      }
      const canResume = resuming && after >= forgottenThrough;
      // Listed and registered in one synchronous step: every later change reaches `pending`, every earlier one is
      // listed. Another epoch, or removals forgotten since `after`: a snapshot the watcher must take as a reset.
      const start = {
        list: canResume ? since(after) : source.snapshot(),
        upTo: head,
        reset: epoch !== "" && !canResume && !(epoch === watchEpoch && after === 0),
        from: canResume ? after : 0,
      };
      const slot: WatcherSlot = { pending: new Set(), wake: undefined };
      watchers.add(slot);
      hooks.onWatchersChanged?.(1);
      const unregister = () => {
        watchers.delete(slot);
        hooks.onWatchersChanged?.(-1);
      };
      return createCoordinationWatch(source, slot, start, unregister, o);
    },
  };
  // Coordinations the store already holds (a feed created after the store was used) get revisions at the first
  // tick, like any change: a snapshot never leaves one out.
  for (const c of store.all()) dirty.add(c.id);
  if (dirty.size > 0) schedule();
  return feed;
}
