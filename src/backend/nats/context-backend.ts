import { randomUUID } from "node:crypto";
import type { ContextBackend, ContextCommit, ContextPlan, ContextViews } from "../../core/context/context-backend.js";
import { ConsortError } from "../../core/errors.js";
import { coordinationDropped, type DropReason } from "../../core/store.js";
import { decodeContextDocument, encodeContextDocument } from "./context-codec.js";
import { closedError, contextAppendError, followError, notServed, unreadable } from "./context-errors.js";
import type { ContextDocument, Follow, JetStreamContextLog } from "./context-log.js";

/**
 * The context engine's backend on NATS JetStream (DESIGN.md §8, issue 12): several replicas, each a context engine
 * with this backend, share every coordination's contexts through the context log (`context-log.ts`): one document
 * per change (`context-codec.ts`) on `consort.ctx.<token>`, numbered by the coordination's revision.
 *
 * **Serving (the load step).** Before the engine first uses a coordination here, the caller awaits
 * {@link JetStreamContextBackend.serve} (after the signal backend's serve, whose epoch it takes): it opens the
 * engine's state, starts the coordination's one follower from the oldest retained document and resolves once the
 * follower has applied everything up to the head it read at start. Reads then never wait.
 *
 * **Applying.** Each verified document is decoded and applied in revision order, whichever replica wrote it, this
 * one's included: a document at or below the local revision is skipped; the next revision is applied; after a gap
 * (older documents no longer retained), a distribution or a clear is applied as it is (it needs no earlier state),
 * and an update carrying its `base` restores that state first. While loading, documents before the first such one
 * are skipped; a load that ends behind the head fails (CONTEXT_HISTORY_NOT_RETAINED), as does, later, a document
 * that is unreadable, of another epoch, or not applicable: the follower ends, the coordination is no longer served
 * here, and its next call serves it again.
 *
 * **A full state at least every `fullStateEvery` documents.** The stream keeps the last `historyLimit` documents
 * per coordination. Distributions and clears are full states; an update is written with its `base` (the whole
 * state it was planned against) when `fullStateEvery` revisions have passed since the last full state. With
 * `fullStateEvery` at most the history limit, the retained documents always hold one, so a replica starting later
 * reaches the same state. Updates in between carry only the records they change (already merged and versioned:
 * replicas never merge). A document must fit the server's `max_payload`: an update carrying a full state is as
 * large as a distribution, and one that does not fit is refused (`exhausted`, CONTEXT_DOCUMENT_TOO_LARGE).
 *
 * **Submitting.** The plan is computed against the local state, its change encoded (with a fresh append id, also
 * the msg id) and appended with the revision it was planned against as the expected one. The call resolves with
 * the plan's answer right after the follower applied that document here (read-your-writes). A `conflict` (another
 * replica took the revision) waits until the newer state is applied here, then plans again, up to `maxAttempts`.
 *
 * **Drops** ({@link ContextBackend.drop}, told by the engine for every drop of a coordination it held, made here or
 * heard through the coordination meta by the signal backend): the follower stops, pending calls fail, and for a
 * delete the subject is purged through the last document applied here (never past it: the documents of a
 * coordination begun again after the delete stay). Expiry only stops serving here.
 */

/** Options of {@link createJetStreamContextBackend}. */
export interface JetStreamContextBackendOptions {
  /** The context log, on this replica's connection. */
  readonly log: JetStreamContextLog;
  /** The coordination's epoch (coordination meta), as served here; throws when it is not served. */
  readonly epochOf: (coordinationId: string) => string;
  /** Revisions after a full state before an update carries one; at most the log's history limit. */
  readonly fullStateEvery: number;
  /** Plans one call makes at most while other replicas keep changing the coordination first. @default 20 */
  readonly maxAttempts?: number;
  /** Told when a served coordination's follower ends other than by {@link JetStreamContextBackend.close}. @default none */
  readonly onError?: (error: ConsortError) => void;
}

