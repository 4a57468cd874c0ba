import { randomUUID } from "node:crypto";
import { type KV, type KvEntry, KvWatchInclude, type NatsConnection, type QueuedIterator, StorageType } from "nats";
import type { DependencyBackend, DependencyChange, DependencyViews } from "../../core/dependencies/dependency-backend.js";
import { ConsortError } from "../../core/errors.js";
import { coordinationDropped, type DropReason } from "../../core/store.js";
import { decodeDependencyValue, dependencyKey, dependencyKeyFilter, encodeDependencyValue } from "./dependency-value.js";
import { KvBucketMismatchError } from "./errors.js";

/**
 * The dependency engine's backend on NATS JetStream KV (DESIGN.md §8, issue 12): gate scores, resources, wait
 * records and clears of every coordination live in one bucket (history 1), under keys per coordination
 * (`dependency-value.ts`), so several replicas share them.
 *
 * **Serving a coordination (the load step).** After the signal backend served a coordination (its epoch is known),
 * {@link JetStreamDependencyBackend.serve} starts the coordination's one ordered watch on `<coordination>.>`, from
 * the oldest value kept, and resolves once every value there at start was applied to the engine
 * ({@link DependencyViews.apply}), in revision order — so a replica started after gates were set sees them. Values
 * of another epoch (a deleted coordination's stale keys) are skipped; deletes and purges carry nothing to apply.
 *
 * **Writes.** {@link DependencyBackend.write} puts the change (with the epoch served and a write id) and resolves
 * when this replica's watch applied it, with what applying returned (read-your-writes). Since every replica
 * applies one coordination's values in revision order, decisions made when applying — a wait cycle, which waits a
 * gate satisfied, a clear — come out alike on every replica. `released_waits` of SetQualityGateScore and
 * SetResourceAvailability is therefore what the write satisfied in that order: this replica's open waits, and the
 * other replicas' as their records stand in that order (their owners release them when they apply the same write).
 *
 * **ClearDependencies** puts `<coordination>.clear`: every replica, applying it, ends its open waits `failed`
 * "cleared" and forgets records, gates and resources; a load replays it in revision order, so only what came after
 * it survives. A wait's final record its owner made before applying the clear, landing after it, is skipped
 * everywhere (records name the last clear their writer applied). The keys it superseded stay in the bucket until
 * the coordination is deleted.
 *
 * **A replica that dies** leaves its open waits' records in progress: every other replica ends its mirror of such
 * a wait `timeout` at `startedAt + timeout + grace` (the engine's `mirrorGraceMs`, 30 s by default), as does a
 * replica loading it later. A replica shutting down ends its waits and writes their final records first. A final
 * record that cannot be written (NATS unreachable) is logged, not retried: the mirrors end by that same rule.
 *
 * **DeleteCoordination** ({@link JetStreamDependencyBackend.purge}, called by the replica that deletes, before the
 * coordination's meta goes) purges every key of the coordination; every replica stops its watch when its engine
 * drops the coordination ({@link DependencyBackend.drop}). Idle expiry only stops the watch here (as for signals,
 * expiry is one replica's view of idleness): nothing is purged.
 *
 * **Failures.** A put that gets no answer rejects `unavailable` BACKEND_UNAVAILABLE naming the coordination; the
 * change may still be stored and applied later. A watch that ends unasked (the connection closed) leaves the
 * coordination unserved: its pending writes fail, and the next call serves it again, resuming after the last
 * revision applied.
 */

/** Options of {@link createJetStreamDependencyBackend}. */
export interface JetStreamDependencyBackendOptions {
  /** The connection to read, write and watch on (the caller owns it: the backend never closes it). */
  readonly connection: NatsConnection;
  /** The epoch of a coordination the signal backend serves (its `epochOf`): values carry it. */
  readonly epochOf: (coordinationId: string) => string;
  /** The KV bucket's name. @default "CONSORT_DEPENDENCIES" */
  readonly bucket?: string;
  /** Where the bucket keeps its values; memory suits tests. @default "file" */
  readonly storage?: "file" | "memory";
  /** How long one request waits for the server. @default 5_000 */
  readonly timeoutMs?: number;
  /** This replica's id as the owner of its waits. @default a new UUID */
  readonly replicaId?: string;
  /** Told when a served coordination's watch ends unasked, or a value cannot be applied. @default none */
  readonly onError?: (error: ConsortError) => void;
}

