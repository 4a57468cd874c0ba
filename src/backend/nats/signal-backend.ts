import { ConsortError, type ErrorKind } from "../../core/errors.js";
import { coordinationDropped, type DropReason } from "../../core/store.js";
import type { SignalBackend, SignalLogView, SignalViews } from "../../core/signals/signal-backend.js";
import type { PublishResult, SignalRecord } from "../../core/signals/types.js";
import type { CoordinationMetaStore, MetaFailure } from "./coordination-meta.js";
import type { CoordinationMetaEvent, MetaWatch } from "./coordination-meta-watch.js";
import { decodeSignal, encodeSignal } from "./signal-codec.js";
import type { Follow, FollowEnd, SignalLogRecord } from "./signal-follow.js";
import type { AppendFailure, AppendFailureReason, JetStreamSignalLog } from "./signal-log.js";

/**
 * The signal engine's backend on NATS JetStream (DESIGN.md §8, issue 12): several replicas, each an engine with
 * this backend on a connection of its own, share every coordination's signals through the JetStream signal log
 * (`signal-log.ts`) and the coordination meta (`coordination-meta.ts`).
 *
 * **Serving a coordination (the load step).** Before the engine first uses a coordination on this replica, the
 * caller awaits {@link JetStreamSignalBackend.serve}: it acquires the coordination's meta (so every replica's view
 * has the one epoch, which {@link SignalBackend.epochOf} then answers synchronously), creates the engine's view
 * ({@link SignalViews.open}), starts the coordination's one follower from the oldest retained record and resolves
 * once the follower has applied every record up to the head it read at start. Reads then never wait. The view
 * exists before the first record arrives, so nothing is buffered; a coordination not served here is refused
 * (`failed_precondition`, COORDINATION_NOT_SERVED) when the engine first makes its view, and an append to it too.
 * In the server, the one caller is the `prepare` hook `src/app.ts` gives the services and the dependency engine
 * (`nats-signals.ts`: `prepare`, and `prepareExisting` for calls that must not bring a coordination into being).
 *
 * **Applying.** The follower hands over records verified gap-free (`signal-follow.ts`); each is decoded
 * (`signal-codec.ts`: sequence from the header, epoch from the meta) and applied to the view in order, whichever
 * replica appended it, this one's included. A record at or below the view's head is skipped (already applied: a
 * view kept from an earlier serve). A record beyond `head + 1`, a payload that is not a Consort signal, or a view
 * the engine no longer holds (it dropped the coordination) ends the follower: the coordination is no longer
 * served here, its pending appends fail, `onError` is told, and it must be served again.
 *
 * **Appends.** A signal is appended with its idempotency key as the msg id (its signal id when it has none),
 * prefixed with the coordination's cleared-through as this replica knows it, so a retry on any replica within the
 * log's duplicate window returns the original, and a key freed by a clear can be used again (a retry straddling a
 * clear, or made on a replica that has not yet heard of it, is not recognised). The append resolves once the
 * follower applied the sequence the log gave it (read-your-writes), from a per-coordination map of pending
 * sequences; a duplicate resolves with the original, `duplicate: true`. Failures are `ConsortError`s naming the
 * coordination: see {@link appendError}.
 *
 * **ClearSignals** ({@link SignalBackend.clear}): cleared-through is raised in the meta to the view's head (guarded
 * by the epoch served), then the subject is purged up to the record at that head (a record appended since stays),
 * then the view is cleared through it. Every replica hears the raise from its one meta watch (started before its
 * first load) and clears its view of that epoch through it; appends of its own waiting for a sequence the clear
 * reached are answered with what they stored. Numbering continues: the signal log reads the emptied subject's
 * head as cleared-through. A load finds cleared-through in the meta and starts the view after it; a view that
 * has applied nothing since its load also starts at the oldest retained record (a trimmed history). A gap later
 * on still ends the follower (SIGNAL_HISTORY_NOT_FROM_ONE).
 *
 * **Drops** ({@link SignalBackend.drop}). A DeleteCoordination here stops the coordination's follower, purges its
 * subject (and, through `onDeleting`, what other backends keep of it), deletes its meta (guarded by the epoch served) and purges again (what a replica that had not yet heard
 * appended in between); a serve of the id waits for all that, and begins a new epoch from 1. Every other replica
 * hears the meta's delete of the epoch it serves, stops its follower, forgets the log's head and drops the
 * coordination from its store ({@link SignalViews.drop}: its streams and waits end COORDINATION_DELETED); having
 * left `served` first, it does not pass the drop on again, and the replica that deleted no longer serves that
 * epoch when it hears its own delete. Expiry (the store's idle sweep) is one replica's view of idleness: it only
 * stops serving the coordination here, until a sweeper holding a lease expires it everywhere.
 *
 * Windows left open: a replica appending between the first purge and hearing the delete fails `head_lost`; one
 * that serves the id again between the meta's delete and the second purge may load the old epoch's last records.
 */

