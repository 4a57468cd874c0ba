import { type JetStreamClient, type KV, type KvEntry, type NatsConnection, StorageType } from "nats";
import { ConsortError } from "../../core/errors.js";
import type { PolicyBackend, PolicyRecord } from "../../core/routing/policy-backend.js";
import { apiErrorCode, wrongLastSequenceCode } from "./signal-head.js";
import { coordinationToken } from "./subject.js";

/**
 * Routing policies shared by every replica (DESIGN.md §8, issue 12): one JetStream KV bucket
 * (`CONSORT_ROUTING_POLICIES`, 64 values kept per key) holds each policy as a JSON {@link PolicyRecord} under its escaped id
 * (`subject.ts`). Every replica watches the whole bucket from the start (`start` resolves once the stored
 * policies are applied, before the server listens) and applies each write to its routing engine in the bucket's
 * one order, its own included:
 *
 * - **Put.** Revision-checked: created with `create` when this replica knows no policy of that id, else updated
 *   against the revision it applied, keeping the existing `createdAt`. A write another replica made first is
 *   waited for (read, then applied here) and the put made again on top of it: the last writer wins, as in memory,
 *   and `created` is true for exactly one of two racing creates. Resolves once the watch applied it here.
 * - **Delete.** Unconditional (deleting what is there is the intent); resolves once this replica applied a delete
 *   of that id, with the history records it dropped here.
 * - **Per replica still:** routing histories and stats (each replica's own decisions). The policy limit is
 *   checked against the policies this replica has applied, so racing creates may pass it by a few.
 * - A record that does not validate (written by another version) is skipped and reported to `onError`.
 * - A record larger than the server's `max_payload` allows (less 4 KiB for headers) is refused `exhausted`
 *   POLICY_TOO_LARGE before it is sent.
 */

/** Options of {@link startSharedPolicies}. */
export interface SharedPoliciesOptions {
  /** The connection (the caller owns it). */
  readonly connection: NatsConnection;
  /** The engine the policies are applied to. */
  readonly target: { applyPolicy(record: PolicyRecord): void; applyDelete(policyId: string): number };
  /** @default "CONSORT_ROUTING_POLICIES" */
  readonly bucket?: string;
  /** @default "file" */
  readonly storage?: "file" | "memory";
  /** How long one request waits for the server. @default 5_000 */
  readonly timeoutMs?: number;
  /** Writes one put makes at most while other replicas keep winning. @default 20 */
  readonly maxAttempts?: number;
  /** Told of a record that could not be applied. @default none */
  readonly onError?: (error: unknown) => void;
}

