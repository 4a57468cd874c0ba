import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { ConsortError, Violations, type FieldViolation } from "../errors.js";
import { findPath } from "../graph.js";
import { createSlicedRunner } from "../sliced-runner.js";
import { truthy, type JsonObject } from "../json.js";
import { defaultLimits, type Limits } from "../limits.js";
import { decodePageToken, queryFingerprint, encodePageToken } from "../page-token.js";
import type { PageBudget } from "../sequence-log.js";
import { coordinationDropped, type Coordination, type Store } from "../store.js";
import type { PublishInput, SignalRecord } from "../signals/types.js";
import { checkId, pageSize, requireId } from "../validate.js";
import type { DependencyBackend, DependencyChange, DependencyViews, SharedDependencyRecord } from "./dependency-backend.js";
import { checkDependencies, defaultTimeoutMs } from "./dependency-input.js";
import { createRecordApplier } from "./record-apply.js";
import { type DependencyState, dependencyMismatch, dependencySlot, indexWait, keyOf, newWait, sameTarget, seconds, stateOf, trimRecords, unindexWait, type Wait } from "./wait-state.js";
import {
  dependencyStatuses,
  type AbandonKind,
  type DependencyInput,
  type DependencyOutcome,
  type DependencyRecordView,
  type DependencyStatus,
  type DependencyTarget,
  type ResolveInput,
  type ResolveResult,
} from "./types.js";

/** A ResolveDependencies call in progress. */
export interface ResolveCall {
  /**
   * Settles when every dependency of the call has finished (or the call was abandoned). Rejects with `aborted`
   * COORDINATION_DELETED when the coordination is deleted while one of its waits is open: the records it would
   * report are gone with it.
   */
  readonly result: Promise<ResolveResult>;
  /**
   * The caller is gone (deadline, cancel, shutdown): each of the call's open waits that no other call has joined
   * ends with it — `timeout` for a deadline, `failed` otherwise — so no wait is left without a caller. Idempotent.
   */
  abandon(kind: AbandonKind): void;
}

/** Observers of the engine, for server metrics. All optional. */
export interface DependencyEngineHooks {
  /** Open waits on the server changed by `delta`. */
  readonly onPendingChanged?: (delta: number) => void;
  /** A wait finished with `status` after `ms`. */
  readonly onFinished?: (status: DependencyStatus, ms: number) => void;
  /**
   * Publishing `dependency_resolved`, or sharing a wait's final record (shared backend), failed unexpectedly (the
   * call's result is returned all the same).
   */
  readonly onError?: (error: unknown) => void;
}

/** Options of {@link createDependencyEngine}. */
export interface DependencyEngineOptions {
  readonly store: Store;
  /** Where completions come from and `dependency_resolved` goes. */
  readonly signals: {
    addAppendListener(listener: (signal: SignalRecord) => void): () => void;
    /** Its result or a promise of it (a backend appending asynchronously): the call's result follows it. */
    publish(input: PublishInput): unknown;
  };
  /** An agent's distributed assignment dependencies; `undefined` when it has no context. @default none */
  readonly assignmentDependencies?: (coordinationId: string, agentId: string) => readonly string[] | undefined;
  /** @default defaultLimits */
  readonly limits?: Limits;
  readonly hooks?: DependencyEngineHooks;
  /** Clock in milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * How long past its `startedAt + timeout` a mirror of another replica's wait stays open without that replica's
   * final record: then it ends `timeout` here (its owner is taken to have died). Only a shared backend has mirrors.
   * @default 30_000
   */
  readonly mirrorGraceMs?: number;
}

/** Options of {@link createDependencyEngine} with a shared backend (see {@link DependencyBackend}). */
export interface SharedDependencyEngineOptions extends DependencyEngineOptions {
  /** Where gate scores, resources, records and clears are shared; its feed applies them here. */
  readonly backend: DependencyBackend<Promise<number>>;
}

/** What a shared write returns: the number itself in memory, a promise of it with a shared backend. */
export type DependencyWriteReturn = number | Promise<number>;

