import { randomUUID } from "node:crypto";
import { headers, type JetStreamClient, type KV, type KvEntry, type NatsConnection, StorageType } from "nats";
import { type CoordinationMeta, decodeMeta, type DropReason, encodeDrop, encodeMeta } from "./coordination-meta-record.js";
import { type CoordinationMetaHandler, type MetaWatch, type MetaWatchOptions, startMetaWatch } from "./coordination-meta-watch.js";
import { KvBucketMismatchError } from "./errors.js";
import { apiErrorCode, wrongLastSequenceCode } from "./signal-head.js";
import { kvSnapshot } from "./kv-snapshot.js";
import { coordinationOfToken, coordinationToken } from "./subject.js";

/**
 * Coordination meta in JetStream KV (DESIGN.md §8, issue 12): the shared record of each coordination that every
 * replica agrees on — its epoch and cleared-through — one key per coordination (the id escaped as its signal
 * subject's token, `subject.ts`), history 1.
 *
 * **One epoch per coordination.** `acquire` reads the meta, or begins an epoch with a write that succeeds only on
 * an absent (or deleted) key: of replicas racing on a new coordination one writes, the others are refused, read
 * the winner's meta and return it. `drop` deletes the meta (leaving a delete marker that says why), and the next
 * `acquire` begins a new epoch.
 *
 * **Cleared-through, never lowered.** `clear` raises it with an update checked against the revision it read:
 * refused when another write came in between, it reads again and retries, and writes nothing when the meta
 * already holds as much. Callers write it before purging the signal subject (a purge loses the subject's head), so
 * a replica that finds the subject empty numbers on from cleared-through; this store purges nothing itself.
 *
 * **Epochs guard late writes.** `clear` and `drop` take the epoch the caller acted in: a clear or drop that comes
 * after the coordination was dropped and begun again changes nothing (`epoch_changed`).
 *
 * **Hearing of changes.** `watch` follows the whole bucket with one ordered consumer from now on, or resumed after
 * a revision (see `coordination-meta-watch.ts`): DeleteCoordination on one replica ends the streams on all.
 *
 * **Reads through the stream's leader.** Reads use the JetStream API's message get, not direct get (which a
 * clustered bucket's followers may answer from behind): a replica that finds a purged signal subject must not read
 * a cleared-through older than the purge.
 *
 * No per-message TTL on nats-server 2.9.10: idle expiry is a sweeper's `drop(id, "expired")`, not a bucket TTL.
 */

/** Options of {@link createCoordinationMetaStore}. */
export interface CoordinationMetaStoreOptions {
  /** The connection to read, write and watch on (the caller owns it: the store never closes it). */
  readonly connection: NatsConnection;
  /** The KV bucket's name (its stream is `KV_<bucket>`). @default "CONSORT_COORDINATIONS" */
  readonly bucket?: string;
  /** Where the bucket keeps its entries; memory suits tests. @default "file" */
  readonly storage?: "file" | "memory";
  /**
   * Writes one call makes at most while other writers keep winning. A write is refused only because another one
   * to the same coordination succeeded, so each refusal is another replica's progress; more than a few in a row
   * means heavy contention on one coordination.
   * @default 50
   */
  readonly maxAttempts?: number;
  /** How long one request waits for the server. @default 5_000 */
  readonly timeoutMs?: number;
}

/** Options of {@link CoordinationMetaStore.clear} and {@link CoordinationMetaStore.drop}. */
export interface EpochGuard {
  /** Act only if the coordination is still in this epoch (`epoch_changed` otherwise). @default any epoch */
  readonly epoch?: string;
}

