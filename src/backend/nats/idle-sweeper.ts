import { randomUUID } from "node:crypto";
import { type JetStreamClient, type KV, type KvEntry, type NatsConnection, StorageType } from "nats";
import type { Store } from "../../core/store.js";
import { kvSnapshot } from "./kv-snapshot.js";
import { coordinationOfToken, coordinationToken } from "./subject.js";

/**
 * Idle expiry across replicas (DESIGN.md §8, issue 12). One replica's store sees only its own calls, so on a
 * shared backend its idle sweep only stops serving a coordination there; a coordination leaves every replica when
 * no replica has used it for the idle TTL. nats-server 2.9.10 has no per-message TTL, so that is decided by one
 * sweeper at a time, holding a lease, from activity every replica reports:
 *
 * - **Activity.** Every `intervalMs`, each replica puts `a.<token>` = `{epoch}` into the activity bucket for each
 *   coordination it serves that was used since its last report, or that has open streams or waits (pins): the
 *   entry's server timestamp is the coordination's last known use. One put per active coordination per interval,
 *   whatever the call rate.
 * - **Lease.** The key `lease` holds `{holder, until}`; a replica takes it when it is missing or expired and renews
 *   it while it holds it, every write revision-checked, so two replicas never both hold it. It lasts three
 *   intervals: a holder that dies is replaced within that.
 * - **Sweep.** The holder expires each coordination whose last report is older than the TTL plus one interval (a
 *   use made just before the report was due is thus never missed), as a delete does: its subject purged, its meta
 *   dropped with reason `expired` guarded by the reported epoch (a coordination deleted and begun again since is
 *   left alone), purged again; then it deletes the report. Every replica hears the meta's drop and drops the coordination from its store, reason
 *   `expired` (its streams end NOT_FOUND COORDINATION_EXPIRED, as in memory).
 *
 * A coordination whose meta was begun by a replica that died before its first report has no activity entry: the
 * holder expires it once its epoch is older than the TTL plus one interval (`metas`).
 *
 * Timestamps are the NATS server's (the activity entries') against the holder's clock: replicas' clocks must agree
 * with the server's within a fraction of the TTL (NTP). A coordination used on a replica at the instant the holder
 * drops it is dropped all the same: it had been idle everywhere for longer than the TTL just before.
 */

