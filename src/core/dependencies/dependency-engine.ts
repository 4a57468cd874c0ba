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
  /** Publishing `dependency_resolved` failed unexpectedly (the call's result is returned all the same). */
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
}

/** The dependency engine: event-driven waits on completions, resources and gates (SPEC.md §4). */
export interface DependencyEngine {
  /**
   * Starts (or joins, or reads back) the waits of one agent's dependencies; see ResolveDependencies in the
   * contract. Validation, mismatch and limit errors are thrown before anything is registered. `found`: violations
   * the caller found while decoding the request.
   */
  resolve(input: ResolveInput, found?: readonly FieldViolation[]): ResolveCall;
  /** Records a gate's score (0..1) and releases the waits it satisfies; returns how many. */
  setGateScore(coordinationId: string, gateId: string, score: number): number;
  /** Records a resource's availability; marking it available releases its waits; returns how many. */
  setResourceAvailability(coordinationId: string, resourceId: string, available: boolean): number;
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
  /** Drops records, completions, gate scores and resources; open waits end `failed` "cleared". Returns the records dropped. */
  clear(coordinationId: string): number;
  /** Open (in-progress) waits of the coordination; 0 when unknown. O(1). */
  openWaitCount(coordinationId: string): number;
  /** The coordination's open waits, oldest first. */
  openWaits(coordinationId: string): readonly DependencyRecordView[];
  /** Open waits on the server. */
  readonly pendingCount: number;
}

/** One wait, mutable while open. */
interface Wait {
  readonly seq: number;
  readonly coordination: Coordination;
  readonly agentId: string;
  readonly dependencyId: string;
  readonly timeoutMs: number;
  readonly target: DependencyTarget;
  status: DependencyStatus;
  message: string;
  readonly startedAt: number;
  readonly startedHr: number;
  finishedAt: number | undefined;
  durationMs: number;
  /** Calls waiting on it. */
  callers: number;
  /** Ended because its last caller left (deadline, cancel, shutdown): a later call with its id starts it again. */
  abandoned: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Told once, when the wait finishes. */
  readonly listeners: Set<() => void>;
  /** Set when the wait ended because its coordination was dropped: its calls fail with it. */
  droppedWith: ConsortError | undefined;
}

/** The dependency part of a coordination (its store slot). */
interface DependencyState {
  /** agent \0 dependency id → wait, oldest first. */
  readonly waits: Map<string, Wait>;
  /** Finished waits, oldest first (from `finishedHead`), for trimming; may hold waits already dropped. */
  finishedOrder: Wait[];
  finishedHead: number;
  /** Latest completion per agent. */
  readonly completions: Map<string, { readonly success: boolean; readonly sequence: number }>;
  readonly gates: Map<string, number>;
  readonly resources: Map<string, boolean>;
  /** Open waits by what wakes them. */
  readonly onCompletion: Map<string, Set<Wait>>;
  readonly onGate: Map<string, Set<Wait>>;
  readonly onResource: Map<string, Set<Wait>>;
  /** The wait-for graph of open completion waits: waiter → awaited agent → open waits on that edge. */
  readonly waitsFor: Map<string, Map<string, number>>;
  /** Registered waits not yet finished. */
  open: number;
}

const SLOT = "dependencies";
const defaultTimeoutMs = 120_000;
/** Longest dependency timeout: a day (timers cannot exceed ~24.8 days anyway). */
const maxTimeoutMs = 86_400_000;
/** Calls a burst of releases (one gate score freeing 10,000 waiters) tells per event-loop turn; the rest follow. */
const releasesPerTurn = 256;
const keyOf = (agentId: string, dependencyId: string) => `${agentId}\u0000${dependencyId}`;

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(value);
}
function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

/** Seconds as the original printed them: `1`, `0.5`, `120`. */
const seconds = (ms: number) => `${Math.round(ms) / 1000}`;

/** Whether a completion's data says it failed: `success` false, or `error` set (truthy). */
export function completionFailed(data: JsonObject): boolean {
  return data["success"] === false || truthy(data["error"]);
}

function sameTarget(a: DependencyTarget, b: DependencyTarget): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case "agent_completion":
      return b.type === a.type && a.agentId === b.agentId && a.requireSuccess === b.requireSuccess;
    case "resource_availability":
      return b.type === a.type && a.resourceId === b.resourceId;
    case "quality_gate":
      return b.type === a.type && a.gateId === b.gateId && a.threshold === b.threshold;
  }
}

