import { connect, type NatsConnection } from "nats";
import { ConsortError } from "../../core/errors.js";
import { createCoordinationMetaStore } from "./coordination-meta.js";
import { createJetStreamContextBackend, type JetStreamContextBackend } from "./context-backend.js";
import { createJetStreamContextLog, type JetStreamContextLog } from "./context-log.js";
import { createJetStreamDependencyBackend, type JetStreamDependencyBackend } from "./dependency-backend.js";
import { createJetStreamSignalBackend, type JetStreamSignalBackend } from "./signal-backend.js";
import { createJetStreamSignalLog } from "./signal-log.js";
import { startIdleSweeper, type IdleSweeper } from "./idle-sweeper.js";
import type { Store } from "../../core/store.js";

/** Options of {@link startNatsSignals}. */
export interface NatsSignalsOptions {
  /** The server, `nats://host:port`. */
  readonly url: string;
  /** Signals kept per coordination: the stream's `max_msgs_per_subject`. */
  readonly historyLimit: number;
  /** How long connecting may take before startup fails. @default 5_000 */
  readonly connectTimeoutMs?: number;
  /** The stream's name. @default "CONSORT_SIGNALS" */
  readonly streamName?: string;
  /** The subjects' prefix. @default "consort.sig" */
  readonly subjectPrefix?: string;
  /** The meta bucket's name. @default "CONSORT_COORDINATIONS" */
  readonly bucket?: string;
  /** The dependency bucket's name. @default "CONSORT_DEPENDENCIES" */
  readonly dependencyBucket?: string;
  /** Told when a served coordination's follower (signals or contexts) ends unasked (see the backends' `onError`). */
  readonly onError: (error: ConsortError) => void;
  /** Context documents kept per coordination: the context stream's `max_msgs_per_subject`. @default 64 */
  readonly contextHistoryLimit?: number;
  /** The context stream's name. @default "CONSORT_CONTEXTS" */
  readonly contextStreamName?: string;
  /**
   * Idle expiry across replicas (`idle-sweeper.ts`): this replica's store, the idle TTL, and whom to tell of a
   * sweep's expiries and failures. Unset: no sweeper (a coordination then expires only per replica). @default none
   */
  readonly idle?: {
    readonly store: Store;
    readonly idleTtlMs: number;
    readonly onExpired?: (coordinationIds: readonly string[]) => void;
    readonly onError?: (error: unknown) => void;
  };
}

/** One replica's signal and dependency backends on NATS JetStream and the connection they share. */
export interface NatsSignals {
  readonly backend: JetStreamSignalBackend;
  /** The replica's one NATS connection: the other shared state (routing policies, …) is kept on it too. */
  readonly connection: NatsConnection;
  /** The dependency engine's backend (gate scores, resources, wait records in JetStream KV), on the same connection. */
  readonly dependencies: JetStreamDependencyBackend;
  /** The context engine's backend on the same connection, served with the signals (`context-backend.ts`). */
  readonly contexts: JetStreamContextBackend;
  /**
   * Resolves once `coordinationId` is served here — its signals, then its dependencies and contexts (their epoch is
   * the signals' meta); `undefined` when all three already are, so a served coordination's calls take no extra
   * await. Every call touching a coordination goes through it first.
   */
  prepare(coordinationId: string): Promise<void> | undefined;
  /**
   * Like {@link prepare}, but for calls that must not bring a coordination into being (GetCoordination,
   * DeleteCoordination): serves it only when it exists here (`existsHere`) or on some replica (its meta exists);
   * otherwise resolves without serving, and the engine answers as for an unknown coordination.
   */
  prepareExisting(coordinationId: string, existsHere: boolean): Promise<void> | undefined;
  /** The idle sweeper, when `idle` was given. */
  readonly sweeper: IdleSweeper | undefined;
  /** Stops the sweeper and the backends (followers, meta watch, dependency watches), then drains the connection. */
  close(): Promise<void>;
}

/**
 * Connects to the NATS server at `url` and creates the signal log (file storage), the coordination meta, the
 * signal backend, the dependency backend (its KV bucket, file storage), the context log (file storage) and the
 * context backend on that one connection. Rejects, the connection closed, when the server is unreachable or
 * JetStream refuses a stream or a bucket: the replica must
 * not start half-shared.
 */