/**
 * Why a call changed nothing (or may have: `unavailable`):
 * - `unavailable`: the server did not answer (timeout, no responders, connection closed); a write may or may not
 *   have been made: call again (every call is safe to repeat).
 * - `conflict`: other writers won every one of `maxAttempts` writes; nothing was written by this call.
 * - `not_found`: `clear` of a coordination without meta (never acquired, or dropped).
 * - `epoch_changed`: the coordination is not (or no longer) in the epoch the call named.
 * - `invalid`: the stored value is not a meta Consort wrote; it is left as it is.
 * - `rejected`: a bad argument (an id that cannot be escaped, a sequence that is not a non-negative integer), or the
 *   server refused the write for another reason; see `message`.
 */
export type MetaFailureReason = "unavailable" | "conflict" | "not_found" | "epoch_changed" | "invalid" | "rejected";

/** A call that changed nothing (or may have: `unavailable`), with why. */
export interface MetaFailure {
  readonly ok: false;
  readonly reason: MetaFailureReason;
  /** A sentence for the log. */
  readonly message: string;
  /** Writes it attempted. */
  readonly attempts: number;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/** What {@link CoordinationMetaStore.get} returns. */
export type GetResult = { readonly ok: true; readonly meta: CoordinationMeta | undefined } | MetaFailure;

/** What {@link CoordinationMetaStore.acquire} returns: the meta, and whether this call began its epoch. */
export type AcquireResult = { readonly ok: true; readonly meta: CoordinationMeta; readonly created: boolean } | MetaFailure;

/** What {@link CoordinationMetaStore.clear} returns: the meta after it, and whether this call raised cleared-through. */
export type ClearResult = { readonly ok: true; readonly meta: CoordinationMeta; readonly raised: boolean } | MetaFailure;

/**
 * What {@link CoordinationMetaStore.drop} returns: whether this call deleted the meta (not when there was none),
 * and the epoch it ended.
 */
export type DropResult = { readonly ok: true; readonly dropped: boolean; readonly epoch: string | undefined } | MetaFailure;

/** The coordination meta of every replica, in one KV bucket. Its calls never reject: failures are a {@link MetaFailure}. */
export interface CoordinationMetaStore {
  /** The KV bucket's name. */
  readonly bucket: string;
  /** The coordination's meta, beginning its epoch (a new UUID, cleared-through 0) when it has none. */
  acquire(coordinationId: string): Promise<AcquireResult>;
  /** The coordination's meta as stored, `undefined` when it has none (never used, or dropped): nothing is created. */
  get(coordinationId: string): Promise<GetResult>;
  /** Raises cleared-through to `throughSequence` (never lowers it); call before purging the signal subject. */
  clear(coordinationId: string, throughSequence: number, guard?: EpochGuard): Promise<ClearResult>;
  /** Deletes the meta, saying why; every watcher hears a `dropped`, and the next `acquire` begins a new epoch. */
  drop(coordinationId: string, reason: DropReason, guard?: EpochGuard): Promise<DropResult>;
  /**
   * Every coordination's meta as stored now, read with one watch that stops once caught up (for sweeps, not for
   * calls' paths); a value that is not Consort's is left out. Rejects when the bucket cannot be read.
   */
  list(): AsyncIterable<CoordinationMeta>;
  /**
   * Calls `onChange` with every change to any coordination's meta, in order, from the moment the returned promise
   * resolves (or after `options.afterRevision`, to resume a watch that ended); stopping the watch releases its
   * consumer. Rejects only if the consumer cannot be set up (or for a bad `afterRevision`).
   */
  watch(onChange: CoordinationMetaHandler, options?: MetaWatchOptions): Promise<MetaWatch>;
}

/**
 * Opens the coordination meta bucket: creates it (history 1, no TTL), or checks that the one there has the same
 * history, storage and no TTL (every replica must agree: a mismatch throws {@link KvBucketMismatchError}).
 *
 * @example
 * const metas = await createCoordinationMetaStore({ connection: nc });
 * const r = await metas.acquire("review-42");
 * if (r.ok) console.log(r.meta.epoch, r.meta.clearedThrough);
 */
export async function createCoordinationMetaStore(options: CoordinationMetaStoreOptions): Promise<CoordinationMetaStore> {
  const bucket = options.bucket ?? "CONSORT_COORDINATIONS";
  const storage = options.storage === "memory" ? StorageType.Memory : StorageType.File;
  const maxAttempts = options.maxAttempts ?? 50;
  const timeoutMs = options.timeoutMs ?? 5_000;
  if (!/^[A-Za-z0-9_-]+$/.test(bucket)) throw new RangeError(`bucket must be of [A-Za-z0-9_-], got ${JSON.stringify(bucket)}`);
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`timeoutMs must be a positive integer, got ${timeoutMs}`);

