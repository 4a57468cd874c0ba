import { ConsortError } from "../errors.js";
import type { Coordination } from "../store.js";
import type { DependencyStatus, DependencyTarget } from "./types.js";

/**
 * The dependency engine's state of one coordination (its store slot) and the indexes over its waits: plain data and
 * the small functions that keep the indexes right. The engine (`dependency-engine.ts`) decides when waits start
 * and end; this file only says how a wait is filed and unfiled.
 */

/** One wait, mutable while open: this replica's own, or a mirror of another replica's. */
export interface Wait {
  /** Local order of the records (pages); given when the wait is applied. */
  seq: number;
  /** Unique across replicas (see {@link SharedDependencyRecord.waitId}). */
  readonly waitId: string;
  /** Whether this replica owns it (always, in memory); a mirror ends only by its owner's final record or expiry. */
  readonly owned: boolean;
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
  /** Whether it is in the indexes (what wakes it, the wait-for graph). */
  indexed: boolean;
  /** A proposal (shared backend, start record not yet applied) its call left: how it ends once applied. */
  leftWith: readonly [DependencyStatus, string] | undefined;
  /** A proposal that joined an open wait of the same key when applied, or a mirror this replica took over: the wait its calls hear from. */
  joined: Wait | undefined;
}

/** What a new wait is made of; the rest starts undecided: pending, no timer, nothing told, joined to nothing. */
export type WaitInit = Pick<Wait, "seq" | "waitId" | "owned" | "coordination" | "agentId" | "dependencyId" | "timeoutMs" | "target" | "startedAt" | "startedHr" | "callers"> & {
  /** Calls to tell when it finishes. @default none */
  readonly listeners?: Iterable<() => void>;
};

/** A new, undecided {@link Wait} (a call's own, a mirror, a record read back, a take-over). */
export function newWait(init: WaitInit): Wait {
  return {
    ...init,
    status: "pending",
    message: "",
    finishedAt: undefined,
    durationMs: 0,
    abandoned: false,
    timer: undefined,
    listeners: new Set(init.listeners ?? []),
    droppedWith: undefined,
    indexed: false,
    leftWith: undefined,
    joined: undefined,
  };
}

/** The dependency part of a coordination (its store slot). */
export interface DependencyState {
  /** agent \0 dependency id → wait, oldest first. */
  readonly waits: Map<string, Wait>;
  /** Finished waits, oldest first (from `finishedHead`), for trimming; may hold waits already dropped. */
  finishedOrder: Wait[];
  finishedHead: number;
  /** Latest completion per agent. */
  readonly completions: Map<string, { readonly success: boolean; readonly sequence: number }>;
  readonly gates: Map<string, number>;
  readonly resources: Map<string, boolean>;
  /** Open waits by what wakes them (mirrors of completion waits are only in the graph). */
  readonly onCompletion: Map<string, Set<Wait>>;
  readonly onGate: Map<string, Set<Wait>>;
  readonly onResource: Map<string, Set<Wait>>;
  /** The wait-for graph of open completion waits (mirrors included): waiter → awaited agent → open waits on that edge. */
  readonly waitsFor: Map<string, Map<string, number>>;
  /** Registered waits not yet finished, mirrors included. */
  open: number;
  /** The id of the last ClearDependencies applied ("" for none; always "" in memory). */
  lastClear: string;
}

/** The coordination slot the dependency engine keeps its state in. */
export const dependencySlot = "dependencies";

/** A wait's key in {@link DependencyState.waits}: the waiting agent and the dependency id. */
export const keyOf = (agentId: string, dependencyId: string) => `${agentId}\u0000${dependencyId}`;

/** Seconds as the original printed them: `1`, `0.5`, `120`. */
export const seconds = (ms: number) => `${Math.round(ms) / 1000}`;

/** The coordination's dependency state, created empty on first use. */
export function stateOf(c: Coordination): DependencyState {
  let s = c.slots[dependencySlot] as DependencyState | undefined;
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
      lastClear: "",
    };
    c.slots[dependencySlot] = s;
  }
  return s;
}

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
function addEdge(st: DependencyState, from: string, to: string, delta: number): void {
  let out = st.waitsFor.get(from);
  if (out === undefined) st.waitsFor.set(from, (out = new Map()));
  const n = (out.get(to) ?? 0) + delta;
  if (n > 0) out.set(to, n);
  else {
    out.delete(to);
    if (out.size === 0) st.waitsFor.delete(from);
  }
}

/**
 * Files an open wait under what wakes it and in the wait-for graph. A mirror of a completion wait goes into the
 * graph only: completions release a replica's own waits, its owner's record ends a mirror.
 */
export function indexWait(st: DependencyState, w: Wait): void {
  w.indexed = true;
  const t = w.target;
  switch (t.type) {
    case "agent_completion":
      if (w.owned) addTo(st.onCompletion, t.agentId, w);
      addEdge(st, w.agentId, t.agentId, 1);
      break;
    case "quality_gate":
      addTo(st.onGate, t.gateId, w);
      break;
    case "resource_availability":
      addTo(st.onResource, t.resourceId, w);
      break;
  }
}

/** Takes a wait out of the indexes and the wait-for graph. Idempotent. */
export function unindexWait(st: DependencyState, w: Wait): void {
  if (!w.indexed) return;
  w.indexed = false;
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

/** Drops the oldest finished records beyond `maxRecords`, oldest first, in O(dropped). */
export function trimRecords(st: DependencyState, maxRecords: number): void {
  while (st.finishedOrder.length - st.finishedHead > maxRecords) {
    const w = st.finishedOrder[st.finishedHead] as Wait;
    st.finishedOrder[st.finishedHead++] = undefined as unknown as Wait;
    const key = keyOf(w.agentId, w.dependencyId);
    if (st.waits.get(key) === w) st.waits.delete(key);
  }
  if (st.finishedHead > 1024 && st.finishedHead * 2 > st.finishedOrder.length) {
    st.finishedOrder = st.finishedOrder.slice(st.finishedHead);
    st.finishedHead = 0;
  }
}

/** Whether two targets are the same, every default applied. */
export function sameTarget(a: DependencyTarget, b: DependencyTarget): boolean {
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

/** The error of a dependency id already recorded with another target or timeout (DEPENDENCY_MISMATCH). */
export const dependencyMismatch = (agentId: string, dependencyId: string) =>
  new ConsortError(
    "failed_precondition",
    `dependency ${JSON.stringify(dependencyId)} of agent ${JSON.stringify(agentId)} is already recorded with a different target or timeout; use a new dependency id or ClearDependencies`,
    { reason: "DEPENDENCY_MISMATCH", metadata: { dependency_id: dependencyId, agent_id: agentId } },
  );
