import { connect, type NatsConnection } from "nats";
import { ConsortError } from "../../core/errors.js";
import { createCoordinationMetaStore } from "./coordination-meta.js";
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
  /** Told when a served coordination's follower ends unasked (see the backend's `onError`). */
  readonly onError: (error: ConsortError) => void;
}

/** One replica's signal backend on NATS JetStream and the connection it owns. */
export interface NatsSignals {
  readonly backend: JetStreamSignalBackend;
  /**
   * Resolves once `coordinationId` is served here; `undefined` when it already is, so a served coordination's
   * calls take no extra await. Every call touching a coordination's signals goes through it first.
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
 * Connects to the NATS server at `url` and creates the signal log (file storage), the coordination meta and the
 * signal backend on that one connection. Rejects, the connection closed, when the server is unreachable or
 * JetStream refuses the stream or bucket: the replica must not start half-shared.
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
    return {
      backend,
      prepare: (coordinationId) => (backend.isServed(coordinationId) ? undefined : backend.serve(coordinationId)),
      prepareExisting(coordinationId, existsHere) {
        if (backend.isServed(coordinationId)) return undefined;
        if (existsHere) return backend.serve(coordinationId);
        const read = () =>
          meta.get(coordinationId).then((r) => {
            if (!r.ok) throw new ConsortError("unavailable", `the meta of coordination ${JSON.stringify(coordinationId)} could not be read: ${r.message}`, { reason: "BACKEND_UNAVAILABLE" });
            return r.meta === undefined ? undefined : backend.serve(coordinationId);
          });
        // A DeleteCoordination made here deletes the meta after it answered: read it only once that is done, or a
        // GetCoordination right after would find the meta being deleted and begin the coordination again.
        const dropping = backend.dropping(coordinationId);
        return dropping === undefined ? read() : dropping.then(read);
      },
      async close() {
        await backend.close();
        await nc.drain();
      },
    };
  } catch (e) {
    await nc.close();
    throw new Error(`NATS JetStream at ${options.url} refused the signal stream or the meta bucket: ${(e as Error).message}`, { cause: e });
  }
}