  const nc = options.connection;
  const js: JetStreamClient = nc.jetstream({ timeout: timeoutMs });
  const kv: KV = await js.views.kv(bucket, { history: 1, storage, timeout: timeoutMs, allow_direct: false });
  const status = await kv.status();
  const differences = [
    status.history === 1 ? undefined : `history ${status.history}, not 1`,
    status.storage === storage ? undefined : `storage ${status.storage}, not ${storage}`,
    status.ttl === 0 ? undefined : `ttl ${status.ttl} ms, not none`,
  ].filter((d): d is string => d !== undefined);
  if (differences.length > 0) throw new KvBucketMismatchError(bucket, differences);

  // A clear or drop guarded by an epoch that is no longer the coordination's.
  const epochChanged = (id: string, current: string, expected: string, attempts: number): MetaFailure =>
    failure("epoch_changed", `coordination ${JSON.stringify(id)} is in epoch ${current}, not ${expected}`, attempts);
  const failure = (reason: MetaFailureReason, message: string, attempts: number, cause?: unknown): MetaFailure =>
    cause === undefined ? { ok: false, reason, message, attempts } : { ok: false, reason, message, attempts, cause };
  /** A failed request: refused by the server (`rejected`), or unanswered (`unavailable`). */
  const failed = (what: string, err: unknown, attempts: number) =>
    failure(apiErrorCode(err) === undefined ? "unavailable" : "rejected", `${what} failed: ${String(err)}`, attempts, err);
  const isConflict = (err: unknown) => apiErrorCode(err) === wrongLastSequenceCode;

  type Read = { readonly entry: KvEntry | null; readonly meta: CoordinationMeta | undefined } | MetaFailure;
  /** The key's last entry, and the meta it holds (`undefined` when absent or deleted). */
  const read = async (id: string, key: string, attempts: number): Promise<Read> => {
    let entry: KvEntry | null;
    try {
      entry = await kv.get(key);
    } catch (err) {
      return failed(`reading the meta of ${JSON.stringify(id)}`, err, attempts);
    }
    if (entry === null || entry.operation !== "PUT") return { entry, meta: undefined };
    const decoded = decodeMeta(id, entry.revision, entry.value);
    if (typeof decoded === "string") return failure("invalid", `the meta of ${JSON.stringify(id)} (revision ${entry.revision}) is not Consort's: ${decoded}`, attempts);
    return { entry, meta: decoded.meta };
  };
  /** The coordination's key, or a `rejected` failure for an id that cannot be escaped. */
  const keyOf = (id: string): string | MetaFailure => {
    try {
      return coordinationToken(id);
    } catch (err) {
      return failure("rejected", String(err), 0, err);
    }
  };