/** The JetStream KV dependency backend of one replica's engine. */
export interface JetStreamDependencyBackend extends DependencyBackend<Promise<number>> {
  /** The KV bucket's name. */
  readonly bucket: string;
  /**
   * Loads the coordination's values and keeps applying them (see the module comment); resolves when the engine may
   * use it here. Call after the signal backend served it. Rejects `unavailable` when the watch cannot be set up.
   */
  serve(coordinationId: string): Promise<void>;
  /** Whether the coordination is served here, in the epoch the signal backend serves. */
  isServed(coordinationId: string): boolean;
  /** Purges every key of the coordination (DeleteCoordination). Rejects `unavailable` when the server does not answer. */
  purge(coordinationId: string): Promise<void>;
  /** Stops every watch; pending writes fail `unavailable` SHUTTING_DOWN. */
  close(): Promise<void>;
}

interface Served {
  readonly id: string;
  readonly epoch: string;
  watch: QueuedIterator<KvEntry> | undefined;
  loaded: boolean;
  /** Revision of the last value handed to the engine: where a new watch resumes. */
  lastRevision: number;
  /** Why it stopped being served, once it has. */
  ended: ConsortError | undefined;
  /** Write id → this replica's write waiting for its watch to apply it. */
  readonly pending: Map<string, PendingWrite>;
  /** Values received while a pending write had no revision yet: applied once it is known where that write stands. */
  readonly queue: KvEntry[];
}

interface PendingWrite {
  readonly resolve: (n: number) => void;
  readonly reject: (e: ConsortError) => void;
  readonly change: DependencyChange;
  /** The revision the put got, once acknowledged. */
  revision: number | undefined;
}

const unavailable = (id: string, what: string, err: unknown) =>
  new ConsortError("unavailable", `${what} in coordination ${JSON.stringify(id)}: ${String(err)}`, {
    reason: "BACKEND_UNAVAILABLE",
    metadata: { coordination_id: id },
    cause: err,
  });

const notServed = (id: string) =>
  new ConsortError("failed_precondition", `coordination ${JSON.stringify(id)}'s dependencies are not served on this replica: they must be loaded (serve) before the engine writes`, {
    reason: "COORDINATION_NOT_SERVED",
    metadata: { coordination_id: id },
  });

const closedError = (id: string) =>
  new ConsortError("unavailable", `this replica stopped serving coordination ${JSON.stringify(id)}'s dependencies (shutting down); the change may have been stored`, {
    reason: "SHUTTING_DOWN",
    metadata: { coordination_id: id },
  });

/**
 * Opens the dependency bucket — creates it (history 1, no TTL), or checks that the one there has the same
 * settings ({@link KvBucketMismatchError} otherwise) — and returns the backend to pass as
 * `createDependencyEngine({ backend })`.
 *
 * @example
 * const deps = await createJetStreamDependencyBackend({ connection: nc, epochOf: signals.epochOf });
 * const engine = createDependencyEngine({ store, signals: signalEngine, backend: deps });
 * await signals.serve("review-42");
 * await deps.serve("review-42");
 */
