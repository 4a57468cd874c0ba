import type { DropReason } from "../store.js";
import type { PublishResult, SignalRecord } from "./types.js";

/**
 * Where a signal engine's appends go (DESIGN.md §8). The engine keeps each coordination it serves in memory — its
 * sequence log, idempotency keys, subscriptions — and reads only that local view, synchronously. A backend decides
 * where an append is made durable and shared, and then has the local view apply it, in sequence order:
 *
 * - **Appends.** The engine validates a publish, finds no retained signal under its idempotency key in the local
 *   view, and builds the record with the sequence it proposes (`view.head + 1`) and the view's epoch. It then calls
 *   {@link SignalBackend.append}. The backend returns the {@link PublishResult} once the view has applied the
 *   signal ({@link SignalLogView.apply}: log, keys, counters, append listeners, fan-out), so an acknowledged
 *   publish is always visible on the replica that acknowledged it (read-your-writes).
 * - **Synchronous or not.** The in-memory backend applies at once and returns the result itself, not a promise:
 *   `publish` then stays synchronous and its callers add no await. A shared backend returns a promise, resolved when
 *   the signal came back through its ordered feed and was applied; callers check `instanceof Promise` once.
 * - **Sequences.** In memory: the proposed `head + 1`, as ever. Shared (NATS JetStream, `consort.sig.<id>`): the
 *   backend decides, by optimistic concurrency on the coordination's head (expected last subject sequence); on a
 *   conflict it applies what arrived first and proposes again from the new head, with a copy of the record. The
 *   sequence travels with the message and is checked before it is applied (the server checks only the
 *   predecessor).
 * - **Order.** A view applies sequences `head + 1` only, one at a time. A backend applies a coordination's signals
 *   in sequence order, whatever replica they came from, and keeps the order of its own engine's appends to one
 *   coordination: publishes made one after the other (a PublishStream) are acknowledged in that order with
 *   increasing sequences.
 * - **Idempotency keys.** The engine answers a retry found in the local view's key map (today's map: key →
 *   sequence of a retained signal) without calling the backend. A backend also returns the original for a key it
 *   is still appending; a shared one carries the key as the message id (`Nats-Msg-Id`), so a retry on another
 *   replica returns the original too, once applied locally. A view that is given a second signal under a key it
 *   holds applies it (the log stays gap-free) and keeps the key on the first.
 * - **Epoch, clear and delete.** In memory: the engine mints the epoch when it creates a coordination's log;
 *   ClearSignals drops the local history and keys (numbering continues); a drop (DeleteCoordination, expiry)
 *   forgets the log, and the id's next use starts a new epoch. Shared: the epoch and the cleared-through sequence
 *   are coordination meta kept by the backend (KV); clearing purges the subject and records cleared-through (a
 *   purge loses the subject's head); deleting removes the meta, and every replica hears it as a drop.
 *   ClearSignals goes through {@link SignalBackend.clear} and a drop is told to {@link SignalBackend.drop} when a
 *   backend has them; a drop heard from elsewhere comes back through {@link SignalViews.drop}.
 * - **Serving a coordination.** Reads never wait, so a shared backend must have brought a replica's log up to
 *   date (epoch from the meta, retained signals from the stream) before the engine first uses that coordination
 *   there: an asynchronous step of the backend's own, taken before the engine is called (the JetStream backend's
 *   `serve`), which creates the view ({@link SignalViews.open}) and applies the retained signals to it. A backend
 *   applies only to logs the engine holds ({@link SignalViews.view}).
 * - **What "applied" tells.** Counters, the `onPublished` hook and append listeners see every applied signal, the
 *   other replicas' included: the coordination's figures are the shared log's, and a wait on any replica is
 *   released by a completion published on any other.
 */