/** Options of {@link createJetStreamSignalBackend}. */
export interface JetStreamSignalBackendOptions {
  /** The signal log, on this replica's connection. */
  readonly log: JetStreamSignalLog;
  /** The coordination meta, on this replica's connection. */
  readonly meta: CoordinationMetaStore;
  /** Told when a served coordination's follower ends other than by {@link JetStreamSignalBackend.close}. @default none */
  readonly onError?: (error: ConsortError) => void;
  /**
   * Run by the replica that deletes a coordination (or the idle sweeper's, expiring it), after its signals are
   * purged and before its meta is deleted:
   * where what other backends share of it is purged too (the dependency backend's keys). @default none
   */
  readonly onDeleting?: (coordinationId: string) => Promise<void>;
}

/** The JetStream signal backend of one replica's engine. */
export interface JetStreamSignalBackend extends SignalBackend<Promise<PublishResult>> {
  /**
   * Brings the coordination's view up to date and keeps it so (see the module comment); resolves when the engine
   * may use the coordination here. Calls for a coordination being or already served share one load. Rejects with
   * a `ConsortError` (the meta or the stream unreachable: `unavailable`), leaving it unserved.
   */
  serve(coordinationId: string): Promise<void>;
  /** Whether the coordination is served here (its load completed and its follower runs). */
  isServed(coordinationId: string): boolean;
  /** The epoch of a coordination served here (from its meta); throws `failed_precondition` COORDINATION_NOT_SERVED otherwise. */
  epochOf(coordinationId: string): string;
  /**
   * Expires the coordination everywhere (the idle sweeper's drop, `idle-sweeper.ts`), whether served here or not:
   * if its meta is still in `epoch`, its subject is purged (and, through `onDeleting`, what other backends keep of
   * it), the meta dropped with reason `expired` (guarded by
   * `epoch`; every replica hears it and drops the coordination) and the subject purged again, as a delete does.
   * Resolves whether it dropped it (false: gone already, or begun again in another epoch). Rejects with a
   * `ConsortError` when JetStream cannot be reached.
   */
  expire(coordinationId: string, epoch: string): Promise<boolean>;
  /**
   * While a drop of the coordination here is under way (its follower stopping; for a DeleteCoordination made here,
   * the purges and the meta's delete too), resolves when it ends, failed or not; `undefined` when none is. What
   * reads the meta to learn whether the coordination exists awaits it first, so it does not find a meta this
   * replica is deleting.
   */
  dropping(coordinationId: string): Promise<void> | undefined;
  /** Stops every follower; pending appends fail `unavailable`, and nothing is served any more. */
  close(): Promise<void>;
}

interface Pending {
  readonly resolve: (applied: SignalRecord) => void;
  readonly reject: (error: ConsortError) => void;
  /** The signal as stored, for an append a clear reached before it was applied here (`undefined`: a duplicate). */
  readonly stored: SignalRecord | undefined;
}

