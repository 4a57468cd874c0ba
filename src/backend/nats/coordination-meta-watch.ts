import { type KV, type KvEntry, KvWatchInclude, type NatsConnection } from "nats";
import { type CoordinationMeta, decodeDrop, decodeMeta, type DropReason } from "./coordination-meta-record.js";
import { coordinationOfToken } from "./subject.js";

/**
 * Watching the coordination meta bucket: one ordered consumer on the whole bucket, from the moment the watch is
 * set up (updates only) or after a revision, so every change reaches the handler in the order the server stored it
 * (by revision), whichever replica made it.
 */

/**
 * A change to the meta bucket:
 * - `created`: a coordination's epoch began (the first `acquire` of a new or dropped coordination).
 * - `changed`: its meta changed within the epoch (a clear raised cleared-through).
 * - `dropped`: its meta was deleted; `reason` and `epoch` are those the drop gave (`undefined` for a delete made
 *   bypassing Consort). Every replica ends the coordination's streams and forgets its view.
 * - `invalid`: a write Consort did not make (a key that is no coordination's, a value that is no meta); ignored.
 */
export type CoordinationMetaEvent =
  | { readonly kind: "created" | "changed"; readonly coordinationId: string; readonly meta: CoordinationMeta }
  | { readonly kind: "dropped"; readonly coordinationId: string; readonly reason: DropReason | undefined; readonly epoch: string | undefined; readonly revision: number }
  | { readonly kind: "invalid"; readonly key: string; readonly revision: number; readonly message: string };

/** Receives each change, in order, synchronously; a throw ends the watch (`failed`). */
export type CoordinationMetaHandler = (event: CoordinationMetaEvent) => void;

/**
 * Why a watch ended: `stopped` ({@link MetaWatch.stop}), or `failed` (the connection closed, the bucket's
 * consumer went away, or the handler threw). A replica whose watch failed no longer hears of drops: it must not
 * trust its views until a new watch, resumed after the old one's {@link MetaWatch.lastRevision}, has caught up.
 */
export type MetaWatchEnd = { readonly reason: "stopped" } | { readonly reason: "failed"; readonly message: string; readonly cause?: unknown };

/** Options of a watch. */
export interface MetaWatchOptions {
  /**
   * Resume after this revision (a previous watch's {@link MetaWatch.lastRevision}) instead of from now. The bucket
   * keeps one version per key (history 1), so what is heard is each key's *latest* version written after it — a
   * drop's marker included, unless the coordination was begun again since: then only its `created`, whose new
   * epoch tells the drop. Every key changed after the revision is heard; intermediate versions may not be.
   * @default from now
   */
  readonly afterRevision?: number;
}

/** A running watch of the meta bucket. */
export interface MetaWatch {
  /** The revision of the last change handed to the handler (0 before the first): where a new watch resumes. */
  readonly lastRevision: number;
  /** Resolves once, when the watch ends, saying why. */
  readonly ended: Promise<MetaWatchEnd>;
  /**
   * Ends the watch (`stopped`): unsubscribes, and the server removes the watch's ephemeral consumer once it sees no
   * interest (measured ~5 s on nats-server 2.9.10). Resolves when `ended` has.
   */
  stop(): Promise<MetaWatchEnd>;
}

/** The event a stored entry stands for. */
export function eventOf(entry: KvEntry): CoordinationMetaEvent {
  const coordinationId = coordinationOfToken(entry.key);
  if (coordinationId === undefined) return { kind: "invalid", key: entry.key, revision: entry.revision, message: `key ${JSON.stringify(entry.key)} is no coordination id's escape` };
  if (entry.operation !== "PUT") return { kind: "dropped", coordinationId, ...decodeDrop(entry.value), revision: entry.revision };
  const decoded = decodeMeta(coordinationId, entry.revision, entry.value);
  if (typeof decoded === "string") return { kind: "invalid", key: entry.key, revision: entry.revision, message: `the value of ${JSON.stringify(entry.key)} is no meta: ${decoded}` };
  return { kind: decoded.change, coordinationId, meta: decoded.meta };
}

/** Starts watching `kv`; resolves once the consumer is set up, so every later write is heard. */
export async function startMetaWatch(nc: NatsConnection, kv: KV, onChange: CoordinationMetaHandler, options: MetaWatchOptions = {}): Promise<MetaWatch> {
  const after = options.afterRevision;
  if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) throw new RangeError(`afterRevision must be a non-negative integer, got ${after}`);
  const entries = await kv.watch(after === undefined ? { include: KvWatchInclude.UpdatesOnly } : { include: KvWatchInclude.AllHistory, resumeFromRevision: after + 1 });
  let lastRevision = after ?? 0;
  let done = false;
  let resolveEnded!: (end: MetaWatchEnd) => void;
  const ended = new Promise<MetaWatchEnd>((resolve) => (resolveEnded = resolve));
  const end = (e: MetaWatchEnd) => {
    if (done) return;
    done = true;
    entries.stop(); // unsubscribes: the server then removes the ordered consumer
    resolveEnded(e);
  };
  void (async () => {
    try {
      for await (const entry of entries) {
        if (done) break;
        lastRevision = entry.revision;
        try {
          onChange(eventOf(entry));
        } catch (err) {
          end({ reason: "failed", message: `the meta handler threw: ${String(err)}`, cause: err });
        }
      }
      end({ reason: "failed", message: nc.isClosed() ? "the connection watching the meta bucket closed" : "the meta bucket's watch stopped delivering" });
    } catch (err) {
      end({ reason: "failed", message: `watching the meta bucket failed: ${String(err)}`, cause: err });
    }
  })();
  return {
    get lastRevision() {
      return lastRevision;
    },
    ended,
    stop() {
      end({ reason: "stopped" });
      return ended;
    },
  };
}
