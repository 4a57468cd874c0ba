import type { DropReason } from "../store.js";
import type { DependencyRecordView } from "./types.js";

/**
 * Where a dependency engine's shared writes go (DESIGN.md §8), the counterpart of the signal engine's
 * `SignalBackend`. The engine keeps each coordination's gate scores, resources, dependency records and wait-for
 * graph in memory and reads only that local view, synchronously. A backend decides where a shared write is made
 * durable and has every replica's engine apply it, in one order per coordination:
 *
 * - **Writes.** SetQualityGateScore, SetResourceAvailability, ClearDependencies, and the start and end of every wait
 *   are {@link DependencyChange}s. The engine validates a call against its local view, then hands the change to
 *   {@link DependencyBackend.write}; the change takes effect only when it is applied ({@link DependencyViews.apply}).
 * - **Synchronous or not.** Without a backend (in memory) the engine applies a change at once, inside the call:
 *   its calls return numbers, not promises, and waits are decided and registered synchronously, as ever. A shared
 *   backend returns a promise, resolved with what applying the change *on this replica* returned, once its ordered
 *   feed has brought the change back here (read-your-writes).
 * - **One order.** Every replica applies one coordination's changes in the same order (the backend's feed, its own
 *   writes included), so decisions made at apply time — a wait cycle, a gate satisfying a wait, a clear — come out
 *   alike everywhere. A change to a coordination the engine does not hold is ignored.
 * - **Waits have an owner.** The replica holding a ResolveDependencies call owns the waits it starts
 *   (`record.owner` is its {@link DependencyBackend.replicaId}): their timers, deadline and cancel, and their final
 *   record are its own. Its start record is decided when applied (at once, or registered, or a cycle refused);
 *   other replicas keep a *mirror* of it, which ends when the owner's final record is applied (or, the owner gone
 *   silent, after `startedAt + timeout + grace`).
 * - **Serving.** As for signals, a shared backend brings a coordination's state up to date (its load step, before
 *   the engine first uses the coordination on a replica) by applying every change it holds, in order.
 */
export interface DependencyBackend<R extends number | Promise<number> = Promise<number>> {
  /** This replica's id, written as the owner of the waits it starts; unique among live replicas. */
  readonly replicaId: string;
  /**
   * Makes `change` shared and resolves, once this replica applied it, with what {@link DependencyViews.apply}
   * returned for it. Rejects with a `ConsortError` a caller may act on (unreachable: `unavailable`
   * BACKEND_UNAVAILABLE naming the coordination); the change may then still be applied later.
   */
  write(change: DependencyChange): R;
  /** Told that the engine dropped the coordination here (DeleteCoordination, expiry): stop applying to it. */
  drop?(coordinationId: string, reason: DropReason): void;
  /** Called once by the engine the backend serves, with the way to apply changes to its local view. */
  connect?(views: DependencyViews): void;
}

/** An engine's local view, as its backend reaches it. */
export interface DependencyViews {
  /**
   * Applies one change, in the coordination's order, synchronously (waits released, cycles decided, records
   * mirrored); ignored (0) when the engine does not hold the coordination. Returns: for a gate score or a resource,
   * the open waits (any replica's, as this replica knows them) the change satisfied; for a clear, the records it
   * dropped; for a record, 0.
   */
  apply(change: DependencyChange): number;
}

/**
 * A wait's record as it travels between replicas: a start (`in_progress`, no `finishedAt`, `durationMs` 0) or its
 * owner's final status — the record every replica lists (without its coordination: the key says it), with what
 * replicas need to agree on it. Times are the owner's clock.
 */
export interface SharedDependencyRecord extends Omit<DependencyRecordView, "coordinationId"> {
  /** Unique across replicas: the owner's replica id and its own counter. */
  readonly waitId: string;
  /** The {@link DependencyBackend.replicaId} of the replica that owns the wait. */
  readonly owner: string;
  /** A final record of a wait whose last caller left (deadline, cancel, shutdown): a later call starts it again. */
  readonly abandoned: boolean;
  /**
   * The id of the last ClearDependencies its writer had applied ("" for none). A final record applied after a
   * clear its writer had not yet applied is of a wait that clear ended: it is skipped, on every replica alike.
   */
  readonly afterClear: string;
}

/** A shared write of the dependency engine (see {@link DependencyBackend}). */
export type DependencyChange =
  | { readonly kind: "gate"; readonly coordinationId: string; readonly gateId: string; readonly score: number }
  | { readonly kind: "resource"; readonly coordinationId: string; readonly resourceId: string; readonly available: boolean }
  | { readonly kind: "record"; readonly coordinationId: string; readonly record: SharedDependencyRecord }
  | { readonly kind: "clear"; readonly coordinationId: string; readonly clearId: string };
