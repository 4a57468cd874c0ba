import { connect, type NatsConnection } from "nats";
import { ConsortError } from "../../core/errors.js";
import { createCoordinationMetaStore } from "./coordination-meta.js";
import { createJetStreamContextBackend, type JetStreamContextBackend } from "./context-backend.js";
import { createJetStreamContextLog } from "./context-log.js";
import { createJetStreamSignalBackend, type JetStreamSignalBackend } from "./signal-backend.js";
import { createJetStreamSignalLog } from "./signal-log.js";

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
  /** Told when a served coordination's follower (signals or contexts) ends unasked (see the backends' `onError`). */
  readonly onError: (error: ConsortError) => void;
  /** Context documents kept per coordination: the context stream's `max_msgs_per_subject`. @default 64 */
  readonly contextHistoryLimit?: number;
  /** The context stream's name. @default "CONSORT_CONTEXTS" */
  readonly contextStreamName?: string;
}

/** One replica's signal backend on NATS JetStream and the connection it owns. */
export interface NatsSignals {
  readonly backend: JetStreamSignalBackend;
  /** The context engine's backend on the same connection, served with the signals (`context-backend.ts`). */
  readonly contexts: JetStreamContextBackend;
  /**
   * Resolves once `coordinationId` is served here — its signals, then its contexts (their epoch is the signals'
   * meta); `undefined` when both already are, so a served coordination's calls take no extra await. Every call
   * touching a coordination's signals or contexts goes through it first.
   */
  prepare(coordinationId: string): Promise<void> | undefined;
  /**
   * Like {@link prepare}, but for calls that must not bring a coordination into being (GetCoordination,
   * DeleteCoordination): serves it only when it exists here (`existsHere`) or on some replica (its meta exists);
   * otherwise resolves without serving, and the engine answers as for an unknown coordination.
   */
  prepareExisting(coordinationId: string, existsHere: boolean): Promise<void> | undefined;
  /** Stops the backend (its followers and meta watch), then drains the connection. */
  close(): Promise<void>;
}

/**
 * Connects to the NATS server at `url` and creates the signal log (file storage), the coordination meta, the
 * signal backend, the context log (file storage) and the context backend on that one connection. Rejects, the
 * connection closed, when the server is unreachable or JetStream refuses a stream or the bucket: the replica must
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
    const backend = createJetStreamSignalBackend({ log, meta, onError: options.onError });
    // Contexts: one document per change on their own stream, loaded in the same serve step (issue 12).
    const contextHistoryLimit = options.contextHistoryLimit ?? 64;
    const contextLog = await createJetStreamContextLog({
      connection: nc,
      storage: "file",
      historyLimit: contextHistoryLimit,
      ...(options.contextStreamName === undefined ? {} : { streamName: options.contextStreamName }),
    });
    const epochOf = (id: string) => {
      if (backend.epochOf === undefined) throw new Error("the signal backend keeps no epochs");
      return backend.epochOf(id);
    };
    const contexts = createJetStreamContextBackend({ log: contextLog, epochOf, fullStateEvery: contextHistoryLimit, onError: options.onError });
    const served = (id: string) => backend.isServed(id) && contexts.isServed(id);
    const serve = (id: string) => backend.serve(id).then(() => contexts.serve(id));
    return {
      backend,
      contexts,
      prepare: (coordinationId) => (served(coordinationId) ? undefined : serve(coordinationId)),
      prepareExisting(coordinationId, existsHere) {
        if (served(coordinationId)) return undefined;
        if (existsHere) return serve(coordinationId);
        return meta.get(coordinationId).then((r) => {
          if (!r.ok) throw new ConsortError("unavailable", `the meta of coordination ${JSON.stringify(coordinationId)} could not be read: ${r.message}`, { reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: coordinationId } });
          return r.meta === undefined ? undefined : serve(coordinationId);
        });
      },
      async close() {
        await contexts.close();
        await backend.close();
        await nc.drain();
      },
    };
  } catch (e) {
    await nc.close();
    throw new Error(`NATS JetStream at ${options.url} refused the signal stream, the context stream or the meta bucket: ${(e as Error).message}`, { cause: e });
  }
}