/** The shared policies of one replica: its engine's {@link PolicyBackend}. */
export interface SharedPolicies extends PolicyBackend {
  /** Stops the watch; pending puts and deletes fail `unavailable`. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const unavailable = (policyId: string, what: string, cause: unknown) =>
  new ConsortError("unavailable", `routing policy ${JSON.stringify(policyId)} could not be ${what}: ${String(cause)}`, {
    reason: "BACKEND_UNAVAILABLE",
    metadata: { policy_id: policyId },
    cause,
  });

/**
 * Creates (or opens) the bucket, starts the watch and resolves once every stored policy is applied to `target`.
 * Rejects when JetStream cannot be reached.
 */
export async function startSharedPolicies(options: SharedPoliciesOptions): Promise<SharedPolicies> {
  const { target } = options;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? 20;
  const storage = options.storage === "memory" ? StorageType.Memory : StorageType.File;
  const js: JetStreamClient = options.connection.jetstream({ timeout: timeoutMs });
  // 64 values kept per key (JetStream's most): with one, a write replaced before the watch delivered it is never
  // seen (a delete followed at once by a put would leave its DeleteRoutingPolicy waiting).
  const kv: KV = await js.views.kv(options.bucket ?? "CONSORT_ROUTING_POLICIES", { history: 64, storage, timeout: timeoutMs, allow_direct: false });

  // Measured in the bytes sent: the record as stored must fit the server's max_payload, with room for headers.
  const maxRecordBytes = (options.connection.info?.max_payload ?? 1024 * 1024) - 4 * 1024;
  /** Key → the last record applied here and its revision (deleted keys leave). */
  const applied = new Map<string, { readonly record: PolicyRecord; readonly revision: number }>();
  /** The newest revision the watch applied. */
  let head = 0;
  /** Waiters for a revision to be applied, and for a key's next delete. */
  const revisionWaiters = new Set<{ readonly revision: number; readonly done: () => void }>();
  const deleteWaiters = new Map<string, ((dropped: number) => void)[]>();
  let closedWith: ConsortError | undefined;
  const failAll = new Set<(error: ConsortError) => void>();

  const onEntry = (e: KvEntry) => {
    head = Math.max(head, e.revision);
    if (e.operation === "PUT") {
      try {
        const record = JSON.parse(decoder.decode(e.value)) as PolicyRecord;
        target.applyPolicy(record);
        applied.set(e.key, { record, revision: e.revision });
      } catch (err) {
        options.onError?.(new Error(`routing policy record ${e.key} (revision ${e.revision}) could not be applied: ${String(err)}`, { cause: err }));
      }
    } else {
      const was = applied.get(e.key);
      applied.delete(e.key);
      const dropped = was === undefined ? 0 : target.applyDelete(was.record.policyId);
      const waiting = deleteWaiters.get(e.key);
      deleteWaiters.delete(e.key);
      for (const w of waiting ?? []) w(dropped);
    }
    for (const w of revisionWaiters) {
      if (w.revision > head) continue;
      revisionWaiters.delete(w);
      w.done();
    }
  };

  let ready!: () => void;
  const initialized = new Promise<void>((resolve) => (ready = resolve));
  const watch = await kv.watch({ key: ">", initializedFn: () => ready() });
  const watching = (async () => {
    for await (const e of watch) onEntry(e);
  })();
  await initialized;

  /** Resolves once the watch has applied `revision` (or rejects when closed). */
  const appliedUpTo = (revision: number, policyId: string): Promise<void> => {
    if (head >= revision) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = { revision, done: () => (failAll.delete(fail), resolve()) };
      const fail = (error: ConsortError) => (revisionWaiters.delete(w), reject(error));
      if (closedWith !== undefined) return reject(closedWith);
      revisionWaiters.add(w);
      failAll.add(fail);
    }).catch((err: unknown) => {
      throw err instanceof ConsortError ? err : unavailable(policyId, "applied", err);
    });
  };

  return {
    async put(record) {
      const key = coordinationToken(record.policyId);
      for (let attempt = 1; ; attempt++) {
        if (closedWith !== undefined) throw closedWith;
        const known = applied.get(key);
        const value = encoder.encode(JSON.stringify({ ...record, createdAt: known?.record.createdAt ?? record.createdAt } satisfies PolicyRecord));
        if (value.length > maxRecordBytes) {
          throw new ConsortError("exhausted", `policy ${JSON.stringify(record.policyId)} takes ${value.length} bytes as stored, over the ${maxRecordBytes} bytes the NATS server's max_payload leaves for one`, {
            reason: "POLICY_TOO_LARGE",
            metadata: { policy_id: record.policyId, size_bytes: String(value.length), limit_bytes: String(maxRecordBytes) },
          });
        }
        let revision: number;
        try {
          revision = known === undefined ? await kv.create(key, value) : await kv.update(key, value, known.revision);
        } catch (err) {
          // Another replica wrote first (create: the key exists; update: a newer revision): apply it, then again.
          const lost = apiErrorCode(err) === wrongLastSequenceCode || (known === undefined && /exists/i.test(String(err)));
          if (!lost) throw unavailable(record.policyId, "stored", err);
          if (attempt >= maxAttempts) {
            throw new ConsortError("aborted", `routing policy ${JSON.stringify(record.policyId)} was written by other replicas ${attempt} times in a row; put it again`, {
              reason: "POLICY_CONFLICT",
              metadata: { policy_id: record.policyId, attempts: String(attempt) },
            });
          }
          let newest: KvEntry | null;
          try {
            newest = await kv.get(key);
          } catch (e) {
            throw unavailable(record.policyId, "read", e);
          }
          if (newest !== null) await appliedUpTo(newest.revision, record.policyId);
          continue;
        }
        await appliedUpTo(revision, record.policyId);
        return { created: known === undefined };
      }
    },

    async delete(policyId) {
      const key = coordinationToken(policyId);
      if (closedWith !== undefined) throw closedWith;
      let fail!: (error: ConsortError) => void;
      let done!: (dropped: number) => void;
      const heard = new Promise<number>((resolve, reject) => {
        fail = (error: ConsortError) => reject(error);
        done = (dropped) => (failAll.delete(fail), resolve(dropped));
        const list = deleteWaiters.get(key) ?? [];
        list.push(done);
        deleteWaiters.set(key, list);
        failAll.add(fail);
      });
      heard.catch(() => undefined); // awaited below only once the delete was written
      try {
        await kv.delete(key);
      } catch (err) {
        // Nothing will be heard of this delete: its waiter goes (a later close would reject it unawaited).
        failAll.delete(fail);
        const list = deleteWaiters.get(key)?.filter((w) => w !== done);
        if (list === undefined || list.length === 0) deleteWaiters.delete(key);
        else deleteWaiters.set(key, list);
        throw unavailable(policyId, "deleted", err);
      }
      return heard;
    },

    async close() {
      closedWith ??= new ConsortError("unavailable", "this replica stopped watching the shared routing policies (shutting down)", { reason: "SHUTTING_DOWN" });
      for (const f of failAll) f(closedWith);
      failAll.clear();
      deleteWaiters.clear();
      watch.stop();
      await watching.catch(() => undefined);
    },
  };
}