/** Options of {@link startIdleSweeper}. */
export interface IdleSweeperOptions {
  /** The connection (the caller owns it). */
  readonly connection: NatsConnection;
  /**
   * Expires a coordination everywhere if it is still in `epoch` (the signal backend's `expire`: purge, meta drop
   * with reason `expired`, purge); resolves whether it did.
   */
  readonly expire: (coordinationId: string, epoch: string) => Promise<boolean>;
  /**
   * Every coordination's meta (the meta store's `list`): a coordination begun by a replica that died before its
   * first report has no activity entry, and is expired once its epoch is older than the TTL plus one interval.
   * @default none (such coordinations stay until used again)
   */
  readonly metas?: () => AsyncIterable<{ readonly coordinationId: string; readonly epoch: string; readonly createdAt: number }>;
  /** This replica's store: where its activity is read. */
  readonly store: Store;
  /** The epoch this replica serves a coordination in; `undefined` when it does not serve it. */
  readonly servedEpoch: (coordinationId: string) => string | undefined;
  /** A coordination unused everywhere for this long is dropped everywhere. */
  readonly idleTtlMs: number;
  /** How often activity is reported and the lease renewed. @default min(idleTtlMs / 4, 60_000) */
  readonly intervalMs?: number;
  /** The activity bucket. @default "CONSORT_ACTIVITY" */
  readonly bucket?: string;
  /** @default "file" */
  readonly storage?: "file" | "memory";
  /** This replica's name in the lease. @default a random UUID */
  readonly replicaId?: string;
  /** Told of a tick that failed (NATS unreachable): the next tick tries again. @default none */
  readonly onError?: (error: unknown) => void;
  /** Told of the coordinations a sweep expired. @default none */
  readonly onExpired?: (coordinationIds: readonly string[]) => void;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** A running sweeper. */
export interface IdleSweeper {
  /** Whether this replica held the lease at its last tick. */
  readonly holdsLease: boolean;
  /**
   * Told that the coordination was just served here (loaded into the store, which marks it active): that is not a
   * use, so only activity after it is reported. A coordination served for a read (GetCoordination) thus does not
   * keep itself alive.
   */
  served(coordinationId: string): void;
  /** One tick now (report, lease, sweep if held); ticks never overlap. Resolves with the coordinations it expired. */
  tick(): Promise<readonly string[]>;
  /** Stops ticking and gives the lease up if held. */
  close(): Promise<void>;
}

interface Lease {
  readonly holder: string;
  readonly until: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const json = (o: unknown) => encoder.encode(JSON.stringify(o));
const parsed = (e: KvEntry): unknown => {
  try {
    return JSON.parse(decoder.decode(e.value)) as unknown;
  } catch {
    return undefined;
  }
};

/** Creates the activity bucket and starts ticking every `intervalMs` (timers unref'd). */
export async function startIdleSweeper(options: IdleSweeperOptions): Promise<IdleSweeper> {
  const { store, expire, servedEpoch, idleTtlMs } = options;
  const intervalMs = options.intervalMs ?? Math.min(Math.floor(idleTtlMs / 4), 60_000);
  const now = options.now ?? Date.now;
  const replicaId = options.replicaId ?? randomUUID();
  const storage = options.storage === "memory" ? StorageType.Memory : StorageType.File;
  const js: JetStreamClient = options.connection.jetstream();
  const kv: KV = await js.views.kv(options.bucket ?? "CONSORT_ACTIVITY", { history: 1, storage, allow_direct: false });

  /** Coordination → its last activity this replica reported. */
  const reported = new Map<string, number>();
  let holds = false;
  let running: Promise<readonly string[]> | undefined;
  let closed = false;

  const report = async () => {
    const puts: Promise<unknown>[] = [];
    const seen = new Set<string>();
    for (const c of store.all()) {
      const epoch = servedEpoch(c.id);
      if (epoch === undefined) continue;
      seen.add(c.id);
      const last = reported.get(c.id);
      if (c.pins === 0 && last !== undefined && c.lastActivity <= last) continue;
      reported.set(c.id, c.lastActivity);
      puts.push(kv.put(`a.${coordinationToken(c.id)}`, json({ epoch })));
    }
    for (const id of reported.keys()) if (!seen.has(id)) reported.delete(id);
    await Promise.all(puts);
  };

  /** Takes or renews the lease; false when another replica holds it (or the write lost a race). */
  const lease = async (): Promise<boolean> => {
    const entry = await kv.get("lease");
    const value = json({ holder: replicaId, until: now() + 3 * intervalMs } satisfies Lease);
    const current = entry !== null && entry.operation === "PUT" ? (parsed(entry) as Partial<Lease> | undefined) : undefined;
    try {
      if (entry === null) await kv.create("lease", value);
      else if (current?.holder === replicaId || !(typeof current?.until === "number" && current.until > now())) await kv.update("lease", value, entry.revision);
      else return false;
      return true;
    } catch {
      return false; // another replica wrote it first
    }
  };

  const sweep = async (): Promise<string[]> => {
    const expired: string[] = [];
    const cutoff = now() - idleTtlMs - intervalMs;
    const reportedIds = new Set<string>();
    for (const entry of await kvSnapshot(kv, "a.>")) {
      const id = coordinationOfToken(entry.key.slice(2));
      if (id === undefined) continue;
      reportedIds.add(id);
      if (entry.created.getTime() >= cutoff) continue;
      const epoch = (parsed(entry) as { epoch?: unknown } | undefined)?.epoch;
      if (typeof epoch === "string" && (await expire(id, epoch))) expired.push(id);
      // Only the report read: one written since (a use after all) stays.
      await kv.delete(entry.key, { previousSeq: entry.revision }).catch(() => undefined);
    }
    // Never reported: begun by a replica that died within its first interval.
    for await (const m of options.metas?.() ?? []) {
      if (reportedIds.has(m.coordinationId) || m.createdAt >= cutoff) continue;
      if (await expire(m.coordinationId, m.epoch)) expired.push(m.coordinationId);
    }
    return expired;
  };

  const tick = (): Promise<readonly string[]> => {
    running ??= (async () => {
      try {
        await report();
        holds = await lease();
        const expired = holds ? await sweep() : [];
        if (expired.length > 0) options.onExpired?.(expired);
        return expired;
      } catch (err) {
        options.onError?.(err);
        return [];
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const timer = setInterval(() => {
    if (!closed) void tick();
  }, intervalMs);
  timer.unref();

  return {
    get holdsLease() {
      return holds;
    },
    served(id) {
      const c = store.peek(id);
      if (c !== undefined && !reported.has(id)) reported.set(id, c.lastActivity);
    },
    tick,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
      if (!holds) return;
      const entry = await kv.get("lease").catch(() => null);
      if (entry !== null && (parsed(entry) as Partial<Lease> | undefined)?.holder === replicaId) await kv.delete("lease", { previousSeq: entry.revision }).catch(() => undefined);
    },
  };
}