/** A coordination this replica serves, or is loading. */
interface Served {
  readonly id: string;
  /** The meta's epoch, once acquired. */
  epoch: string | undefined;
  /** The engine's view, once opened. */
  view: SignalLogView | undefined;
  follow: Follow | undefined;
  loaded: boolean;
  /** Whether the follower applied a record to the view since this load began. */
  applied: boolean;
  /** The cleared-through this replica knows for the coordination: part of every msg id it appends with. */
  clearedThrough: number;
  /** The stream sequence of the last record the follower applied (0 before the first): how far a clear purges. */
  lastStream: number;
  /** Why its follower ended, once it has: what appends still arriving are told. */
  ended: ConsortError | undefined;
  /** Consort sequence → appends of this replica waiting for the follower to apply it. */
  readonly pending: Map<number, Pending[]>;
}

const appendFailures: Readonly<Record<AppendFailureReason, readonly [ErrorKind, string]>> = {
  conflict: ["aborted", "APPEND_CONFLICT"],
  unavailable: ["unavailable", "BACKEND_UNAVAILABLE"],
  head_lost: ["failed_precondition", "SIGNAL_HEAD_LOST"],
  head_invalid: ["failed_precondition", "SIGNAL_HEAD_INVALID"],
  rejected: ["internal", "APPEND_REJECTED"],
};

/**
 * A failed append as the engine's callers see it: other writers kept winning (`aborted`: publish again); no
 * answer from JetStream (`unavailable`: it may be stored; a retry with the same idempotency key returns it); the
 * subject's numbering is lost or was written bypassing Consort (`failed_precondition`); refused for another reason
 * (`internal`, the text in the server's log only).
 */
export function appendError(coordinationId: string, f: AppendFailure): ConsortError {
  const [kind, reason] = appendFailures[f.reason];
  const what = f.reason === "unavailable" ? "may not have been stored" : "was not stored";
  return new ConsortError(kind, `the signal ${what} in coordination ${JSON.stringify(coordinationId)}: ${f.message}`, {
    reason,
    metadata: { coordination_id: coordinationId, attempts: String(f.attempts) },
    cause: f.cause ?? f,
  });
}

function metaError(coordinationId: string, f: MetaFailure, what = "acquired"): ConsortError {
  const [kind, reason]: readonly [ErrorKind, string] =
    f.reason === "unavailable" ? ["unavailable", "BACKEND_UNAVAILABLE"] : f.reason === "conflict" ? ["aborted", "META_CONFLICT"] : ["internal", "META_UNREADABLE"];
  return new ConsortError(kind, `the meta of coordination ${JSON.stringify(coordinationId)} could not be ${what}: ${f.message}`, {
    reason,
    metadata: { coordination_id: coordinationId },
    cause: f.cause ?? f,
  });
}

/** How a follower's end reads to the appends it leaves pending and to a load it cuts short. */
function followError(coordinationId: string, end: Exclude<FollowEnd, { reason: "stopped" }>): ConsortError {
  if (end.reason === "failed" && end.cause instanceof ConsortError) return end.cause;
  const [kind, reason]: readonly [ErrorKind, string] = end.reason === "failed" ? ["unavailable", "BACKEND_UNAVAILABLE"] : ["failed_precondition", "SIGNAL_LOG_UNREADABLE"];
  return new ConsortError(kind, `coordination ${JSON.stringify(coordinationId)} is no longer followed on this replica: ${end.message}`, {
    reason,
    metadata: { coordination_id: coordinationId },
    cause: end,
  });
}

const notServed = (id: string, why = "its signals must be loaded (serve) before the engine uses it") =>
  new ConsortError("failed_precondition", `coordination ${JSON.stringify(id)} is not served on this replica: ${why}`, {
    reason: "COORDINATION_NOT_SERVED",
    metadata: { coordination_id: id },
  });