/** The JetStream context backend of one replica's engine. */
export interface JetStreamContextBackend extends ContextBackend<"shared"> {
  /**
   * Brings the coordination's contexts up to date and keeps them so; resolves when the engine may use it here.
   * Calls for a coordination being or already served share one load. Rejects with a `ConsortError`
   * (`unavailable`, BACKEND_UNAVAILABLE, when the stream is unreachable), leaving it unserved.
   */
  serve(coordinationId: string): Promise<void>;
  /** Whether the coordination is served here (its load completed and its follower runs). */
  isServed(coordinationId: string): boolean;
  /** Stops every follower; pending calls fail `unavailable`, and nothing is served any more. */
  close(): Promise<void>;
}

interface Waiter {
  readonly revision: number;
  readonly resolve: () => void;
  readonly reject: (error: ConsortError) => void;
}

/** A coordination this replica serves, or is loading. */
interface Served {
  readonly id: string;
  epoch: string;
  follow: Follow | undefined;
  loaded: boolean;
  /** The revision of the newest full state applied here (0: the empty state, or not known: conservative). */
  lastFull: number;
  /** The stream sequence of the last document applied: how far a delete purges. */
  lastStream: number;
  /** The newest revision the follower handed over, applied or skipped. */
  lastSeen: number;
  ended: ConsortError | undefined;
  /** Append id → the call waiting for its document to be applied here. */
  readonly pending: Map<string, { readonly applied: () => void; readonly reject: (error: ConsortError) => void }>;
  waiters: Waiter[];
}

/** Whether a change needs no earlier state. */
const isFull = (c: ContextCommit) => c.kind !== "update";

/**
 * Creates the backend of one replica's context engine: pass it as `createContextEngine({ backend })`, then
 * `await backend.serve(id)` (after the signal backend's) before the engine's first use of a coordination.
 *
 * @example
 * const backend = createJetStreamContextBackend({ log, epochOf: signals.epochOf, fullStateEvery: 64 });
 * const engine = createContextEngine({ store, backend });
 * await backend.serve("review-42");
 * const page = await engine.distribute({ coordinationId: "review-42", sessionId: "s", assignments });
 */