/** Creates a {@link DependencyEngine} over a shared store, fed by the signal engine's appends. */
export function createDependencyEngine(options: DependencyEngineOptions): DependencyEngine {
  const { store, signals } = options;
  const limits = options.limits ?? defaultLimits;
  const hooks = options.hooks ?? {};
  const now = options.now ?? Date.now;
  const maxId = limits.maxIdLength;
  let pending = 0;
  let nextSeq = 1;
  const tell = createSlicedRunner(releasesPerTurn);

  const peekState = (id: string) => store.peek(id)?.slots[SLOT] as DependencyState | undefined;
  const stateOf = (c: Coordination): DependencyState => {
    let s = c.slots[SLOT] as DependencyState | undefined;
    if (s === undefined) {
      s = {
        waits: new Map(),
        finishedOrder: [],
        finishedHead: 0,
        completions: new Map(),
        gates: new Map(),
        resources: new Map(),
        onCompletion: new Map(),
        onGate: new Map(),
        onResource: new Map(),
        waitsFor: new Map(),
        open: 0,
      };
      c.slots[SLOT] = s;
    }
    return s;
  };

  const addEdge = (st: DependencyState, from: string, to: string, delta: number) => {
    let out = st.waitsFor.get(from);
    if (out === undefined) st.waitsFor.set(from, (out = new Map()));
    const n = (out.get(to) ?? 0) + delta;
    if (n > 0) out.set(to, n);
    else {
      out.delete(to);
      if (out.size === 0) st.waitsFor.delete(from);
    }
  };

  const keyOfWait = (w: Wait) => keyOf(w.agentId, w.dependencyId);
  /** Drops the oldest finished records beyond the per-coordination bound, oldest first, in O(dropped). */
  const trim = (st: DependencyState) => {
    while (st.finishedOrder.length - st.finishedHead > limits.maxDependencyRecords) {
      const w = st.finishedOrder[st.finishedHead] as Wait;
      st.finishedOrder[st.finishedHead++] = undefined as unknown as Wait;
      const key = keyOfWait(w);
      if (st.waits.get(key) === w) st.waits.delete(key);
    }
    if (st.finishedHead > 1024 && st.finishedHead * 2 > st.finishedOrder.length) {
      st.finishedOrder = st.finishedOrder.slice(st.finishedHead);
      st.finishedHead = 0;
    }
  };

  /** Ends an open wait: unindexes it, stops its timer and tells its calls. */
  const finish = (st: DependencyState, w: Wait, status: DependencyStatus, message: string) => {
    if (w.finishedAt !== undefined) return;
    const registered = w.status === "in_progress";
    w.status = status;
    w.message = message;
    w.finishedAt = now();
    w.durationMs = performance.now() - w.startedHr;
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.timer = undefined;
    if (registered) {
      // Registered waits only: a wait decided at once was never indexed.
      switch (w.target.type) {
        case "agent_completion":
          removeFrom(st.onCompletion, w.target.agentId, w);
          addEdge(st, w.agentId, w.target.agentId, -1);
          break;
        case "quality_gate":
          removeFrom(st.onGate, w.target.gateId, w);
          break;
        case "resource_availability":
          removeFrom(st.onResource, w.target.resourceId, w);
          break;
      }
    }
    st.finishedOrder.push(w);
    hooks.onFinished?.(status, w.durationMs);
    // The record is final now; its calls are told at most `releasesPerTurn` per event-loop turn.
    for (const l of w.listeners) tell(l);
    w.listeners.clear();
  };
  /** Ends a registered (counted) wait. */
  const release = (st: DependencyState, w: Wait, status: DependencyStatus, message: string) => {
    if (w.finishedAt !== undefined) return;
    finish(st, w, status, message);
    st.open--;
    pending--;
    w.coordination.pins--;
    store.changed(w.coordination);
    hooks.onPendingChanged?.(-1);
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

  // Completions land here synchronously within their publish: the wake-up cannot be lost.
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
        release(st, w, status, message);
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

  const register = (st: DependencyState, w: Wait) => {
    w.status = "in_progress";
    const t = w.target;
    switch (t.type) {
      case "agent_completion":
        addTo(st.onCompletion, t.agentId, w);
        addEdge(st, w.agentId, t.agentId, 1);
        break;
      case "quality_gate":
        addTo(st.onGate, t.gateId, w);
        break;
      case "resource_availability":
        addTo(st.onResource, t.resourceId, w);
        break;
    }
    st.open++;
    pending++;
    w.coordination.pins++;
    hooks.onPendingChanged?.(1);
    w.timer = setTimeout(() => release(st, w, "timeout", `Dependency '${w.dependencyId}' timed out after ${seconds(w.timeoutMs)}s`), w.timeoutMs);
  };

  // A dropped coordination's open waits end at once, so the server-wide count and the timers are right; their calls
  // fail with the drop (see ResolveCall.result). Records, completions, gates and resources go with the coordination.
  store.onDrop((c, reason) => {
    const st = c.slots[SLOT] as DependencyState | undefined;
    if (st === undefined || st.open === 0) return;
    const error = coordinationDropped(c.id, reason);
    for (const w of [...st.waits.values()]) {
      if (w.status !== "in_progress" || w.finishedAt !== undefined) continue;
      w.droppedWith = error;
      release(st, w, "failed", `Dependency '${w.dependencyId}' ended: ${error.message}`);
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

  /** Publishes `dependency_resolved` once per set of waits, however many calls joined them. */
  const announce = (coordinationId: string, agentId: string, waits: readonly Wait[]): unknown => {
    const key = `dependency_resolved:${createHash("sha256")
      .update(`${agentId}\u0000${waits.map((w) => w.seq).join(",")}`)
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

  return {
    get pendingCount() {
      return pending;
    },

    resolve(input, found) {
      const v = new Violations(found);
      requireId(v, "coordination_id", input.coordinationId, maxId);
      requireId(v, "agent_id", input.agentId, maxId);
      let deps: readonly DependencyInput[] = input.dependencies;
      const seen = new Map<string, number>();
      const targets: (DependencyTarget | undefined)[] = deps.map((d, i) => {
        const f = `dependencies[${i}]`;
        if (requireId(v, `${f}.dependency_id`, d.dependencyId, maxId) !== "") {
          const j = seen.get(d.dependencyId);
          if (j !== undefined) v.add(`${f}.dependency_id`, `duplicates dependencies[${j}].dependency_id ${JSON.stringify(d.dependencyId)}`);
          else seen.set(d.dependencyId, i);
        }
        if (d.timeoutMs !== undefined && !(d.timeoutMs > 0 && d.timeoutMs <= maxTimeoutMs)) {
          v.add(`${f}.timeout`, `must be more than 0 and at most ${maxTimeoutMs / 1000}s (unset means ${defaultTimeoutMs / 1000}s), got ${d.timeoutMs}ms`);
        }
        const t = d.target;
        switch (t?.type) {
          case undefined:
            v.add(`${f}.target`, "must set exactly one of agent_completion, resource, quality_gate");
            return undefined;
          case "agent_completion":
            requireId(v, `${f}.agent_completion.agent_id`, t.agentId, maxId);
            return { type: t.type, agentId: t.agentId, requireSuccess: t.requireSuccess ?? true };
          case "resource_availability":
            requireId(v, `${f}.resource.resource_id`, t.resourceId, maxId);
            return { type: t.type, resourceId: t.resourceId };
          case "quality_gate": {
            requireId(v, `${f}.quality_gate.gate_id`, t.gateId, maxId);
            const threshold = t.threshold ?? 0.8;
            if (!(threshold >= 0 && threshold <= 1)) v.add(`${f}.quality_gate.threshold`, `must be between 0 and 1, got ${threshold}`);
            return { type: t.type, gateId: t.gateId, threshold };
          }
        }
      });
      v.throwIfAny();
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
        if (!sameTarget(w.target, resolvedTargets[i] as DependencyTarget) || w.timeoutMs !== timeoutMs) {
          throw new ConsortError(
            "failed_precondition",
            `dependency ${JSON.stringify(d.dependencyId)} of agent ${JSON.stringify(input.agentId)} is already recorded with a different target or timeout; use a new dependency id or ClearDependencies`,
            { reason: "DEPENDENCY_MISMATCH", metadata: { dependency_id: d.dependencyId, agent_id: input.agentId } },
          );
        }
      });
      if (pending + fresh > limits.maxPendingWaits) {
        throw new ConsortError("exhausted", `the server holds its limit of ${limits.maxPendingWaits} pending dependency waits`, {
          reason: "TOO_MANY_WAITS",
          metadata: { limit: String(limits.maxPendingWaits) },
        });
      }

      const c = store.acquire(input.coordinationId);
      const st = stateOf(c);
      const waits = deps.map((d, i): Wait => {
        const key = keyOf(input.agentId, d.dependencyId);
        const old = st.waits.get(key);
        if (reusable(old)) {
          if (old.finishedAt === undefined) old.callers++;
          return old;
        }
        if (old !== undefined) st.waits.delete(key); // started again, below: the newest record is the one kept
        const w: Wait = {
          seq: nextSeq++,
          coordination: c,
          agentId: input.agentId,
          dependencyId: d.dependencyId,
          timeoutMs: d.timeoutMs ?? defaultTimeoutMs,
          target: resolvedTargets[i] as DependencyTarget,
          status: "pending",
          message: "",
          startedAt: now(),
          startedHr: performance.now(),
          finishedAt: undefined,
          durationMs: 0,
          callers: 1,
          abandoned: false,
          timer: undefined,
          listeners: new Set(),
          droppedWith: undefined,
        };
        st.waits.set(key, w);
        // Checked against current state and, if it must wait, registered in one synchronous step: the event that
        // satisfies it cannot land in between.
        const now_ = decideNow(st, w);
        if (now_ !== undefined) finish(st, w, now_[0], now_[1]);
        else register(st, w);
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
      const results = () => ({ success: waits.every((w) => w.status === "resolved"), results: waits.map(outcome) });
      // Distinct open waits: the same wait listed twice is one wait to hear from.
      let open = 0;
      const onFinished = () => {
        if (--open > 0 || abandoned) return;
        // Deferred: a completion is handled inside its publish, and dependency_resolved must not be published
        // (and delivered) before the completion itself reaches subscribers.
        queueMicrotask(() => {
          if (abandoned) return;
          const dropped = waits.find((w) => w.droppedWith !== undefined)?.droppedWith;
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
            if (r.success && store.peek(input.coordinationId) === c) announced = announce(input.coordinationId, input.agentId, waits);
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
      return {
        result,
        abandon(kind) {
          if (abandoned) return;
          abandoned = true;
          for (const w of waits) {
            if (w.finishedAt !== undefined) continue;
            w.listeners.delete(onFinished);
            if (--w.callers > 0) continue;
            w.abandoned = true;
            if (kind === "deadline") release(st, w, "timeout", `Dependency '${w.dependencyId}' timed out after ${seconds(performance.now() - w.startedHr)}s: the call's deadline passed`);
            else if (kind === "cancelled") release(st, w, "failed", `Dependency '${w.dependencyId}' cancelled`);
            else release(st, w, "failed", `Dependency '${w.dependencyId}' ended: the server is shutting down`);
          }
          settle(results());
        },
      };
    },

    setGateScore(coordinationId, gateId, score) {
      const v = new Violations();
      requireId(v, "coordination_id", coordinationId, maxId);
      requireId(v, "gate_id", gateId, maxId);
      if (!(score >= 0 && score <= 1)) v.add("score", `must be between 0 and 1, got ${score}`);
      v.throwIfAny();
      const st = stateOf(store.acquire(coordinationId));
      checkRoom(st.gates, gateId, "quality gates", "TOO_MANY_GATES");
      st.gates.set(gateId, score);
      const waiting = st.onGate.get(gateId);
      if (waiting === undefined) return 0;
      let released = 0;
      for (const w of [...waiting]) {
        if (score >= (w.target as Extract<DependencyTarget, { type: "quality_gate" }>).threshold) {
          release(st, w, "resolved", "");
          released++;
        }
      }
      return released;
    },

    setResourceAvailability(coordinationId, resourceId, available) {
      const v = new Violations();
      requireId(v, "coordination_id", coordinationId, maxId);
      requireId(v, "resource_id", resourceId, maxId);
      v.throwIfAny();
      const st = stateOf(store.acquire(coordinationId));
      checkRoom(st.resources, resourceId, "resources", "TOO_MANY_RESOURCES");
      st.resources.set(resourceId, available);
      const waiting = available ? st.onResource.get(resourceId) : undefined;
      if (waiting === undefined) return 0;
      const list = [...waiting];
      for (const w of list) release(st, w, "resolved", "");
      return list.length;
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
      const st = peekState(coordinationId);
      if (c === undefined || st === undefined) return 0;
      c.lastActivity = now();
      store.changed(c);
      const n = st.waits.size;
      for (const w of [...st.waits.values()]) release(st, w, "failed", `Dependency '${w.dependencyId}' cleared`);
      st.waits.clear();
      st.finishedOrder = [];
      st.finishedHead = 0;
      st.completions.clear();
      st.gates.clear();
      st.resources.clear();
      return n;
    },
  };
}