export async function createJetStreamDependencyBackend(options: JetStreamDependencyBackendOptions): Promise<JetStreamDependencyBackend> {
  const bucket = options.bucket ?? "CONSORT_DEPENDENCIES";
  const storage = options.storage === "memory" ? StorageType.Memory : StorageType.File;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const replicaId = options.replicaId ?? randomUUID();
  if (!/^[A-Za-z0-9_-]+$/.test(bucket)) throw new RangeError(`bucket must be of [A-Za-z0-9_-], got ${JSON.stringify(bucket)}`);
  const nc = options.connection;
  const js = nc.jetstream({ timeout: timeoutMs });
  const kv: KV = await js.views.kv(bucket, { history: 1, storage, timeout: timeoutMs, allow_direct: false });
  const status = await kv.status();
  const differences = [
    status.history === 1 ? undefined : `history ${status.history}, not 1`,
    status.storage === storage ? undefined : `storage ${status.storage}, not ${storage}`,
    status.ttl === 0 ? undefined : `ttl ${status.ttl} ms, not none`,
  ].filter((d): d is string => d !== undefined);
  if (differences.length > 0) throw new KvBucketMismatchError(bucket, differences);
  const jsm = await nc.jetstreamManager({ timeout: timeoutMs });

  let views: DependencyViews | undefined;
  let closed = false;
  let nextWrite = 1;
  const served = new Map<string, Served>();
  const loads = new Map<string, Promise<void>>();
  /** Coordination → where a watch that ended unasked left off, to resume in the same epoch. */
  const resumeAt = new Map<string, { readonly epoch: string; readonly revision: number }>();

  /**
   * Stops serving `s`: its watch stops and its pending writes fail with `error`. `resumable`: the engine keeps what
   * was applied (the watch ended unasked, or a load failed part way), so the next serve resumes after it rather than
   * applying the values again (a clear applied twice would end waits begun after it).
   */
  const unserve = (s: Served, error: ConsortError, resumable = false) => {
    if (served.get(s.id) === s) served.delete(s.id);
    if (s.ended !== undefined) return;
    if (resumable && s.lastRevision > 0) resumeAt.set(s.id, { epoch: s.epoch, revision: s.lastRevision });
    s.ended = error;
    s.queue.length = 0;
    s.watch?.stop();
    const pending = [...s.pending.values()];
    s.pending.clear();
    for (const p of pending) p.reject(error);
  };

  /** One value of the coordination's watch, applied in order (values of another epoch are stale keys: skipped). */
  const applyEntry = (s: Served, entry: KvEntry) => {
    s.lastRevision = entry.revision;
    if (entry.operation !== "PUT" || views === undefined) return;
    const value = decodeDependencyValue(s.id, entry.value);
    if (typeof value === "string") {
      options.onError?.(new ConsortError("internal", `the dependency value ${JSON.stringify(entry.key)} (revision ${entry.revision}) is not Consort's: ${value}`, { reason: "DEPENDENCY_VALUE_UNREADABLE", metadata: { coordination_id: s.id } }));
      return;
    }
    if (value.epoch !== s.epoch) return;
    let applied = 0;
    try {
      applied = views.apply(value.change);
    } catch (err) {
      options.onError?.(new ConsortError("internal", `applying a dependency change of coordination ${JSON.stringify(s.id)} failed: ${String(err)}`, { reason: "DEPENDENCY_APPLY_FAILED", cause: err }));
    }
    const p = s.pending.get(value.writeId);
    if (p === undefined) return;
    s.pending.delete(value.writeId);
    p.resolve(applied);
  };

  /**
   * Applies the values received, in order. The bucket keeps one value per key, so a write of this replica that
   * another put to its key replaced before the watch read it never comes back: it is applied here where it stands
   * in the order (before the first value after its revision), else its call would never be answered. Values wait
   * while a write of this replica has no revision yet (its put not acknowledged): it may stand before them.
   */
  const drain = (s: Served) => {
    while (s.ended === undefined && s.queue.length > 0) {
      let skipped: [string, PendingWrite] | undefined;
      const next = s.queue[0] as KvEntry;
      for (const [writeId, p] of s.pending) {
        if (p.revision === undefined) return;
        if (p.revision < next.revision && (skipped === undefined || p.revision < (skipped[1].revision as number))) skipped = [writeId, p];
      }
      if (skipped !== undefined) {
        const [writeId, p] = skipped;
        s.pending.delete(writeId);
        let applied = 0;
        try {
          applied = views?.apply(p.change) ?? 0;
        } catch (err) {
          options.onError?.(new ConsortError("internal", `applying a dependency change of coordination ${JSON.stringify(s.id)} failed: ${String(err)}`, { reason: "DEPENDENCY_APPLY_FAILED", cause: err }));
        }
        p.resolve(applied);
        continue;
      }
      s.queue.shift();
      applyEntry(s, next);
    }
  };

  const load = async (s: Served): Promise<void> => {
    const resume = resumeAt.get(s.id);
    resumeAt.delete(s.id);
    const from = resume !== undefined && resume.epoch === s.epoch ? resume.revision : 0;
    let initialized = false;
    let returned = false;
    let markLoaded!: () => void;
    const loaded = new Promise<void>((resolve) => (markLoaded = resolve));
    let watch: QueuedIterator<KvEntry>;
    try {
      watch = await kv.watch({
        key: dependencyKeyFilter(s.id),
        include: KvWatchInclude.AllHistory,
        ...(from > 0 && { resumeFromRevision: from + 1 }),
        // Called at once (before the watch is returned) when everything kept was already queued; otherwise in
        // order, after the last value kept was handed over.
        initializedFn: () => {
          initialized = true;
          if (returned) markLoaded();
        },
      });
    } catch (err) {
      throw unavailable(s.id, "the dependencies could not be watched", err);
    }
    returned = true;
    s.watch = watch;
    // Dropped or closed while the watch was being set up: it stops at once.
    if (s.ended !== undefined) watch.stop();
    // Called before the watch was returned: the values queued so far are the ones to apply first.
    const needed = initialized ? watch.getReceived() : Infinity;
    let handled = 0;
    let loadedNow = needed === 0;
    void (async () => {
      let failure: unknown;
      try {
        for await (const entry of watch) {
          if (s.ended !== undefined) break;
          s.queue.push(entry);
          drain(s);
          if (++handled >= needed) loadedNow = true;
          if (loadedNow) markLoaded();
        }
      } catch (err) {
        failure = err;
      }
      if (s.ended === undefined) {
        const error = unavailable(s.id, "the dependencies stopped being watched", failure ?? (nc.isClosed() ? "the connection closed" : "the watch ended"));
        const wasLoaded = s.loaded;
        unserve(s, error, true);
        if (wasLoaded) options.onError?.(error);
      }
      markLoaded();
    })();
    if (loadedNow) markLoaded();
    await loaded;
    if (s.ended !== undefined) throw s.ended;
    s.loaded = true;
  };

  return {
    bucket,
    replicaId,

    connect(v) {
      views = v;
    },

    serve(id) {
      if (closed) return Promise.reject(closedError(id));
      const loading = loads.get(id);
      if (loading !== undefined) return loading;
      let epoch: string;
      try {
        epoch = options.epochOf(id);
      } catch (err) {
        return Promise.reject(err);
      }
      const s = served.get(id);
      if (s?.loaded === true && s.epoch === epoch) return Promise.resolve();
      if (s !== undefined) unserve(s, coordinationDropped(id, "deleted", { epoch: s.epoch }));
      const fresh: Served = { id, epoch, watch: undefined, loaded: false, lastRevision: 0, ended: undefined, pending: new Map(), queue: [] };
      served.set(id, fresh);
      const run = load(fresh).then(
        () => {
          loads.delete(id);
        },
        (err: unknown) => {
          loads.delete(id);
          unserve(fresh, err instanceof ConsortError ? err : unavailable(id, "the dependencies could not be loaded", err), true);
          throw err;
        },
      );
      loads.set(id, run);
      return run;
    },

    isServed(id) {
      const s = served.get(id);
      if (s?.loaded !== true) return false;
      try {
        return options.epochOf(id) === s.epoch;
      } catch {
        return false;
      }
    },

    write(change: DependencyChange) {
      const id = change.coordinationId;
      const s = served.get(id);
      if (s === undefined || !s.loaded) return Promise.reject(closed ? closedError(id) : notServed(id));
      let key: string;
      try {
        key = dependencyKey(change);
      } catch (err) {
        return Promise.reject(new ConsortError("invalid", `an id of the change cannot be stored: ${String(err)}`, { reason: "FIELD_INVALID", metadata: { coordination_id: id } }));
      }
      const writeId = `${replicaId}:${nextWrite++}`;
      return new Promise<number>((resolve, reject) => {
        s.pending.set(writeId, { resolve, reject, change, revision: undefined });
        kv.put(key, encodeDependencyValue({ epoch: s.epoch, writeId, change })).then(
          (revision) => {
            const p = s.pending.get(writeId);
            if (p === undefined) return;
            p.revision = revision;
            drain(s);
          },
          (err: unknown) => {
            if (!s.pending.delete(writeId)) return;
            reject(unavailable(id, "the dependency change may not have been stored", err));
            drain(s);
          },
        );
      });
    },

    drop(id: string, reason: DropReason) {
      resumeAt.delete(id);
      const s = served.get(id);
      if (s !== undefined) unserve(s, coordinationDropped(id, reason, { epoch: s.epoch }));
    },

    async purge(id) {
      try {
        await jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${dependencyKeyFilter(id)}` });
      } catch (err) {
        throw unavailable(id, "the dependencies could not be purged", err);
      }
    },

    async close() {
      closed = true;
      for (const s of [...served.values()]) unserve(s, closedError(s.id));
      await Promise.resolve();
    },
  };
}