/** The dependency engine: event-driven waits on completions, resources and gates (SPEC.md §4). */
export interface DependencyEngine<W extends DependencyWriteReturn = number> {
  /**
   * Starts (or joins, or reads back) the waits of one agent's dependencies; see ResolveDependencies in the
   * contract. Validation, mismatch and limit errors are thrown before anything is registered. `found`: violations
   * the caller found while decoding the request. With a shared backend each new wait is decided when its start
   * record comes back in the coordination's order (a start racing another of the same agent and dependency id
   * joins the earlier one, or fails DEPENDENCY_MISMATCH in its result), and `result` rejects with the backend's
   * error when a start could not be shared.
   */
  resolve(input: ResolveInput, found?: readonly FieldViolation[]): ResolveCall;
  /**
   * Throws what {@link resolve} refuses a call for on its input alone (ids, targets, timeouts), touching nothing:
   * how a caller on a shared backend refuses an invalid call before serving its coordination.
   */
  checkResolve(input: ResolveInput, found?: readonly FieldViolation[]): void;
  /** Like {@link checkResolve}, for {@link setGateScore}: the ids and the score's range. */
  checkGateScore(coordinationId: string, gateId: string, score: number): void;
  /** Like {@link checkResolve}, for {@link setResourceAvailability}: the ids. */
  checkResourceAvailability(coordinationId: string, resourceId: string): void;
  /**
   * Records a gate's score (0..1) and releases the waits it satisfies; returns how many: the open waits of the
   * coordination the score satisfied when it was applied here — with a shared backend, those of every replica as
   * this one knows them in the coordination's feed order (mirrors included), resolved once applied here.
   */
  setGateScore(coordinationId: string, gateId: string, score: number): W;
  /** Records a resource's availability; marking it available releases its waits; returns how many, as {@link setGateScore}. */
  setResourceAvailability(coordinationId: string, resourceId: string, available: boolean): W;
  /** One record; `not_found` when there is none. */
  status(coordinationId: string, agentId: string, dependencyId: string): DependencyRecordView;
  /** Records newest first, filtered and paginated. */
  list(input: {
    coordinationId: string;
    agentId?: string;
    statuses?: readonly DependencyStatus[];
    pageSize?: number;
    pageToken?: string;
    budget?: PageBudget<DependencyRecordView>;
  }): { records: readonly DependencyRecordView[]; nextPageToken: string };
  /**
   * Drops records, completions, gate scores and resources; open waits end `failed` "cleared" (with a shared
   * backend, on every replica). Returns the records dropped (here).
   */
  clear(coordinationId: string): W;
  /** Open (in-progress) waits of the coordination; 0 when unknown. O(1). */
  openWaitCount(coordinationId: string): number;
  /** The coordination's open waits, oldest first. */
  openWaits(coordinationId: string): readonly DependencyRecordView[];
  /** Open waits on the server. */
  readonly pendingCount: number;
}
/** Calls a burst of releases (one gate score freeing 10,000 waiters) tells per event-loop turn; the rest follow. */
const releasesPerTurn = 256;

/** Whether a completion's data says it failed: `success` false, or `error` set (truthy). */
export function completionFailed(data: JsonObject): boolean {
  return data["success"] === false || truthy(data["error"]);
}

/**
 * Creates a {@link DependencyEngine} over a shared store, fed by the signal engine's appends. Without `backend` its
 * writes apply at once and return numbers; with one (see {@link DependencyBackend}) they return promises.
 */
