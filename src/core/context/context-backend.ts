import type { DropReason } from "../store.js";
import type { AgentContextRecord } from "./types.js";

/**
 * Where a context engine's changes go (DESIGN.md §8), in the shape of the signal engine's seam (`signal-backend.ts`).
 * The engine keeps each coordination's contexts in memory — records, revision, change window, watchers — and reads
 * only that local state, synchronously (GetAgentContext, ListAgentContexts, a watch's initial state). A change is
 * made in two steps:
 *
 * - **Plan.** DistributeContext, UpdateSharedIntelligence and ClearContexts validate their input, then hand the
 *   backend a *plan*: a function that computes the change against the local state as it is when called — the
 *   revision it makes (`revision + 1`), the records as they will be stored, with the timestamps and versions the
 *   writer chose — and the call's answer, read once the change is applied. A plan that changes nothing (a clear of
 *   no contexts, an update that updates no agent) has no change and answers at once.
 * - **Apply.** A {@link ContextCommit} is plain data, applied identically wherever it is applied
 *   ({@link ContextViews.apply}): no clock, no merge, no defaults — the writer's plan did all of that. The in-memory
 *   backend applies it at once and returns the answer itself, so the in-memory engine stays synchronous. A shared
 *   backend (NATS JetStream) appends it with optimistic concurrency on the revision it was planned against; every
 *   replica, this one included, applies it when it comes back in order; the call resolves with the answer read
 *   right after it was applied here (read-your-writes). A plan that lost a race (another replica's change took the
 *   revision) is called again once the newer state is applied here, a bounded number of times.
 * - **Loading.** A replica that first serves a coordination brings its state up to date before the engine uses it
 *   there: a full state ({@link ContextSnapshot}, {@link ContextViews.restore}), then the changes after it.
 * - **Drops.** The engine tells the backend of every drop of a coordination it held ({@link ContextBackend.drop}).
 */

/** A backend's mode: `local` answers synchronously, `shared` with promises. */
export type ContextMode = "local" | "shared";

/** `T` for a local backend, `Promise<T>` for a shared one, either for a `ContextMode` not known. */
export type ContextReturn<M extends ContextMode, T> = M extends "shared" ? Promise<T> : T;

/**
 * One change of a coordination's contexts, as every replica applies it:
 * - `distribute`: the contexts become `records` (in assignment order; they share their shared intelligence as the
 *   writer built it); a page token is valid within one distribution.
 * - `update`: each of `records` (one per updated agent, already merged, versioned and stamped) replaces the agent's.
 * - `clear`: no context remains, and the change window goes.
 * `at` is the writer's clock, the coordination's activity time.
 */
export type ContextCommit =
  | { readonly kind: "distribute"; readonly revision: number; readonly at: number; readonly records: readonly AgentContextRecord[] }
  | { readonly kind: "update"; readonly revision: number; readonly at: number; readonly records: readonly AgentContextRecord[] }
  | { readonly kind: "clear"; readonly revision: number; readonly at: number };

/** A coordination's whole context state at one revision: what a replica loads from when older changes are gone. */
export interface ContextSnapshot {
  readonly revision: number;
  /** The revision of the distribution (or clear) the contexts come from: page tokens carry it. */
  readonly distribution: number;
  /** The contexts in assignment order. */
  readonly records: readonly AgentContextRecord[];
}

/** A change planned against the local state, and the call's answer. */
export interface ContextPlan<T> {
  /** The change to make, or `undefined` when the call changes nothing (its answer is then given at once). */
  readonly change: ContextCommit | undefined;
  /** The call's answer, read right after the change was applied here, in the same synchronous step. */
  answer(): T;
}

/** A context engine's backend. `M`: whether its submissions answer synchronously (`local`) or not (`shared`). */
export interface ContextBackend<M extends ContextMode = ContextMode> {
  /** Whether its submissions answer synchronously (`local`) or with promises (`shared`). */
  readonly mode: M;
  /**
   * Makes the change `plan` computes for `coordinationId` and returns the answer. `plan` is called synchronously
   * against the local state; what it throws is thrown (or, shared, rejected) and nothing is changed. Shared: the
   * change is appended with its revision, and `plan` may be called again after losing a race. Errors are
   * `ConsortError`s naming the coordination (the shared backend unreachable: `unavailable`, BACKEND_UNAVAILABLE;
   * the coordination not served here: `failed_precondition`, COORDINATION_NOT_SERVED).
   */
  submit<T>(coordinationId: string, plan: () => ContextPlan<T>): ContextReturn<M, T>;
  /**
   * Resolves once the local state has applied `revision`, or the shared head is found below it (then there is
   * nothing to wait for); `undefined` when the local state is already there, or in memory. A watch resuming after
   * a revision made on another replica waits for it here rather than be told REVISION_AHEAD. @default never waits
   */
  catchUp?(coordinationId: string, revision: number): Promise<void> | undefined;
  /** Told once, by the engine it serves, how to reach its local state. @default nothing to connect */
  connect?(views: ContextViews): void;
  /**
   * Told that the engine dropped a coordination it held (DeleteCoordination here or heard from elsewhere, expiry),
   * after its watches ended. A shared backend stops applying to it. @default nothing to tell
   */
  drop?(coordinationId: string, reason: DropReason): void;
}

/** An engine's local context state, as its backend reaches it. */
export interface ContextViews {
  /** The coordination's local revision; `undefined` when the engine holds no context state for it. */
  revision(coordinationId: string): number | undefined;
  /**
   * The coordination's local revision, its context state created when missing (the coordination is created in the
   * store, marked active): how a shared backend's load step makes the state it brings up to date.
   */
  open(coordinationId: string): number;
  /**
   * Applies `change` and tells the watchers. Its revision must be the local revision + 1, except for a
   * `distribute` or `clear`, which need no earlier state and may come after a gap (the changes between are then
   * no longer in the change window). Throws, applying nothing, otherwise or when no state is held.
   */
  apply(coordinationId: string, change: ContextCommit): void;
  /** The local state as a {@link ContextSnapshot}; `undefined` when none is held. */
  snapshot(coordinationId: string): ContextSnapshot | undefined;
  /**
   * Replaces the local state by `snapshot` (a revision above the local one): the watchers of agents whose
   * context it changes are told, and the change window restarts after it. Throws when no state is held.
   */
  restore(coordinationId: string, snapshot: ContextSnapshot): void;
}

/** The in-memory backend, one process's: the plan's change is applied at once, and its answer returned. */
export function createInMemoryContextBackend(): ContextBackend<"local"> {
  let views: ContextViews | undefined;
  return {
    mode: "local",
    connect(v) {
      views = v;
    },
    submit<T>(coordinationId: string, plan: () => ContextPlan<T>): T {
      const p = plan();
      if (p.change !== undefined) (views as ContextViews).apply(coordinationId, p.change);
      return p.answer();
    },
  };
}