const closedError = (id: string) =>
  new ConsortError("unavailable", `this replica stopped following coordination ${JSON.stringify(id)} (shutting down); the signal may have been stored: retry with the same idempotency key`, {
    reason: "SHUTTING_DOWN",
    metadata: { coordination_id: id },
  });

/**
 * Creates the backend of one replica's signal engine: pass it as `createSignalEngine({ backend })`, then
 * `await backend.serve(id)` before the engine's first use of a coordination.
 *
 * @example
 * const backend = createJetStreamSignalBackend({ log, meta });
 * const engine = createSignalEngine({ store, backend });
 * await backend.serve("review-42");
 * const { signal } = await engine.publish({ coordinationId: "review-42", type: "agent_completed" });
 */
export function createJetStreamSignalBackend(options: JetStreamSignalBackendOptions): JetStreamSignalBackend {
  const { log, meta } = options;
  let views: SignalViews | undefined;
  let closed = false;
  const served = new Map<string, Served>();
  const loads = new Map<string, Promise<void>>();
  // Coordination → the end of its last drop here (its follower stopped; for a delete made here, the purges and the
  // meta's delete): a serve of the id waits for it.
  const drops = new Map<string, Promise<void>>();

  const failPending = (s: Served, error: ConsortError) => {
    const pending = [...s.pending.values()].flat();
    s.pending.clear();
    for (const p of pending) p.reject(error);
  };

  /**
   * Clears the view through `through` (a clear made here, heard from the meta, or found when loading). Appends of
   * this replica waiting for a sequence it reaches were stored, and are answered with what they stored: the follower
   * skips those records now, or never sees them (purged).
   */
  const clearThrough = (s: Served, through: number) => {
    log.clearedThrough(s.id, through);
    s.clearedThrough = Math.max(s.clearedThrough, through);
    const view = s.view;
    if (view === undefined || views?.view(s.id) !== view) return;
    view.clearThrough(through);
    for (const [sequence, waiting] of s.pending) {
      if (sequence > through) continue;
      s.pending.delete(sequence);
      for (const p of waiting) {
        if (p.stored !== undefined) p.resolve(p.stored);
        else p.reject(new ConsortError("aborted", `coordination ${JSON.stringify(s.id)} was cleared through ${through} before the original of a retried signal (sequence ${sequence}) was read here`, { reason: "ORIGINAL_NOT_RETAINED", metadata: { coordination_id: s.id, sequence: String(sequence) } }));
      }
    }
  };

  /**
   * Stops serving `s` here: it leaves `served` (so the engine's drop that may follow is not passed on again), its
   * pending appends fail with `error`, its follower stops and the log forgets its head. `after` runs once the
   * follower stopped; a serve of the id waits for both.
   */
  const unserve = (s: Served, error: ConsortError, after?: () => Promise<void>) => {
    if (served.get(s.id) === s) served.delete(s.id);
    s.ended = error;
    failPending(s, error);
    log.forget(s.id);
    const run = (s.follow?.stop() ?? Promise.resolve()).then(async () => {
      await after?.();
    });
    drops.set(s.id, run);
    void run.then(
      () => drops.get(s.id) === run && drops.delete(s.id),
      (err: unknown) => {
        if (drops.get(s.id) === run) drops.delete(s.id);
        options.onError?.(err instanceof ConsortError ? err : new ConsortError("unavailable", String(err), { reason: "BACKEND_UNAVAILABLE", cause: err }));
      },
    );
  };

  /**
   * A delete made here, passed on: the subject is purged, the meta deleted (guarded by the epoch served, so a
   * coordination begun again meanwhile is left alone; every replica hears it), and purged again for what a replica
   * that had not yet heard appended in between.
   */
  const deleteEverywhere = async (id: string, epoch: string) => {
    await log.purgeAll(id);
    await options.onDeleting?.(id);
    const r = await meta.drop(id, "deleted", { epoch });
    if (!r.ok) {
      if (r.reason === "epoch_changed") return;
      throw metaError(id, r, "deleted");
    }
    await log.purgeAll(id);
  };

  /**
   * The meta watch's handler: a clear made on another replica clears this one's view of the epoch it served; a
   * drop of that epoch drops the coordination here (its streams and waits end), without passing it on again.
   */
  const heard = (event: CoordinationMetaEvent) => {
    if (event.kind === "invalid") return;
    const s = served.get(event.coordinationId);
    if (s === undefined || s.epoch === undefined) return;
    if (event.kind === "changed" && s.epoch === event.meta.epoch) clearThrough(s, event.meta.clearedThrough);
    if (event.kind !== "dropped" || (event.epoch !== undefined && event.epoch !== s.epoch)) return;
    const reason = event.reason ?? "deleted";
    unserve(s, coordinationDropped(s.id, reason, { epoch: s.epoch }));
    if (s.view !== undefined && views?.view(s.id) === s.view) views.drop(s.id, reason);
  };
  let watching: Promise<MetaWatch> | undefined;
  /** Starts the one meta watch of this backend, before its first load (a clear made during a load is heard). */
  const watch = (): Promise<MetaWatch> => {
    watching ??= meta.watch(heard).catch((err: unknown) => {
      watching = undefined;
      throw new ConsortError("unavailable", `the coordination meta could not be watched: ${String(err)}`, { reason: "BACKEND_UNAVAILABLE", cause: err });
    });
    return watching;
  };

  /**
   * An append found the subject's head gone back (purged) before the meta watch told this replica why: the meta
   * says it. A clear made elsewhere is applied here as the watch would (true: append again, numbering on from
   * cleared-through); a drop (the meta gone, or in another epoch) throws the drop's error, the signal not stored
   * (the watch drops the coordination here when it hears). False when the meta explains nothing.
   */
  const headLostBy = async (s: Served): Promise<boolean> => {
    const current = await meta.get(s.id);
    if (!current.ok || s.epoch === undefined) return false;
    if (current.meta === undefined || current.meta.epoch !== s.epoch) {
      throw coordinationDropped(s.id, "deleted", { epoch: s.epoch });
    }
    if (current.meta.clearedThrough <= s.clearedThrough) return false;
    clearThrough(s, current.meta.clearedThrough);
    return true;
  };

  /** The follower's handler: one verified record, applied to the view in order (see the module comment). */
  const apply = (s: Served, record: SignalLogRecord) => {
    const view = views?.view(s.id);
    if (view === undefined || view !== s.view) throw notServed(s.id, "the engine dropped its view here since it was served");
    const sequence = record.consortSequence;
    if (sequence <= view.head) return;
    // A view that has applied nothing since it was loaded starts at the oldest record retained (history trimmed).
    if (sequence > view.head + 1 && !s.applied) view.clearThrough(sequence - 1);
    if (sequence > view.head + 1) {
      throw new ConsortError(
        "failed_precondition",
        `coordination ${JSON.stringify(s.id)}'s oldest record here is ${sequence}, its view's head ${view.head}: the records between are no longer retained (history trimmed or cleared), and a view cannot start past them yet`,
        { reason: "SIGNAL_HISTORY_NOT_FROM_ONE", metadata: { coordination_id: s.id, oldest_sequence: String(sequence), head_sequence: String(view.head) } },
      );
    }
    const signal = decodeSignal(record.payload, { coordinationId: s.id, sequence, epoch: view.epoch });
    if (typeof signal === "string") {
      throw new ConsortError("failed_precondition", `coordination ${JSON.stringify(s.id)}'s record ${sequence} (stream sequence ${record.streamSequence}) is not a Consort signal: ${signal}`, {
        reason: "SIGNAL_LOG_UNREADABLE",
        metadata: { coordination_id: s.id, sequence: String(sequence) },
      });
    }
    view.apply(signal);
    s.applied = true;
    s.lastStream = record.streamSequence;
    const waiting = s.pending.get(sequence);
    if (waiting === undefined) return;
    s.pending.delete(sequence);
    for (const p of waiting) p.resolve(signal);
  };

  const load = async (s: Served): Promise<void> => {
    if (views === undefined) throw new Error("the JetStream signal backend serves nothing before an engine connects to it (createSignalEngine({ backend }))");
    await watch();
    const acquired = await meta.acquire(s.id);
    if (!acquired.ok) throw metaError(s.id, acquired);
    const existing = views.view(s.id);
    if (existing !== undefined && existing.epoch !== acquired.meta.epoch) {
      throw new ConsortError("failed_precondition", `this replica holds coordination ${JSON.stringify(s.id)} in epoch ${existing.epoch}, the meta says ${acquired.meta.epoch}: it was dropped and begun again`, {
        reason: "EPOCH_CHANGED",
        metadata: { coordination_id: s.id, epoch: acquired.meta.epoch },
      });
    }
    s.epoch = acquired.meta.epoch;
    if (closed) throw closedError(s.id);
    s.view = views.open(s.id);
    // Cleared (or its history trimmed) before: the view starts past the sequences no longer retained.
    if (acquired.meta.clearedThrough > 0) clearThrough(s, acquired.meta.clearedThrough);
    const follow = log.follow(s.id, "retained", (record) => apply(s, record));
    s.follow = follow;
    void follow.ended.then((end) => {
      if (served.get(s.id) === s) served.delete(s.id);
      const error = end.reason === "stopped" ? closedError(s.id) : followError(s.id, end);
      // Stopped by a drop (unserve): the drop stays what appends and a load cut short are told.
      s.ended ??= error;
      failPending(s, s.ended);
      if (end.reason !== "stopped" && s.loaded) options.onError?.(error);
    });
    const caughtUp = await follow.caughtUp;
    // Dropped (deleted, expired) while loading: the call fails with the drop, not as if this replica were shutting down.
    if (caughtUp.reason !== "caught_up") throw caughtUp.reason === "stopped" ? (s.ended ?? closedError(s.id)) : followError(s.id, caughtUp);
    if (s.ended !== undefined) throw s.ended;
    s.loaded = true;
  };

  return {
    connect(v) {
      views = v;
    },

    epochOf(id) {
      const epoch = served.get(id)?.epoch;
      if (epoch === undefined) throw notServed(id);
      return epoch;
    },

    serve(id) {
      if (closed) return Promise.reject(closedError(id));
      const loading = loads.get(id);
      if (loading !== undefined) return loading;
      const s = served.get(id);
      if (s?.loaded === true && views?.view(id) === s.view) return Promise.resolve();
      // Served, but the engine dropped its view since: its follower stops before the coordination is loaded again;
      // dropped here: the drop's purges and meta delete end first.
      const previous = Promise.all([s?.follow?.stop(), drops.get(id)?.catch(() => undefined)]);
      const fresh: Served = { id, epoch: undefined, view: undefined, follow: undefined, loaded: false, applied: false, clearedThrough: 0, lastStream: 0, ended: undefined, pending: new Map() };
      served.set(id, fresh);
      const run = previous.then(() => load(fresh)).then(
        () => {
          loads.delete(id);
        },
        async (err: unknown) => {
          loads.delete(id);
          if (served.get(id) === fresh) served.delete(id);
          await fresh.follow?.stop();
          throw err;
        },
      );
      loads.set(id, run);
      return run;
    },

    isServed: (id) => served.get(id)?.loaded === true,

    async expire(id, epoch) {
      const current = await meta.get(id);
      if (!current.ok) throw metaError(id, current, "expired");
      if (current.meta?.epoch !== epoch) return false;
      await log.purgeAll(id);
      await options.onDeleting?.(id);
      const r = await meta.drop(id, "expired", { epoch });
      if (!r.ok) {
        if (r.reason === "epoch_changed" || r.reason === "not_found") return false;
        throw metaError(id, r, "expired");
      }
      await log.purgeAll(id);
      return r.dropped;
    },

    dropping: (id) => drops.get(id)?.catch(() => undefined),

    drop(view, reason: DropReason) {
      const id = view.coordinationId;
      const s = served.get(id);
      // Not served here, or dropped by the meta watch (it left `served` first): nothing to pass on.
      if (s === undefined || s.view !== view) return;
      const epoch = s.epoch;
      // Expiry is this replica's idle sweep: the coordination may be busy on others, so it only stops being served
      // here (a sweeper holding a lease is to expire it everywhere).
      const after = reason === "deleted" && epoch !== undefined ? () => deleteEverywhere(id, epoch) : undefined;
      unserve(s, coordinationDropped(id, reason, { epoch: view.epoch }), after);
    },

    async clear(view) {
      const id = view.coordinationId;
      const s = served.get(id);
      if (s === undefined || s.view !== view || s.epoch === undefined) throw notServed(id);
      const through = view.head;
      const purgeTo = s.lastStream;
      // Cleared-through first: the purge loses the subject's head, and a replica finding it empty numbers on from it.
      const r = await meta.clear(id, through, { epoch: s.epoch });
      if (!r.ok) throw metaError(id, r, "updated");
      try {
        await log.purge(id, through, purgeTo);
      } catch (err) {
        throw new ConsortError("unavailable", `coordination ${JSON.stringify(id)} is cleared through ${through} but its signals may not have been purged: ${String(err)}`, {
          reason: "BACKEND_UNAVAILABLE",
          metadata: { coordination_id: id, head_sequence: String(through) },
          cause: err,
        });
      } finally {
        clearThrough(s, through);
      }
    },

    async append(view, signal) {
      const id = view.coordinationId;
      const s = served.get(id);
      if (s === undefined || s.view !== view) throw notServed(id);
      // The server remembers msg ids across a purge: scoped by cleared-through, a key cleared is free again, as in memory.
      const msgIdOf = () => `${s.clearedThrough}:${signal.idempotencyKey === "" ? signal.signalId : signal.idempotencyKey}`;
      const payload = encodeSignal(signal);
      let r = await log.append(id, payload, { msgId: msgIdOf() });
      // The subject was purged under this replica before it heard why: a clear or a drop made on another replica.
      if (!r.ok && r.reason === "head_lost" && (await headLostBy(s))) r = await log.append(id, payload, { msgId: msgIdOf() });
      if (!r.ok) throw appendError(id, r);
      const sequence = r.consortSequence;
      let applied: SignalRecord;
      if (view.head >= sequence) {
        // The follower applied it before the acknowledgement came back.
        const original = r.duplicate && signal.idempotencyKey !== "" ? view.byKey(signal.idempotencyKey) : undefined;
        if (!r.duplicate) applied = { ...signal, sequence };
        else if (original?.sequence === sequence) applied = original;
        else {
          throw new ConsortError("internal", `the original of a retried signal of coordination ${JSON.stringify(id)} (sequence ${sequence}) is no longer held here`, {
            reason: "ORIGINAL_NOT_RETAINED",
            metadata: { coordination_id: id, sequence: String(sequence) },
          });
        }
      } else {
        if (s.ended !== undefined) throw s.ended;
        applied = await new Promise<SignalRecord>((resolve, reject) => {
          const waiting = s.pending.get(sequence);
          const p = { resolve, reject, stored: r.duplicate ? undefined : { ...signal, sequence } };
          if (waiting === undefined) s.pending.set(sequence, [p]);
          else waiting.push(p);
        });
      }
      return { signal: applied, duplicate: r.duplicate };
    },

    async close() {
      closed = true;
      const all = [...served.values()];
      served.clear();
      const w = watching;
      watching = undefined;
      // A follower's end fails its pending appends; one still loading has none.
      await Promise.all([...all.map((s) => s.follow?.stop()), w?.then((m) => m.stop(), () => undefined)]);
    },
  };
}