  return {
    bucket,

    async get(id) {
      const key = keyOf(id);
      if (typeof key !== "string") return key;
      const r = await read(id, key, 0);
      return "ok" in r ? r : { ok: true, meta: r.meta };
    },

    async acquire(id) {
      const key = keyOf(id);
      if (typeof key !== "string") return key;
      for (let attempt = 0; ; ) {
        const r = await read(id, key, attempt);
        if ("ok" in r) return r;
        if (r.meta !== undefined) return { ok: true, meta: r.meta, created: false };
        if (attempt >= maxAttempts) return failure("conflict", `the meta of ${JSON.stringify(id)} was created and dropped ${attempt} times while acquiring it`, attempt);
        attempt++;
        const fresh = { epoch: randomUUID(), clearedThrough: 0, createdAt: Date.now() };
        try {
          // Absent: only if still absent. Deleted: only if still the delete marker read (kv.create would read it again).
          const revision = r.entry === null ? await kv.create(key, encodeMeta(fresh, "created")) : await kv.update(key, encodeMeta(fresh, "created"), r.entry.revision);
          return { ok: true, meta: { coordinationId: id, ...fresh, revision }, created: true };
        } catch (err) {
          // Another replica began the epoch first: read theirs.
          if (!isConflict(err)) return failed(`creating the meta of ${JSON.stringify(id)}`, err, attempt);
        }
      }
    },

    async clear(id, through, guard = {}) {
      if (!Number.isSafeInteger(through) || through < 0) return failure("rejected", `throughSequence must be a non-negative integer, got ${through}`, 0);
      const key = keyOf(id);
      if (typeof key !== "string") return key;
      for (let attempt = 0; ; ) {
        const r = await read(id, key, attempt);
        if ("ok" in r) return r;
        const meta = r.meta;
        if (meta === undefined || r.entry === null) return failure("not_found", `coordination ${JSON.stringify(id)} has no meta`, attempt);
        if (guard.epoch !== undefined && meta.epoch !== guard.epoch) return epochChanged(id, meta.epoch, guard.epoch, attempt);
        if (meta.clearedThrough >= through) return { ok: true, meta, raised: false };
        if (attempt >= maxAttempts) return failure("conflict", `other writers won ${attempt} updates of the meta of ${JSON.stringify(id)}`, attempt);
        attempt++;
        const raised = { epoch: meta.epoch, clearedThrough: through, createdAt: meta.createdAt };
        try {
          const revision = await kv.update(key, encodeMeta(raised, "changed"), meta.revision);
          return { ok: true, meta: { coordinationId: id, ...raised, revision }, raised: true };
        } catch (err) {
          if (!isConflict(err)) return failed(`raising cleared-through of ${JSON.stringify(id)}`, err, attempt);
        }
      }
    },

    async drop(id, reason, guard = {}) {
      const key = keyOf(id);
      if (typeof key !== "string") return key;
      for (let attempt = 0; ; ) {
        const r = await read(id, key, attempt);
        if ("ok" in r) return r;
        const meta = r.meta;
        if (meta === undefined) return { ok: true, dropped: false, epoch: undefined };
        if (guard.epoch !== undefined && meta.epoch !== guard.epoch) return epochChanged(id, meta.epoch, guard.epoch, attempt);
        if (attempt >= maxAttempts) return failure("conflict", `other writers won ${attempt} deletes of the meta of ${JSON.stringify(id)}`, attempt);
        attempt++;
        // KV's delete marker (the `KV-Operation: DEL` header, as kv.delete writes it) with a body saying why, so
        // watchers can tell DeleteCoordination from expiry; checked against the revision read, so a clear that
        // came in between is read again, and a new epoch begun in between is not dropped by a guarded call.
        const h = headers();
        h.set("KV-Operation", "DEL");
        try {
          await js.publish(`$KV.${bucket}.${key}`, encodeDrop(reason, meta.epoch), { headers: h, expect: { lastSubjectSequence: meta.revision } });
          return { ok: true, dropped: true, epoch: meta.epoch };
        } catch (err) {
          if (!isConflict(err)) return failed(`deleting the meta of ${JSON.stringify(id)}`, err, attempt);
        }
      }
    },

    async *list() {
      for (const entry of await kvSnapshot(kv)) {
        const id = coordinationOfToken(entry.key);
        if (id === undefined) continue;
        const decoded = decodeMeta(id, entry.revision, entry.value);
        if (typeof decoded !== "string") yield decoded.meta;
      }
    },

    watch: (onChange, watchOptions) => startMetaWatch(nc, kv, onChange, watchOptions),
  };
}