export function createJetStreamContextBackend(options: JetStreamContextBackendOptions): JetStreamContextBackend {
  const { log } = options;
  const maxAttempts = options.maxAttempts ?? 20;
  if (!Number.isSafeInteger(options.fullStateEvery) || options.fullStateEvery < 1) throw new RangeError(`fullStateEvery must be a positive integer, got ${options.fullStateEvery}`);
  let views: ContextViews | undefined;
  let closed = false;
  const served = new Map<string, Served>();
  const loads = new Map<string, Promise<void>>();
  // Coordination → the end of its last drop here (follower stopped, subject purged): a serve of the id waits for it.
  const drops = new Map<string, Promise<void>>();

  /** Ends `s` here with `error`: it leaves `served`, and its pending calls and waiters fail. */
  const end = (s: Served, error: ConsortError) => {
    if (served.get(s.id) === s) served.delete(s.id);
    s.ended ??= error;
    const pending = [...s.pending.values()];
    s.pending.clear();
    for (const p of pending) p.reject(s.ended);
    const waiters = s.waiters;
    s.waiters = [];
    for (const w of waiters) w.reject(s.ended);
  };

  /** The follower's handler: one verified document, applied in order (see the module comment). */
  const apply = (s: Served, d: ContextDocument) => {
    const v = views as ContextViews;
    const revision = v.revision(s.id);
    if (revision === undefined || served.get(s.id) !== s) throw notServed(s.id, "the engine dropped it here since it was served");
    s.lastSeen = d.revision;
    if (d.revision <= revision) return;
    const body = decodeContextDocument(s.id, d.document);
    if (typeof body === "string") throw unreadable(s.id, `revision ${d.revision} (stream sequence ${d.streamSequence}): ${body}`);
    if (body.change.revision !== d.revision) throw unreadable(s.id, `revision ${d.revision} holds a change of revision ${body.change.revision}`);
    if (body.epoch !== s.epoch) {
      // While loading, a previous epoch's leftovers (not purged) are passed over; live, the coordination was begun
      // again elsewhere: this replica stops serving the epoch it has.
      if (!s.loaded) return;
      throw unreadable(s.id, `revision ${d.revision} belongs to epoch ${body.epoch}, this replica serves ${s.epoch}`, "EPOCH_CHANGED");
    }
    if (d.revision > revision + 1 && !isFull(body.change) && (body.base === undefined || body.base.revision !== d.revision - 1)) {
      if (!s.loaded) return; // before the first full state retained: its earlier state is gone
      throw unreadable(s.id, `revision ${d.revision} follows ${revision} here, and the revisions between are not retained`, "CONTEXT_HISTORY_NOT_RETAINED");
    }
    try {
      if (d.revision > revision + 1 && body.base !== undefined) v.restore(s.id, body.base);
      v.apply(s.id, body.change);
    } catch (err) {
      throw unreadable(s.id, `revision ${d.revision} (stream sequence ${d.streamSequence}) does not apply: ${String(err)}`);
    }
    // A full state at this revision: the change applied to a complete state, or one needing none.
    if (isFull(body.change) || body.base !== undefined) s.lastFull = d.revision;
    s.lastStream = d.streamSequence;
    const p = s.pending.get(body.id);
    if (p !== undefined) {
      s.pending.delete(body.id);
      p.applied();
    }
    if (s.waiters.length > 0) {
      const ready = s.waiters.filter((w) => w.revision <= d.revision);
      s.waiters = s.waiters.filter((w) => w.revision > d.revision);
      for (const w of ready) w.resolve();
    }
  };

  /** Resolves once the local revision reached `revision` (the follower applied it). */
  const reach = (s: Served, revision: number): Promise<void> => {
    if ((views?.revision(s.id) ?? 0) >= revision) return Promise.resolve();
    if (s.ended !== undefined) return Promise.reject(s.ended);
    return new Promise((resolve, reject) => s.waiters.push({ revision, resolve, reject }));
  };

  const load = async (s: Served): Promise<void> => {
    if (views === undefined) throw new Error("the JetStream context backend serves nothing before an engine connects to it (createContextEngine({ backend }))");
    s.epoch = options.epochOf(s.id);
    if (closed) throw closedError(s.id);
    views.open(s.id);
    const follow = log.follow(s.id, "retained", (d) => apply(s, d));
    s.follow = follow;
    void follow.ended.then((e) => {
      const error = e.reason === "stopped" ? closedError(s.id) : followError(s.id, e);
      const wasLoaded = s.loaded && s.ended === undefined;
      end(s, error);
      if (e.reason !== "stopped" && wasLoaded) options.onError?.(error);
    });
    const caughtUp = await follow.caughtUp;
    // Dropped (or ended) while loading: the call fails with why, not as if this replica were shutting down.
    if (s.ended !== undefined) throw s.ended;
    if (caughtUp.reason !== "caught_up") throw caughtUp.reason === "stopped" ? closedError(s.id) : followError(s.id, caughtUp);
    const revision = views.revision(s.id) ?? 0;
    if (revision < s.lastSeen) {
      throw unreadable(s.id, `its retained documents (through revision ${s.lastSeen}) hold no state of epoch ${s.epoch} to load after revision ${revision} (no full state retained)`, "CONTEXT_HISTORY_NOT_RETAINED");
    }
    s.loaded = true;
  };

  /** Appends one planned change; resolves with its answer once applied here, or with `undefined` after a conflict. */
  const attempt = async <T>(s: Served, p: ContextPlan<T> & { readonly change: ContextCommit }, attempts: number): Promise<{ readonly answer: T } | { readonly headRevision: number }> => {
    const change = p.change;
    const id = randomUUID();
    const withBase = change.kind === "update" && change.revision - s.lastFull >= options.fullStateEvery;
    const base = withBase ? views?.snapshot(s.id) : undefined;
    const document = encodeContextDocument({ epoch: s.epoch, id, change, ...(base === undefined ? {} : { base }) });
    let answer!: T;
    const applied = new Promise<void>((resolve, reject) => s.pending.set(id, { applied: () => ((answer = p.answer()), resolve()), reject }));
    applied.catch(() => undefined); // awaited below only once stored
    const r = await log.append(s.id, document, { expectedRevision: change.revision - 1, msgId: id });
    if (r.ok) {
      await applied;
      return { answer };
    }
    s.pending.delete(id);
    // A conflict whose head could not be read gives nothing to wait for: the caller is told, rather than wait for a
    // revision that may never come.
    if (r.reason !== "conflict" || r.headRevision === undefined) throw contextAppendError(s.id, r, attempts);
    return { headRevision: r.headRevision };
  };

  return {
    mode: "shared",
    connect(v) {
      views = v;
    },

    async submit<T>(id: string, plan: () => ContextPlan<T>): Promise<T> {
      for (let attempts = 1; ; attempts++) {
        const p = plan();
        if (p.change === undefined) return p.answer();
        const s = served.get(id);
        if (s === undefined || !s.loaded) throw notServed(id);
        if (s.ended !== undefined) throw s.ended;
        const r = await attempt(s, p as ContextPlan<T> & { readonly change: ContextCommit }, attempts);
        if ("answer" in r) return r.answer;
        if (attempts >= maxAttempts) {
          throw new ConsortError("aborted", `the context change to coordination ${JSON.stringify(id)} lost the race for its revision ${maxAttempts} times: call again`, {
            reason: "CONTEXT_CONFLICT",
            metadata: { coordination_id: id, attempts: String(attempts) },
          });
        }
        await reach(s, r.headRevision);
      }
    },

    catchUp(id, revision) {
      const s = served.get(id);
      if (s === undefined || !s.loaded || s.ended !== undefined || (views?.revision(id) ?? 0) >= revision) return undefined;
      return log.readHead(id).then(
        (head) => (head < revision ? undefined : reach(s, revision)),
        (err: unknown) => {
          throw new ConsortError("unavailable", `the context head of coordination ${JSON.stringify(id)} could not be read: ${String(err)}`, { reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: id }, cause: err });
        },
      );
    },

    serve(id) {
      if (closed) return Promise.reject(closedError(id));
      const loading = loads.get(id);
      if (loading !== undefined) return loading;
      const s = served.get(id);
      if (s?.loaded === true && s.ended === undefined) return Promise.resolve();
      const previous = Promise.all([s?.follow?.stop(), drops.get(id)?.catch(() => undefined)]);
      const fresh: Served = { id, epoch: "", follow: undefined, loaded: false, lastFull: 0, lastStream: 0, lastSeen: 0, ended: undefined, pending: new Map(), waiters: [] };
      served.set(id, fresh);
      const run = previous.then(() => load(fresh)).then(
        () => {
          loads.delete(id);
        },
        async (err: unknown) => {
          loads.delete(id);
          if (served.get(id) === fresh) served.delete(id);
          await fresh.follow?.stop();
          throw err instanceof ConsortError ? err : new ConsortError("unavailable", `the contexts of coordination ${JSON.stringify(id)} could not be loaded: ${String(err)}`, { reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: id }, cause: err });
        },
      );
      loads.set(id, run);
      return run;
    },

    isServed: (id) => {
      const s = served.get(id);
      return s !== undefined && s.loaded && s.ended === undefined;
    },

    drop(id, reason: DropReason) {
      const s = served.get(id);
      if (s === undefined) return;
      end(s, coordinationDropped(id, reason));
      // Whatever the reason, the log forgets the head it knew (a purge through 0 purges nothing): an expiry
      // everywhere purges the documents elsewhere, and a head kept from before would refuse every append of the
      // id begun again as a conflict with a revision that never comes here.
      const purge = reason === "deleted";
      const run = (s.follow?.stop() ?? Promise.resolve()).then(() => log.purge(id, purge ? s.lastStream : 0));
      drops.set(id, run);
      void run.then(
        () => drops.get(id) === run && drops.delete(id),
        (err: unknown) => {
          if (drops.get(id) === run) drops.delete(id);
          options.onError?.(new ConsortError("unavailable", `the contexts of deleted coordination ${JSON.stringify(id)} could not be purged: ${String(err)}`, { reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: id }, cause: err }));
        },
      );
    },

    async close() {
      closed = true;
      const all = [...served.values()];
      served.clear();
      await Promise.all(all.map((s) => s.follow?.stop()));
    },
  };
}