export function createDependencyEngine(options: DependencyEngineOptions): DependencyEngine;
export function createDependencyEngine(options: SharedDependencyEngineOptions): DependencyEngine<Promise<number>>;
export function createDependencyEngine(options: DependencyEngineOptions & { readonly backend?: DependencyBackend<Promise<number>> }): DependencyEngine<DependencyWriteReturn>;
export function createDependencyEngine(options: DependencyEngineOptions & { readonly backend?: DependencyBackend<Promise<number>> }): DependencyEngine<DependencyWriteReturn> {
  const { store, signals, backend } = options;
  const limits = options.limits ?? defaultLimits;
  const hooks = options.hooks ?? {};
  const now = options.now ?? Date.now;
  const mirrorGraceMs = options.mirrorGraceMs ?? 30_000;
  const maxId = limits.maxIdLength;
  const replicaId = backend?.replicaId ?? "";
  let pending = 0;
  let nextSeq = 1;
  let nextWait = 1;
  const tell = createSlicedRunner(releasesPerTurn);
  /** Waits this replica proposed (start record written, not yet applied), by wait id; always empty in memory. */
  const proposals = new Map<string, Wait>();

  const peekState = (id: string) => store.peek(id)?.slots[dependencySlot] as DependencyState | undefined;
  const trim = (st: DependencyState) => trimRecords(st, limits.maxDependencyRecords);

  /** The wait as its record travels (a start, or its final status). */
  const recordOf = (w: Wait): SharedDependencyRecord => ({
    waitId: w.waitId,
    owner: replicaId,
    agentId: w.agentId,
    dependencyId: w.dependencyId,
    timeoutMs: w.timeoutMs,
    target: w.target,
    status: w.finishedAt === undefined ? "in_progress" : w.status,
    message: w.message,
    startedAt: w.startedAt,
    finishedAt: w.finishedAt,
    durationMs: w.finishedAt === undefined ? 0 : w.durationMs,
    abandoned: w.abandoned,
    afterClear: stateOf(w.coordination).lastClear,
  });
  /** Shares an own wait's final record (shared backend only), so every replica's mirror of it ends. */
  const writeFinal = (w: Wait) => {
    if (backend === undefined || store.peek(w.coordination.id) !== w.coordination) return;
    let written: Promise<number>;
    try {
      written = backend.write({ kind: "record", coordinationId: w.coordination.id, record: recordOf(w) });
    } catch (e) {
      hooks.onError?.(e);
      return;
    }
    // Refused because this replica is shutting down or the coordination went meanwhile: nothing is left to tell.
    written.catch((e: unknown) => {
      if (!(e instanceof ConsortError && (e.reason === "SHUTTING_DOWN" || e.reason === "COORDINATION_DELETED" || e.reason === "COORDINATION_EXPIRED"))) hooks.onError?.(e);
    });
  };

  /**
   * Ends a wait (own or mirror): unindexes it, stops its timer, uncounts it if it was registered, and tells its
   * calls. `final`: an own wait's final record is shared (shared backend; not for a clear or a drop, which every
   * replica applies itself). `at`: a mirror's times, from its owner's final record.
   */
  const finish = (st: DependencyState, w: Wait, status: DependencyStatus, message: string, final = true, at?: { finishedAt: number; durationMs: number }) => {
    if (w.finishedAt !== undefined) return;
    const registered = w.status === "in_progress";
    w.status = status;
    w.message = message;
    w.finishedAt = at?.finishedAt ?? now();
    w.durationMs = at?.durationMs ?? performance.now() - w.startedHr;
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.timer = undefined;
    unindexWait(st, w);
    st.finishedOrder.push(w);
    if (w.owned) hooks.onFinished?.(status, w.durationMs);
    // The record is final now; its calls are told at most `releasesPerTurn` per event-loop turn.
    for (const l of w.listeners) tell(l);
    w.listeners.clear();
    if (registered) {
      st.open--;
      w.coordination.pins--;
      if (w.owned) {
        pending--;
        hooks.onPendingChanged?.(-1);
      }
      store.changed(w.coordination);
    }
    if (final && w.owned && backend !== undefined) writeFinal(w);
    trim(st);
  };

  /** Refuses a new key once a coordination's gates (or resources) are at their limit; an existing one may change. */
  const checkRoom = (m: ReadonlyMap<string, unknown>, key: string, what: string, reason: string) => {
    if (m.size < limits.maxGatesPerCoordination || m.has(key)) return;
    throw new ConsortError("exhausted", `the coordination holds its limit of ${limits.maxGatesPerCoordination} ${what}`, {
      reason,
      metadata: { limit: String(limits.maxGatesPerCoordination) },
    });
  };

  const completionOutcome = (w: Wait, success: boolean): [DependencyStatus, string] => {
    const t = w.target as Extract<DependencyTarget, { type: "agent_completion" }>;
    return !success && t.requireSuccess
      ? ["failed", `Dependency '${w.dependencyId}' failed: agent '${t.agentId}' completed unsuccessfully`]
      : ["resolved", ""];
  };

  // Completions land here synchronously within their publish: the wake-up cannot be lost. Every replica hears every
  // completion (signals are shared), and each releases its own waits; mirrors end with their owner's record.
  signals.addAppendListener((signal) => {
    if (signal.type !== "agent_completed") return;
    const c = store.peek(signal.coordinationId);
    if (c === undefined) return;
    const st = stateOf(c);
    const success = !completionFailed(signal.data);
    const agents = new Set([signal.senderAgentId]);
    const named = signal.data["agent_id"];
    if (typeof named === "string" && named !== "") agents.add(named);
    for (const agent of agents) {
      // Newest last: beyond the bound, the completion heard longest ago is forgotten.
      st.completions.delete(agent);
      st.completions.set(agent, { success, sequence: signal.sequence });
      if (st.completions.size > limits.maxAgentsPerCoordination) st.completions.delete(st.completions.keys().next().value!);
      const waiting = st.onCompletion.get(agent);
      if (waiting === undefined) continue;
      for (const w of [...waiting]) {
        const [status, message] = completionOutcome(w, success);
        finish(st, w, status, message);
      }
    }
  });

  /** Decides a new wait against current state at once; `undefined` when it must wait. */
  const decideNow = (st: DependencyState, w: Wait): [DependencyStatus, string] | undefined => {
    const t = w.target;
    switch (t.type) {
      case "agent_completion": {
        const done = st.completions.get(t.agentId);
        if (done !== undefined) return completionOutcome(w, done.success);
        const path = findPath(t.agentId, w.agentId, (n) => st.waitsFor.get(n)?.keys() ?? []);
        if (path !== undefined) {
          const cycle = [w.agentId, ...path].join(" -> ");
          return ["failed", `Dependency '${w.dependencyId}' would close a wait cycle: ${cycle}`];
        }
        return undefined;
      }
      case "quality_gate": {
        const score = st.gates.get(t.gateId);
        return score !== undefined && score >= t.threshold ? ["resolved", ""] : undefined;
      }
      case "resource_availability":
        return st.resources.get(t.resourceId) === true ? ["resolved", ""] : undefined;
    }
  };

  /** Registers an open wait: indexes it, counts it, pins its coordination; an own wait's timer, a mirror's expiry. */
  const register = (st: DependencyState, w: Wait) => {
    w.status = "in_progress";
    indexWait(st, w);
    st.open++;
    w.coordination.pins++;
    if (w.owned) {
      pending++;
      hooks.onPendingChanged?.(1);
      w.timer = setTimeout(() => finish(st, w, "timeout", `Dependency '${w.dependencyId}' timed out after ${seconds(w.timeoutMs)}s`), w.timeoutMs);
    } else {
      // Its owner's final record ends it; an owner gone silent (its replica died) leaves it to end here.
      const left = w.startedAt + w.timeoutMs + mirrorGraceMs - now();
      w.timer = setTimeout(() => {
        w.abandoned = true;
        finish(st, w, "timeout", `Dependency '${w.dependencyId}' timed out: the replica that owned it sent no result within ${seconds(w.timeoutMs + mirrorGraceMs)}s`);
      }, Math.max(0, left));
      // No call waits on a mirror here to keep the process alive for.
      w.timer.unref();
    }
    // Registered after the call that acquired the coordination (shared): its figures changed since.
    if (backend !== undefined) store.changed(w.coordination);
  };

  /** A dropped coordination's open waits and proposals end at once; their calls fail with the drop (see ResolveCall.result). */
  store.onDrop((c, reason) => {
    backend?.drop?.(c.id, reason);
    const st = c.slots[dependencySlot] as DependencyState | undefined;
    const error = coordinationDropped(c.id, reason);
    for (const w of proposals.values()) {
      if (w.coordination !== c) continue;
      proposals.delete(w.waitId);
      w.droppedWith = error;
      for (const l of w.listeners) tell(l);
      w.listeners.clear();
    }
    if (st === undefined || st.open === 0) return;
    for (const w of [...st.waits.values()]) {
      if (w.status !== "in_progress" || w.finishedAt !== undefined) continue;
      w.droppedWith = error;
      finish(st, w, "failed", `Dependency '${w.dependencyId}' ended: ${error.message}`, false);
    }
  });

  const view = (w: Wait): DependencyRecordView => ({
    coordinationId: w.coordination.id,
    agentId: w.agentId,
    dependencyId: w.dependencyId,
    timeoutMs: w.timeoutMs,
    target: w.target,
    status: w.status,
    message: w.message,
    startedAt: w.startedAt,
    finishedAt: w.finishedAt,
    durationMs: w.finishedAt === undefined ? performance.now() - w.startedHr : w.durationMs,
  });

  const outcome = (w: Wait): DependencyOutcome => ({ dependencyId: w.dependencyId, status: w.status, durationMs: w.durationMs, message: w.message });

  /**
   * Publishes `dependency_resolved` once per set of waits, however many calls (on however many replicas) joined
   * them: its key is made of the waits' ids, which are the same on every replica.
   */
  const announce = (coordinationId: string, agentId: string, waits: readonly Wait[]): unknown => {
    const key = `dependency_resolved:${createHash("sha256")
      .update(`${agentId}\u0000${waits.map((w) => w.waitId).join(",")}`)
      .digest("base64url")
      .slice(0, 32)}`;
    return signals.publish({
      coordinationId,
      type: "dependency_resolved",
      senderAgentId: "system",
      data: { resolver_agent: agentId, dependency_count: waits.length, timestamp: new Date(now()).toISOString() },
      idempotencyKey: key,
    });
  };

  /**
   * Applies the start of one of this replica's waits: decided against current state and, if it must wait,
   * registered, in one synchronous step (the event that satisfies it cannot land in between). In memory this is
   * called within ResolveDependencies; with a shared backend, when the start record comes back in the
   * coordination's order, so a wait cycle is refused alike everywhere: the later start in that order fails.
   */
  const startOwn = (st: DependencyState, key: string, w: Wait) => {
    w.seq = nextSeq++;
    st.waits.delete(key); // started again: the newest record is the one kept, last in order
    st.waits.set(key, w);
    if (w.leftWith !== undefined) {
      finish(st, w, w.leftWith[0], w.leftWith[1]);
      return;
    }
    const decided = decideNow(st, w);
    if (decided !== undefined) finish(st, w, decided[0], decided[1]);
    else register(st, w);
  };

  /** Starts a mirror's wait again as this replica's own, for the calls here still waiting on it (see record-apply). */
  const takeOver = (_st: DependencyState, m: Wait) => {
    if (backend === undefined) return;
    const w = newWait({
      seq: 0,
      waitId: `${replicaId}:${nextWait++}`,
      owned: true,
      coordination: m.coordination,
      agentId: m.agentId,
      dependencyId: m.dependencyId,
      timeoutMs: m.timeoutMs,
      target: m.target,
      startedAt: now(),
      startedHr: performance.now(),
      callers: m.callers,
      listeners: m.listeners,
    });
    m.listeners.clear();
    m.callers = 0;
    m.joined = w;
    proposals.set(w.waitId, w);
    backend.write({ kind: "record", coordinationId: m.coordination.id, record: recordOf(w) }).catch((e: unknown) => {
      if (!proposals.delete(w.waitId)) return;
      w.status = "failed";
      w.message = `Dependency '${w.dependencyId}' ended: its start could not be shared`;
      w.finishedAt = now();
      for (const l of w.listeners) tell(l);
      w.listeners.clear();
      if (!(e instanceof ConsortError && (e.reason === "SHUTTING_DOWN" || e.reason === "COORDINATION_DELETED" || e.reason === "COORDINATION_EXPIRED"))) hooks.onError?.(e);
    });
  };

  const applyRecord = createRecordApplier({
    replicaId,
    proposals,
    now,
    nextSeq: () => nextSeq++,
    startOwn,
    register,
    finish,
    tell,
    takeOver,
  });

  /** An open wait a gate score or resource satisfied: an own one is released; a mirror leaves the index, its owner releases it. */
  const satisfied = (st: DependencyState, w: Wait) => {
    if (w.owned) finish(st, w, "resolved", "");
    else unindexWait(st, w);
  };
  const applyGate = (st: DependencyState, gateId: string, score: number): number => {
    st.gates.set(gateId, score);
    const waiting = st.onGate.get(gateId);
    if (waiting === undefined) return 0;
    let released = 0;
    for (const w of [...waiting]) {
      if (score >= (w.target as Extract<DependencyTarget, { type: "quality_gate" }>).threshold) {
        satisfied(st, w);
        released++;
      }
    }
    return released;
  };
  const applyResource = (st: DependencyState, resourceId: string, available: boolean): number => {
    st.resources.set(resourceId, available);
    const waiting = available ? st.onResource.get(resourceId) : undefined;
    if (waiting === undefined) return 0;
    const list = [...waiting];
    for (const w of list) satisfied(st, w);
    return list.length;
  };
  const applyClear = (c: Coordination, st: DependencyState, clearId: string): number => {
    st.lastClear = clearId;
    c.lastActivity = now();
    store.changed(c);
    const n = st.waits.size;
    for (const w of [...st.waits.values()]) finish(st, w, "failed", `Dependency '${w.dependencyId}' cleared`, false);
    st.waits.clear();
    st.finishedOrder = [];
    st.finishedHead = 0;
    st.completions.clear();
    st.gates.clear();
    st.resources.clear();
    return n;
  };

  const views: DependencyViews = {
    apply(change: DependencyChange) {
      const c = store.peek(change.coordinationId);
      if (c === undefined) return 0;
      const st = stateOf(c);
      switch (change.kind) {
        case "gate":
          return applyGate(st, change.gateId, change.score);
        case "resource":
          return applyResource(st, change.resourceId, change.available);
        case "clear":
          return applyClear(c, st, change.clearId);
        case "record":
          applyRecord(c, st, change.record);
          return 0;
      }
    },
  };
  backend?.connect?.(views);

  /** The wait a call's wait stands for: itself, or the wait its start joined (or its mirror was taken over by), to the last. */
  const final = (w: Wait): Wait => {
    let x = w;
    while (x.joined !== undefined) x = x.joined; // a proposal that joined, or a mirror taken over (and so on)
    return x;
  };
  /** The input checks of resolve: throws every violation at once; returns the targets with defaults applied. */
  const checkedResolve = (input: ResolveInput, found?: readonly FieldViolation[]) => {
    const v = new Violations(found);
    requireId(v, "coordination_id", input.coordinationId, maxId);
    requireId(v, "agent_id", input.agentId, maxId);
    const targets = checkDependencies(v, input.dependencies, maxId);
    v.throwIfAny();
    return targets;
  };
  const checkedGateScore = (coordinationId: string, gateId: string, score: number) => {
    const v = new Violations();
    requireId(v, "coordination_id", coordinationId, maxId);
    requireId(v, "gate_id", gateId, maxId);
    if (!(score >= 0 && score <= 1)) v.add("score", `must be between 0 and 1, got ${score}`);
    v.throwIfAny();
  };
  const checkedResource = (coordinationId: string, resourceId: string) => {
    const v = new Violations();
    requireId(v, "coordination_id", coordinationId, maxId);
    requireId(v, "resource_id", resourceId, maxId);
    v.throwIfAny();
  };

  return {
    get pendingCount() {
      return pending;
    },

    checkResolve(input, found) {
      checkedResolve(input, found);
    },
    checkGateScore: checkedGateScore,
    checkResourceAvailability: checkedResource,

    resolve(input, found) {
      let deps: readonly DependencyInput[] = input.dependencies;
      const targets = checkedResolve(input, found);
      let resolvedTargets = targets as DependencyTarget[];
      if (deps.length === 0) {
        // The agent's assignment: each awaited agent becomes a completion wait under its own id.
        const assigned = [...new Set(options.assignmentDependencies?.(input.coordinationId, input.agentId) ?? [])];
        deps = assigned.map((a) => ({ dependencyId: a, target: { type: "agent_completion", agentId: a } }));
        resolvedTargets = assigned.map((a) => ({ type: "agent_completion", agentId: a, requireSuccess: true }));
      }
      if (deps.length === 0) return { result: Promise.resolve({ success: true, results: [] }), abandon() {} };

      // Everything that can refuse the call is checked before anything is registered.
      const existing = peekState(input.coordinationId);
      let fresh = 0;
      // A recorded wait whose callers all left is started again; its recorded result informs no one.
      const reusable = (w: Wait | undefined): w is Wait => w !== undefined && !(w.abandoned && w.finishedAt !== undefined);
      deps.forEach((d, i) => {
        const w = existing?.waits.get(keyOf(input.agentId, d.dependencyId));
        if (!reusable(w)) {
          fresh++;
          if (w === undefined) return;
        }
        const timeoutMs = d.timeoutMs ?? defaultTimeoutMs;
        if (!sameTarget(w.target, resolvedTargets[i] as DependencyTarget) || w.timeoutMs !== timeoutMs) throw dependencyMismatch(input.agentId, d.dependencyId);
      });
      if (pending + proposals.size + fresh > limits.maxPendingWaits) {
        throw new ConsortError("exhausted", `the server holds its limit of ${limits.maxPendingWaits} pending dependency waits`, {
          reason: "TOO_MANY_WAITS",
          metadata: { limit: String(limits.maxPendingWaits) },
        });
      }

      const c = store.acquire(input.coordinationId);
      const st = stateOf(c);
      /** Start records being shared (shared backend only). */
      const writes: Promise<number>[] = [];
      const waits = deps.map((d, i): Wait => {
        const key = keyOf(input.agentId, d.dependencyId);
        const old = st.waits.get(key);
        if (reusable(old)) {
          if (old.finishedAt === undefined) old.callers++;
          return old;
        }
        const w = newWait({
          seq: 0,
          waitId: backend === undefined ? String(nextWait++) : `${replicaId}:${nextWait++}`,
          owned: true,
          coordination: c,
          agentId: input.agentId,
          dependencyId: d.dependencyId,
          timeoutMs: d.timeoutMs ?? defaultTimeoutMs,
          target: resolvedTargets[i] as DependencyTarget,
          startedAt: now(),
          startedHr: performance.now(),
          callers: 1,
        });
        if (backend === undefined) startOwn(st, key, w);
        else {
          // Decided when its start comes back in the coordination's order (see startOwn).
          proposals.set(w.waitId, w);
          writes.push(backend.write({ kind: "record", coordinationId: c.id, record: recordOf(w) }));
        }
        return w;
      });
      trim(st);

      let abandoned = false;
      let settle!: (r: ResolveResult) => void;
      let fail!: (e: ConsortError) => void;
      const result = new Promise<ResolveResult>((resolve, reject) => {
        settle = resolve;
        fail = reject;
      });
      const results = () => ({ success: waits.every((w) => final(w).status === "resolved"), results: waits.map((w) => outcome(final(w))) });
      // Distinct open waits: the same wait listed twice is one wait to hear from.
      let open = 0;
      const onFinished = () => {
        if (--open > 0 || abandoned) return;
        // Deferred: a completion is handled inside its publish, and dependency_resolved must not be published
        // (and delivered) before the completion itself reaches subscribers.
        queueMicrotask(() => {
          if (abandoned) return;
          const dropped = waits.map(final).find((w) => w.droppedWith !== undefined)?.droppedWith;
          if (dropped !== undefined) {
            fail(dropped);
            return;
          }
          const r = results();
          // Refused once the server shuts down (publishes stop first): the caller still gets its result. Any
          // other failure is a bug the server must hear of, not lose in a microtask.
          const report = (e: unknown) => {
            if (!(e instanceof ConsortError && e.reason === "SHUTTING_DOWN")) hooks.onError?.(e);
          };
          let announced: unknown;
          try {
            // Only into the coordination the waits belong to: a dropped one is not created again by its announcement.
            if (r.success && store.peek(input.coordinationId) === c) announced = announce(input.coordinationId, input.agentId, waits.map(final));
          } catch (e) {
            report(e);
          }
          // The result follows its announcement, as applied: a backend appending asynchronously is waited for.
          if (announced instanceof Promise) {
            announced.then(
              () => settle(r),
              (e: unknown) => {
                report(e);
                settle(r);
              },
            );
          } else {
            settle(r);
          }
        });
      };
      for (const w of waits) {
        if (w.finishedAt !== undefined || w.listeners.has(onFinished)) continue;
        open++;
        w.listeners.add(onFinished);
      }
      if (open === 0) {
        open = 1;
        onFinished();
      }
      /** Ends the call's open waits that no other call joined: own ones here, proposals once applied, mirrors never (their owner's). */
      const leave = (ended: (w: Wait) => readonly [DependencyStatus, string]) => {
        if (abandoned) return;
        abandoned = true;
        for (const x of waits) {
          const w = final(x);
          if (w.finishedAt !== undefined) continue;
          w.listeners.delete(onFinished);
          // Another replica's wait goes on without this call: its owner ends it.
          if (--w.callers > 0 || (!w.owned && !proposals.has(w.waitId))) continue;
          w.abandoned = true;
          if (proposals.has(w.waitId)) w.leftWith = ended(w);
          else if (w.owned) finish(st, w, ...ended(w));
        }
        settle(results());
      };
      if (writes.length > 0) {
        // A start that could not be shared fails the call; its other waits end as if it was cancelled. A start
        // that was stored after all comes back with no proposal, and ends failed on every replica (applyRecord).
        Promise.all(writes).catch((e: unknown) => {
          for (const w of waits) {
            if (!proposals.delete(w.waitId)) continue;
            w.status = "failed";
            w.message = `Dependency '${w.dependencyId}' ended: its start could not be shared`;
            w.finishedAt = now();
            w.listeners.clear();
          }
          fail(e instanceof ConsortError ? e : new ConsortError("unavailable", String(e), { reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: c.id }, cause: e }));
          leave((w) => ["failed", `Dependency '${w.dependencyId}' ended: its call failed`]);
        });
      }
      return {
        result,
        abandon(kind) {
          leave((w): readonly [DependencyStatus, string] => {
            if (kind === "deadline") return ["timeout", `Dependency '${w.dependencyId}' timed out after ${seconds(performance.now() - w.startedHr)}s: the call's deadline passed`];
            if (kind === "cancelled") return ["failed", `Dependency '${w.dependencyId}' cancelled`];
            return ["failed", `Dependency '${w.dependencyId}' ended: the server is shutting down`];
          });
        },
      };
    },

    setGateScore(coordinationId, gateId, score) {
      checkedGateScore(coordinationId, gateId, score);
      const st = stateOf(store.acquire(coordinationId));
      checkRoom(st.gates, gateId, "quality gates", "TOO_MANY_GATES");
      return backend === undefined ? applyGate(st, gateId, score) : backend.write({ kind: "gate", coordinationId, gateId, score });
    },

    setResourceAvailability(coordinationId, resourceId, available) {
      checkedResource(coordinationId, resourceId);
      const st = stateOf(store.acquire(coordinationId));
      checkRoom(st.resources, resourceId, "resources", "TOO_MANY_RESOURCES");
      return backend === undefined ? applyResource(st, resourceId, available) : backend.write({ kind: "resource", coordinationId, resourceId, available });
    },

    status(coordinationId, agentId, dependencyId) {
      const v = new Violations();
      requireId(v, "coordination_id", coordinationId, maxId);
      requireId(v, "agent_id", agentId, maxId);
      requireId(v, "dependency_id", dependencyId, maxId);
      v.throwIfAny();
      const w = peekState(coordinationId)?.waits.get(keyOf(agentId, dependencyId));
      if (w === undefined) {
        throw new ConsortError("not_found", `agent ${JSON.stringify(agentId)} has no dependency ${JSON.stringify(dependencyId)} in coordination ${JSON.stringify(coordinationId)}`, {
          reason: "DEPENDENCY_NOT_FOUND",
          metadata: { coordination_id: coordinationId, agent_id: agentId, dependency_id: dependencyId },
        });
      }
      return view(w);
    },

    list(input) {
      const v = new Violations();
      requireId(v, "coordination_id", input.coordinationId, maxId);
      const agentId = input.agentId ?? "";
      if (agentId.length > maxId) v.add("agent_id", `must be at most ${maxId} characters, got ${agentId.length}`);
      const statuses = new Set(input.statuses ?? []);
      for (const s of statuses) if (!dependencyStatuses.includes(s)) v.add("statuses", `must be dependency statuses, got ${JSON.stringify(s)}`);
      const size = pageSize(v, input.pageSize ?? 0, limits.maxPageSize);
      const fingerprint = queryFingerprint([input.coordinationId, agentId, [...statuses].sort()]);
      const before = decodePageToken<number>(v, input.pageToken ?? "", fingerprint, "number");
      v.throwIfAny();
      const st = peekState(input.coordinationId);
      if (st === undefined) return { records: [], nextPageToken: "" };
      const all = [...st.waits.values()];
      const records: DependencyRecordView[] = [];
      let bytes = 0;
      let last: Wait | undefined;
      let more = false;
      for (let i = all.length - 1; i >= 0; i--) {
        const w = all[i] as Wait;
        if (before !== undefined && w.seq >= before) continue;
        if (agentId !== "" && w.agentId !== agentId) continue;
        if (statuses.size > 0 && !statuses.has(w.status)) continue;
        if (records.length === size) {
          more = true;
          break;
        }
        const r = view(w);
        if (input.budget !== undefined) {
          bytes += input.budget.sizeOf(r);
          if (bytes > input.budget.maxBytes && records.length > 0) {
            more = true;
            break;
          }
        }
        records.push(r);
        last = w;
      }
      return { records, nextPageToken: more && last !== undefined ? encodePageToken(last.seq, fingerprint) : "" };
    },

    openWaitCount(coordinationId) {
      return peekState(coordinationId)?.open ?? 0;
    },

    openWaits(coordinationId) {
      const st = peekState(coordinationId);
      if (st === undefined || st.open === 0) return [];
      const out: DependencyRecordView[] = [];
      for (const w of st.waits.values()) if (w.status === "in_progress" && w.finishedAt === undefined) out.push(view(w));
      return out;
    },

    clear(coordinationId) {
      checkId("coordination_id", coordinationId, maxId);
      const c = store.peek(coordinationId);
      if (backend !== undefined) return c === undefined ? Promise.resolve(0) : backend.write({ kind: "clear", coordinationId, clearId: `${replicaId}:${nextWait++}` });
      const st = peekState(coordinationId);
      if (c === undefined || st === undefined) return 0;
      return applyClear(c, st, "");
    },
  };
}