export async function startNatsSignals(options: NatsSignalsOptions): Promise<NatsSignals> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: options.url, timeout: options.connectTimeoutMs ?? 5_000, maxReconnectAttempts: -1 });
  } catch (e) {
    throw new Error(`cannot connect to NATS at ${options.url}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const log = await createJetStreamSignalLog({
      connection: nc,
      storage: "file",
      historyLimit: options.historyLimit,
      ...(options.streamName === undefined ? {} : { streamName: options.streamName }),
      ...(options.subjectPrefix === undefined ? {} : { subjectPrefix: options.subjectPrefix }),
    });
    const meta = await createCoordinationMetaStore({ connection: nc, storage: "file", ...(options.bucket === undefined ? {} : { bucket: options.bucket }) });
    // The dependency backend reads the signal backend's epochs; the signal backend purges its keys and the context
    // documents on a delete and on an expiry everywhere (the id begun again in a new epoch must find none left:
    // the documents of an older epoch would keep its contexts from loading, and its revisions from starting at 1).
    let dependencies: JetStreamDependencyBackend | undefined;
    let contextLog: JetStreamContextLog | undefined;
    const purgeContexts = (id: string) =>
      (contextLog?.purgeAll(id) ?? Promise.resolve()).catch((err: unknown) => {
        throw new ConsortError("unavailable", `the contexts of coordination ${JSON.stringify(id)} could not be purged: ${String(err)}`, { reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: id }, cause: err });
      });
    const backend = createJetStreamSignalBackend({
      log,
      meta,
      onError: options.onError,
      onDeleting: (id) => Promise.all([dependencies?.purge(id), purgeContexts(id)]).then(() => undefined),
    });
    dependencies = await createJetStreamDependencyBackend({
      connection: nc,
      storage: "file",
      epochOf: (id) => backend.epochOf(id),
      onError: options.onError,
      ...(options.dependencyBucket === undefined ? {} : { bucket: options.dependencyBucket }),
    });
    const deps = dependencies;
    // Contexts: one document per change on their own stream, loaded in the same serve step (issue 12).
    const contextHistoryLimit = options.contextHistoryLimit ?? 64;
    contextLog = await createJetStreamContextLog({
      connection: nc,
      storage: "file",
      historyLimit: contextHistoryLimit,
      ...(options.contextStreamName === undefined ? {} : { streamName: options.contextStreamName }),
    });
    const contexts = createJetStreamContextBackend({ log: contextLog, epochOf: (id) => backend.epochOf(id), fullStateEvery: contextHistoryLimit, onError: options.onError });
    const served = (id: string) => backend.isServed(id) && deps.isServed(id) && contexts.isServed(id);
    // Signals first: the dependency values and context documents carry the epoch the signal backend serves.
    let sweeper: IdleSweeper | undefined;
    const serve = (id: string) =>
      backend
        .serve(id)
        .then(() => Promise.all([deps.serve(id), contexts.serve(id)]))
        .then(() => sweeper?.served(id));
    const idle = options.idle;
    sweeper =
      idle === undefined
        ? undefined
        : await startIdleSweeper({
            connection: nc,
            expire: (id, epoch) => backend.expire(id, epoch),
            metas: () => meta.list(),
            store: idle.store,
            idleTtlMs: idle.idleTtlMs,
            servedEpoch: (id) => (backend.isServed(id) ? backend.epochOf(id) : undefined),
            ...(idle.onExpired !== undefined && { onExpired: idle.onExpired }),
            ...(idle.onError !== undefined && { onError: idle.onError }),
          });
    return {
      backend,
      connection: nc,
      dependencies: deps,
      contexts,
      sweeper,
      prepare: (coordinationId) => (served(coordinationId) ? undefined : serve(coordinationId)),
      prepareExisting(coordinationId, existsHere) {
        if (served(coordinationId)) return undefined;
        if (existsHere) return serve(coordinationId);
        const read = () =>
          meta.get(coordinationId).then((r) => {
            if (!r.ok) throw new ConsortError("unavailable", `the meta of coordination ${JSON.stringify(coordinationId)} could not be read: ${r.message}`, { reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: coordinationId } });
            return r.meta === undefined ? undefined : serve(coordinationId);
          });
        // A DeleteCoordination made here deletes the meta after it answered: read it only once that is done, or a
        // GetCoordination right after would find the meta being deleted and begin the coordination again.
        const dropping = backend.dropping(coordinationId);
        return dropping === undefined ? read() : dropping.then(read);
      },
      async close() {
        await sweeper?.close();
        await Promise.all([backend.close(), deps.close(), contexts.close()]);
        await nc.drain();
      },
    };
  } catch (e) {
    await nc.close();
    throw new Error(`NATS JetStream at ${options.url} refused the signal stream, the context stream, the meta bucket or the dependency bucket: ${(e as Error).message}`, { cause: e });
  }
}
