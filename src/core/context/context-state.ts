import type { EventQueue } from "../event-queue.js";
import type { Limits } from "../limits.js";
import type { Coordination, Store } from "../store.js";
import type { ContextCommit, ContextSnapshot, ContextViews } from "./context-backend.js";
import type { AgentContextRecord } from "./types.js";

/** One change of one agent's context, as a watcher receives it. */
export interface ContextChange {
  /** The coordination's revision this change brings the watcher up to. */
  readonly revision: number;
  /** The agent's context after the change; `null` when it has none. */
  readonly context: AgentContextRecord | null;
}

/** One revision in a coordination's change window. */
export interface ChangeEntry {
  readonly revision: number;
  /** The bytes of its contexts, as sent. */
  readonly bytes: number;
  /** agent id → its context after the change, `null` when removed. */
  readonly changes: ReadonlyMap<string, AgentContextRecord | null>;
}

/** A registered watch, as the state tells it of changes. */
export interface LiveWatcher {
  readonly queue: EventQueue<ContextChange>;
  /** Told the error when the watch is ended by the engine (its coordination dropped). */
  readonly onDropped: ((error: unknown) => void) | undefined;
}

/** The context part of a coordination (its store slot): what every read is served from. */
export interface ContextState {
  /** Current contexts by agent id, in assignment order. */
  contexts: Map<string, AgentContextRecord>;
  /** Agent ids in assignment order, for pages. */
  order: string[];
  /** The revision of the last distribution (or clear): a page token is valid only within one distribution. */
  distribution: number;
  revision: number;
  /** Recent changes, oldest first, for resumed watches. */
  readonly window: ChangeEntry[];
  /** Agent changes held by `window`, and their bytes. */
  windowItems: number;
  windowBytes: number;
  /** The newest revision no longer in `window` (0: none forgotten). */
  compactedThrough: number;
  readonly watchers: Map<string, Set<LiveWatcher>>;
}

/** Options of {@link createContextStates}. */
export interface ContextStatesOptions {
  readonly store: Store;
  /** The change window's bounds (`contextChangeWindow`, `contextChangeWindowBytes`). */
  readonly limits: Limits;
  /** The bytes a context takes when sent, for the byte bound of the change window. @default none (no byte bound) */
  readonly sizeOf?: ((context: AgentContextRecord) => number) | undefined;
}

/** The context states of a store's coordinations, and the one way they change ({@link ContextViews}). */
export interface ContextStates extends ContextViews {
  /** The coordination's state; `undefined` when it has none (never created, or its coordination dropped). */
  peek(coordinationId: string): ContextState | undefined;
  /** The coordination's state, created empty when missing. */
  of(coordination: Coordination): ContextState;
  /** The coordination's state if it has one (also while it is being dropped). */
  slotOf(coordination: Coordination): ContextState | undefined;
}

const SLOT = "contexts";

/**
 * Creates the states of `store`'s coordinations. Every change — planned here or on another replica — is applied by
 * {@link ContextViews.apply} or {@link ContextViews.restore}: recorded under its revision in the change window
 * (trimmed to its bounds) and pushed to the watchers of the agents it changes, in one synchronous step.
 */