export interface SignalBackend<R extends PublishResult | Promise<PublishResult> = PublishResult | Promise<PublishResult>> {
  /**
   * Appends `signal` (built with the proposed sequence `view.head + 1` and the view's epoch) to `view`'s
   * coordination; returns, or resolves to, the applied signal — or the original one (`duplicate`) when the
   * signal's idempotency key was appended before. Errors: `ConsortError`s a caller may act on (a shared
   * backend unreachable: `unavailable`); nothing is applied then.
   */
  append(view: SignalLogView, signal: SignalRecord): R;
  /**
   * The epoch of a log the engine creates for `coordinationId`. Unset: a new UUID (in memory, a log lives as long
   * as its coordination here). A shared backend answers from the coordination's meta, already loaded, so that
   * every replica's log of one coordination has the same epoch.
   */
  epochOf?(coordinationId: string): string;
  /**
   * ClearSignals on `view`'s coordination (unset: the view is cleared through its head at once, synchronously, as
   * in memory). A shared backend records the clear where every replica hears it, clears `view` through the
   * sequence it cleared to ({@link SignalLogView.clearThrough}) and resolves; the engine's `clear` then returns a
   * promise. A backend with `clear` is a shared one: its appends and clears return promises.
   */
  clear?(view: SignalLogView): Promise<void>;
  /**
   * Told that the engine dropped `view`'s coordination (DeleteCoordination, expiry), after its subscriptions
   * ended: a shared backend stops applying to the view and, for a drop made here, has every replica drop it. Not
   * told of a drop the backend itself asked for ({@link SignalViews.drop}) unless the view is still the one it
   * serves.
   */
  drop?(view: SignalLogView, reason: DropReason): void;
  /**
   * Called once, by the engine the backend serves, with the way to its local logs: where a shared backend applies
   * what other replicas appended.
   */
  connect?(views: SignalViews): void;
}

/** An engine's local logs, as its backend reaches them. */
export interface SignalViews {
  /** The coordination's local log; `undefined` when the engine holds none (it serves no such coordination). */
  view(coordinationId: string): SignalLogView | undefined;
  /**
   * The coordination's local log, created when the engine holds none (the coordination is created in the store,
   * marked active; `exhausted` past the store's limit): how a shared backend's load step makes the view it brings
   * up to date before the engine's first use. The log's epoch is {@link SignalBackend.epochOf}'s.
   */
  open(coordinationId: string): SignalLogView;
  /**
   * Drops the coordination here as the store's delete does (its streams and waits end, saying `reason`): how a
   * shared backend passes on a drop made on another replica. Nothing when the engine holds none.
   */
  drop(coordinationId: string, reason: DropReason): void;
}

/** A coordination's local log as the engine keeps it: what a backend reads and applies to. */
export interface SignalLogView {
  /** The coordination's id. */
  readonly coordinationId: string;
  /** The log's epoch: a sequence means something only within it. */
  readonly epoch: string;
  /** Newest sequence applied; 0 before the first. */
  readonly head: number;
  /** The retained signal published under `key`, or `undefined`. */
  byKey(key: string): SignalRecord | undefined;
  /**
   * Applies the next signal, whose sequence must be `head + 1` (it throws otherwise, applying nothing): appends it
   * to the log, records its key and sender, counts it, tells the append listeners, then offers it to every
   * matching subscription. Synchronous, so a subscription registers either before (offered live) or after (in its
   * replay range) — never both, never neither.
   */
  apply(signal: SignalRecord): void;
  /**
   * Drops the retained signals up to `sequence`, their keys and, when it drops any or moves the head, the
   * coordination's counters; numbering continues from the higher of `head` and `sequence` (a view begun after a
   * clear made elsewhere starts at `sequence + 1`). Returns how many signals it dropped.
   */
  clearThrough(sequence: number): number;
}

/**
 * The in-memory backend, one process's: the proposed sequence is the sequence, applied at once. Its `append` is
 * what `publish` always did after building the record, and returns no promise.
 */
export const inMemorySignalBackend: SignalBackend<PublishResult> = {
  append(view, signal) {
    view.apply(signal);
    return { signal, duplicate: false };
  },
};