export function createContextStates(options: ContextStatesOptions): ContextStates {
  const { store, limits, sizeOf } = options;

  const peek = (id: string) => store.peek(id)?.slots[SLOT] as ContextState | undefined;
  const of = (c: Coordination): ContextState => {
    let s = c.slots[SLOT] as ContextState | undefined;
    if (s === undefined) {
      s = { contexts: new Map(), order: [], distribution: 0, revision: 0, window: [], windowItems: 0, windowBytes: 0, compactedThrough: 0, watchers: new Map() };
      c.slots[SLOT] = s;
    }
    return s;
  };
  const held = (id: string): ContextState => {
    const st = peek(id);
    if (st === undefined) throw new Error(`no context state is held for coordination ${JSON.stringify(id)}`);
    return st;
  };

  /** Records a change under the state's revision, trims the window, and tells the agents' watchers. */
  const commit = (st: ContextState, changes: Map<string, AgentContextRecord | null>) => {
    let bytes = 0;
    if (sizeOf !== undefined) for (const r of changes.values()) if (r !== null) bytes += sizeOf(r);
    const entry: ChangeEntry = { revision: st.revision, bytes, changes };
    st.window.push(entry);
    st.windowItems += changes.size;
    st.windowBytes += bytes;
    while ((st.windowItems > limits.contextChangeWindow || st.windowBytes > limits.contextChangeWindowBytes) && st.window.length > 1) {
      const old = st.window.shift() as ChangeEntry;
      st.windowItems -= old.changes.size;
      st.windowBytes -= old.bytes;
      st.compactedThrough = old.revision;
    }
    if (st.watchers.size === 0) return;
    for (const [agentId, context] of changes) {
      const set = st.watchers.get(agentId);
      if (set === undefined) continue;
      for (const w of set) w.queue.push({ revision: entry.revision, context });
    }
  };

  /** Forgets the change window: a watch resuming from before `through` is told REVISION_COMPACTED. */
  const forgetWindow = (st: ContextState, through: number) => {
    st.window.length = 0;
    st.windowItems = 0;
    st.windowBytes = 0;
    st.compactedThrough = through;
  };

  /** The contexts become `records` at `revision` (a distribution, or a restored snapshot). */
  const replace = (st: ContextState, revision: number, distribution: number, records: readonly AgentContextRecord[]) => {
    // A state that skips revisions (loaded after a gap) keeps no window from before it.
    if (revision > st.revision + 1) forgetWindow(st, revision - 1);
    const changes = new Map<string, AgentContextRecord | null>();
    for (const id of st.contexts.keys()) changes.set(id, null);
    st.contexts = new Map();
    for (const r of records) {
      st.contexts.set(r.assignment.agentId, r);
      changes.set(r.assignment.agentId, r);
    }
    st.order = records.map((r) => r.assignment.agentId);
    st.revision = revision;
    st.distribution = distribution;
    commit(st, changes);
  };

  const apply = (id: string, change: ContextCommit) => {
    if (change.kind === "distribute") {
      const st = of(store.acquire(id));
      if (change.revision <= st.revision) throw new RangeError(`revision ${change.revision} of coordination ${JSON.stringify(id)} is not after its revision ${st.revision}`);
      replace(st, change.revision, change.revision, change.records);
      return;
    }
    const st = held(id);
    if (change.kind === "update" ? change.revision !== st.revision + 1 : change.revision <= st.revision) {
      throw new RangeError(`a ${change.kind} at revision ${change.revision} cannot follow revision ${st.revision} of coordination ${JSON.stringify(id)}`);
    }
    const c = store.peek(id);
    if (change.kind === "update") {
      const changes = new Map<string, AgentContextRecord | null>();
      for (const r of change.records) {
        st.contexts.set(r.assignment.agentId, r);
        changes.set(r.assignment.agentId, r);
      }
      st.revision = change.revision;
      if (c !== undefined) {
        c.lastActivity = change.at;
        store.changed(c);
      }
      commit(st, changes);
      return;
    }
    const changes = new Map<string, AgentContextRecord | null>();
    for (const agentId of st.contexts.keys()) changes.set(agentId, null);
    st.contexts = new Map();
    st.order = [];
    st.revision = change.revision;
    st.distribution = change.revision;
    commit(st, changes);
    if (c !== undefined) store.changed(c);
    // The window of changes goes too (its records are what a cleared coordination would otherwise hold until it
    // expires): open watches have been told, and a watch resuming from before the clear is REVISION_COMPACTED.
    forgetWindow(st, change.revision);
  };

  return {
    peek,
    of,
    slotOf: (c) => c.slots[SLOT] as ContextState | undefined,
    revision: (id) => peek(id)?.revision,
    open: (id) => of(store.acquire(id)).revision,
    apply,
    snapshot(id) {
      const st = peek(id);
      if (st === undefined) return undefined;
      return { revision: st.revision, distribution: st.distribution, records: st.order.map((a) => st.contexts.get(a) as AgentContextRecord) };
    },
    restore(id, snapshot) {
      const st = held(id);
      if (snapshot.revision <= st.revision) throw new RangeError(`a snapshot at revision ${snapshot.revision} is not after revision ${st.revision} of coordination ${JSON.stringify(id)}`);
      replace(st, snapshot.revision, snapshot.distribution, snapshot.records);
      // Its revision summarizes many changes: a watch cannot resume from within them.
      forgetWindow(st, snapshot.revision);
    },
  };
}
