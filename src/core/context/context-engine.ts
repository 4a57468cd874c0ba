import { performance } from "node:perf_hooks";
import { ConsortError, Violations, type FieldViolation } from "../errors.js";
import { createEventQueue, type EventQueue } from "../event-queue.js";
import { findCycle } from "../graph.js";
import { checkJson } from "../json.js";
import { defaultLimits, type Limits } from "../limits.js";
import { decodePageToken, encodePageToken } from "../page-token.js";
import type { PageBudget } from "../sequence-log.js";
import { coordinationDropped, type Store } from "../store.js";
import { checkId, optionalId, pageSize, requireId } from "../validate.js";
import { checkAssignment, withDefaults } from "./assignment-checks.js";
import { createInMemoryContextBackend, type ContextBackend, type ContextMode, type ContextPlan, type ContextReturn } from "./context-backend.js";
import { createContextStates, type ContextChange, type ContextState, type LiveWatcher } from "./context-state.js";
import { emptySharedIntelligence, mergeSharedIntelligence, shapeViolation } from "./shared-intelligence.js";
import {
  defaultAllocation,
  defaultProtocols,
  sharedIntelligenceParts,
  type AgentContextRecord,
  type DistributeInput,
  type SharedIntelligence,
  type SharedIntelligencePart,
  type UpdateInput,
} from "./types.js";

export type { ContextChange } from "./context-state.js";

/** A registered watch of one agent's context: its queue of changes (the first are its initial state or replay). */
export interface ContextWatcher {
  /** The revision the watch started after: the resume point before anything is delivered. */
  readonly startRevision: number;
  readonly queue: EventQueue<ContextChange>;
  /** Unregisters (idempotent). */
  close(): void;
}

/** What a watcher's queue ends with when it overflows: {@link streamContextWatch} turns it into WATCHER_LAGGING. */
const lagging = Symbol("watcher lagging");

/** A watch as a pulled stream, and how far its consumer got. */
export interface ContextWatchStream {
  /** One change per item, as the consumer pulls them (so the transport's flow control paces delivery). */
  readonly changes: AsyncGenerator<ContextChange>;
  /** The revision of the last change the consumer took: where a resumed watch continues. */
  readonly lastRevision: number;
}

/**
 * Turns a watcher into a pulled stream. Throws WATCHER_LAGGING (with the resume point) when the watcher fell
 * behind; returns when `signal` aborts (client cancel, deadline or server shutdown: the caller tells them apart by
 * the signal's reason). Always closes the watcher — the one place a watch unregisters.
 */
export function streamContextWatch(w: ContextWatcher, signal?: AbortSignal): ContextWatchStream {
  let delivered = w.startRevision;
  async function* changes(): AsyncGenerator<ContextChange> {
    try {
      for (;;) {
        if (signal?.aborted === true) return;
        const items = w.queue.drain();
        for (const item of items) {
          // Delivered once handed over: the transport sends what it was given before any status, so a resume
          // point that left the last one out would have the client see it twice.
          delivered = item.revision;
          yield item;
        }
        if (items.length > 0) continue;
        if (w.queue.ended) {
          if (w.queue.endedWith === lagging) throw watcherLagging(delivered);
          if (w.queue.endedWith !== undefined) throw w.queue.endedWith;
          return;
        }
        await w.queue.wait(signal);
      }
    } finally {
      w.close();
    }
  }
  return {
    changes: changes(),
    get lastRevision() {
      return delivered;
    },
  };
}

/** A page of contexts in assignment order. */
export interface ContextPage {
  readonly contexts: readonly AgentContextRecord[];
  readonly nextPageToken: string;
  /** The coordination's revision as of this page. */
  readonly revision: number;
}

/** The context part of a coordination's summary (CoordinationService). */
export interface ContextSummary {
  /** Agents with a distributed context. */
  readonly agentsWithContext: number;
  /** Open WatchAgentContext watches. */
  readonly openWatches: number;
}

/** Observers of the engine, for server metrics. All optional. */
export interface ContextEngineHooks {
  /** A distribution to `agents` agents took `ms` of server time. */
  readonly onDistributed?: (agents: number, ms: number) => void;
  /** Open watches changed by `delta`. */
  readonly onWatchersChanged?: (delta: number) => void;
}

/** Options of {@link createContextEngine}. */
export interface ContextEngineOptions {
  readonly store: Store;
  /** @default defaultLimits */
  readonly limits?: Limits;
  readonly hooks?: ContextEngineHooks;
  /** Clock in milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * The most bytes a context may take when sent, and a check giving the bytes a context would take when it exceeds
   * them (`undefined` when it fits): a context that would not fit in one message is refused (distribution) or not
   * updated (update), so every stored context can be read back. @default no bound
   */
  readonly contextSize?: { readonly oversize: (context: AgentContextRecord) => number | undefined; readonly maxBytes: number };
  /** The bytes a context takes when sent, for the byte bound of the change window. @default 0 (no byte bound) */
  readonly sizeOf?: (context: AgentContextRecord) => number;
}

/** Options of {@link createContextEngine} with a backend: `M` is the backend's mode. */
export interface ContextEngineBackendOptions<M extends ContextMode> extends ContextEngineOptions {
  /**
   * Where changes go (see `context-backend.ts`): a shared one makes distribute, update and clear return promises.
   * Without one (`ContextEngineOptions`): the in-memory backend, synchronous.
   */
  readonly backend: ContextBackend<M>;
}

/**
 * The context engine: one context package per agent of a coordination, versions, revisions, watchers (SPEC.md §3).
 * `M` is its backend's mode: in memory (`local`, the default) every call is synchronous; with a shared backend the
 * changes (distribute, update, clear) return promises, resolved once applied here, and reads stay synchronous.
 */
export interface ContextEngine<M extends ContextMode = "local"> {
  /**
   * Validates and stores a distribution, replacing the coordination's contexts; returns the new contexts in
   * assignment order (as many as `budget` allows, with a token for ListAgentContexts beyond). Nothing is stored
   * on error. `found`: violations the caller found while decoding the request, reported with the engine's own.
   * Invalid input throws, whatever the backend.
   */
  distribute(input: DistributeInput, found?: readonly FieldViolation[], budget?: PageBudget<AgentContextRecord>): ContextReturn<M, ContextPage>;
  /** One agent's current context; `not_found` when it has none. */
  get(coordinationId: string, agentId: string): AgentContextRecord;
  /** Current contexts in assignment order, paginated. */
  list(input: { coordinationId: string; pageSize?: number; pageToken?: string; budget?: PageBudget<AgentContextRecord> }): ContextPage;
  /** A shared-intelligence update: for each targeted agent, whether its context was updated. */
  update(input: UpdateInput, found?: readonly FieldViolation[]): ContextReturn<M, UpdateResult>;
  /**
   * Throws what {@link distribute} refuses a call for on its input alone, touching nothing: how a caller on a shared
   * backend refuses an invalid call before serving its coordination.
   */
  checkDistribute(input: DistributeInput, found?: readonly FieldViolation[]): void;
  /** Like {@link checkDistribute}, for {@link update}. */
  checkUpdate(input: UpdateInput, found?: readonly FieldViolation[]): void;
  /** Like {@link checkDistribute}, for {@link watch}: the ids, the resume point, the server's watch limit. */
  checkWatch(input: { coordinationId: string; agentId: string; afterRevision?: number }): void;
  /** Drops every context of the coordination; false when it had none. */
  clear(coordinationId: string): ContextReturn<M, boolean>;
  /**
   * Watches one agent's context: the current state first (or, with `afterRevision`, every change after it).
   * `onOverflow` is called (synchronously, within the change) when the watcher falls behind its buffer, and
   * `onDropped` with the error when its coordination is deleted, so a transport can end the stream at once rather
   * than when the client next reads.
   */
  watch(input: { coordinationId: string; agentId: string; afterRevision?: number }, onOverflow?: () => void, onDropped?: (error: unknown) => void): ContextWatcher;
  /**
   * Resolves once the coordination's local state has applied `revision` (or the shared head is below it), for a
   * watch resuming after a revision another replica made; `undefined` when there is nothing to wait for (always in
   * memory). Rejects with a `ConsortError` when the shared backend cannot tell.
   */
  catchUp(coordinationId: string, revision: number): Promise<void> | undefined;
  /** The agents an agent's distributed assignment depends on; `undefined` when the agent has no context. */
  assignmentDependencies(coordinationId: string, agentId: string): readonly string[] | undefined;
  /** The coordination's contexts in figures; `undefined` when it has no context state. */
  summary(coordinationId: string): ContextSummary | undefined;
  /** Each agent with a context and its context's version, in assignment order. */
  agentVersions(coordinationId: string): ReadonlyMap<string, number>;
  /** Open watches on the server. */
  readonly watcherCount: number;
}

/** What an update returns: for each targeted agent, whether its context was updated, and the revision after it. */
export interface UpdateResult {
  readonly results: Record<string, boolean>;
  readonly revision: number;
}

/** A plan that changes nothing and answers `answer`. */
const unchanged = <T>(answer: T): ContextPlan<T> => ({ change: undefined, answer: () => answer });

const partSet: ReadonlySet<string> = new Set(sharedIntelligenceParts);
const coordinationStateMessage = "coordination_state must contain 'coordination_id' and 'session_id'";

/**
 * Creates a {@link ContextEngine} over a shared store: in memory (synchronous) without `backend`, else the
 * backend's mode.
 *
 * @example
 * const engine = createContextEngine({ store, backend: nats.contexts }); // ContextEngine<"shared">
 * const page = await engine.distribute({ coordinationId: "review-42", sessionId: "s", assignments });
 */
export function createContextEngine(options: ContextEngineOptions): ContextEngine;
export function createContextEngine<M extends ContextMode>(options: ContextEngineBackendOptions<M>): ContextEngine<M>;
export function createContextEngine(options: ContextEngineOptions & { readonly backend?: ContextBackend }): ContextEngine<ContextMode> {
  const { store } = options;
  const limits = options.limits ?? defaultLimits;
  const hooks = options.hooks ?? {};
  const now = options.now ?? Date.now;
  const maxId = limits.maxIdLength;
  const { sizeOf } = options;
  let watcherCount = 0;

  const states = createContextStates({ store, limits, sizeOf });
  const peekState = states.peek;
  const backend: ContextBackend = options.backend ?? createInMemoryContextBackend();
  backend.connect?.(states);

  const checkSize = (record: AgentContextRecord): number | undefined => options.contextSize?.oversize(record);

  // A dropped coordination's watches end (their consumers take what is queued, then the error), each with its
  // resume point; then the backend is told.
  store.onDrop((c, reason) => {
    const st = states.slotOf(c);
    if (st === undefined) return;
    for (const set of [...st.watchers.values()]) {
      for (const w of [...set]) {
        const error = coordinationDropped(c.id, reason, { head_revision: String(st.revision) });
        w.queue.end(error);
        w.onDropped?.(error);
      }
    }
    backend.drop?.(c.id, reason);
  });

  /** A forward page of `ids` from `start`, bounded by count and bytes; the token holds the next index. */
  const pageFrom = (st: ContextState, coordinationId: string, start: number, size: number, budget: PageBudget<AgentContextRecord> | undefined): ContextPage => {
    const out: AgentContextRecord[] = [];
    let bytes = 0;
    let i = start;
    for (; i < st.order.length && out.length < size; i++) {
      const record = st.contexts.get(st.order[i] as string) as AgentContextRecord;
      if (budget !== undefined) {
        bytes += budget.sizeOf(record);
        if (bytes > budget.maxBytes && out.length > 0) break;
      }
      out.push(record);
    }
    const more = i < st.order.length;
    return { contexts: out, nextPageToken: more ? encodePageToken(`${st.distribution}:${i}`, coordinationId) : "", revision: st.revision };
  };

  /** The input checks of distribute: throws every violation at once, touching nothing. */
  const checkedDistribute = (input: DistributeInput, found?: readonly FieldViolation[]) => {
    const v = new Violations(found);
    // The original's message, under each missing field.
    if (input.coordinationId === "") v.add("coordination_id", coordinationStateMessage);
    if (input.sessionId === "") v.add("session_id", coordinationStateMessage);
    optionalId(v, "coordination_id", input.coordinationId, maxId);
    optionalId(v, "session_id", input.sessionId, maxId);
    const parentWorkflowId = optionalId(v, "parent_workflow_id", input.parentWorkflowId ?? "", maxId);
    const si = input.sharedIntelligence ?? {};
    for (const part of ["type_registry", "validation_rules"] as const) {
      checkJson(v, `shared_intelligence.${part}`, si[part], limits.maxJsonDepth);
    }
    const { assignments } = input;
    if (assignments.length === 0) v.add("assignments", "must hold at least one assignment");
    if (assignments.length > limits.maxAgentsPerCoordination) {
      v.add("assignments", `must hold at most ${limits.maxAgentsPerCoordination} assignments, got ${assignments.length}`);
    }
    const firstIndex = new Map<string, number>();
    assignments.forEach((a, i) => {
      const f = `assignments[${i}]`;
      if (requireId(v, `${f}.agent_id`, a.agentId, maxId) !== "" && a.agentId.length <= maxId) {
        const j = firstIndex.get(a.agentId);
        if (j === undefined) firstIndex.set(a.agentId, i);
        else v.add(`${f}.agent_id`, `duplicates assignments[${j}].agent_id ${JSON.stringify(a.agentId)}: each agent has one assignment`);
      }
      checkAssignment(v, f, a, limits);
    });
    if (assignments.length <= limits.maxAgentsPerCoordination) {
      const deps = new Map(assignments.map((a) => [a.agentId, a.dependencies ?? []]));
      const cycle = findCycle([...firstIndex.keys()], (n) => deps.get(n) ?? []);
      if (cycle !== undefined) {
        v.add(`assignments[${firstIndex.get(cycle[0] as string)}].dependencies`, `dependency cycle: ${cycle.join(" -> ")}`);
      }
    }
    v.throwIfAny();
    return parentWorkflowId;
  };

  const checkedUpdate = (input: UpdateInput, found?: readonly FieldViolation[]) => {
    const v = new Violations(found);
    requireId(v, "coordination_id", input.coordinationId, maxId);
    (input.targetAgentIds ?? []).forEach((t, i) => requireId(v, `target_agent_ids[${i}]`, t, maxId));
    checkJson(v, "update_data", input.data, limits.maxJsonDepth);
    v.throwIfAny();
  };
  const checkedWatch = (input: { coordinationId: string; agentId: string; afterRevision?: number }) => {
    const v = new Violations();
    requireId(v, "coordination_id", input.coordinationId, maxId);
    requireId(v, "agent_id", input.agentId, maxId);
    const after = input.afterRevision;
    if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) v.add("after_revision", `must be a non-negative integer, got ${after}`);
    v.throwIfAny();
    if (watcherCount >= limits.maxSubscriptions) {
      throw new ConsortError("exhausted", `the server holds its limit of ${limits.maxSubscriptions} context watches`, {
        reason: "TOO_MANY_WATCHES",
        metadata: { limit: String(limits.maxSubscriptions) },
      });
    }
  };

  return {
    get watcherCount() {
      return watcherCount;
    },

    checkDistribute(input, found) {
      checkedDistribute(input, found);
    },
    checkUpdate: checkedUpdate,
    checkWatch: checkedWatch,

    distribute(input, found, budget) {
      const t0 = performance.now();
      const parentWorkflowId = checkedDistribute(input, found);
      const si = input.sharedIntelligence ?? {};
      const { assignments } = input;

      const shared: SharedIntelligence = Object.freeze({ ...emptySharedIntelligence, ...si });
      const id = input.coordinationId;
      // Planned against the local state: called again by a shared backend when another replica changed it first.
      const plan = (): ContextPlan<ContextPage> => {
        const t = now();
        const revision = (peekState(id)?.revision ?? 0) + 1;
        const records = assignments.map((a): AgentContextRecord => ({
          coordinationId: input.coordinationId,
          sessionId: input.sessionId,
          parentWorkflowId,
          assignment: {
            agentId: a.agentId,
            agentRole: a.agentRole || a.agentId,
            objective: a.objective ?? "",
            tasks: a.tasks ?? [],
            inputData: a.inputData ?? {},
            dependencies: a.dependencies ?? [],
            outputRequirements: a.outputRequirements ?? {},
            successCriteria: a.successCriteria ?? {},
          },
          shared,
          protocols: withDefaults(defaultProtocols, a.protocols),
          allocation: withDefaults(defaultAllocation, a.allocation),
          version: 1,
          revision,
          createdAt: t,
          updatedAt: t,
        }));
        for (const r of records) {
          const size = checkSize(r);
          if (size !== undefined) throw contextTooLarge(r.assignment.agentId, size, options.contextSize?.maxBytes ?? 0);
        }
        return {
          change: { kind: "distribute", revision, at: t, records },
          answer: () => {
            const page = pageFrom(states.peek(id) as ContextState, id, 0, records.length, budget);
            hooks.onDistributed?.(records.length, performance.now() - t0);
            return page;
          },
      };
      };
      return backend.submit(id, plan);
    },

    get(coordinationId, agentId) {
      const v = new Violations();
      requireId(v, "coordination_id", coordinationId, maxId);
      requireId(v, "agent_id", agentId, maxId);
      v.throwIfAny();
      const record = peekState(coordinationId)?.contexts.get(agentId);
      if (record === undefined) {
        throw new ConsortError("not_found", `agent ${JSON.stringify(agentId)} has no context in coordination ${JSON.stringify(coordinationId)}`, {
          reason: "CONTEXT_NOT_FOUND",
          metadata: { coordination_id: coordinationId, agent_id: agentId },
        });
      }
      return record;
    },

    list(input) {
      const v = new Violations();
      requireId(v, "coordination_id", input.coordinationId, maxId);
      const size = pageSize(v, input.pageSize ?? 0, limits.maxPageSize);
      const cursor = decodePageToken<string>(v, input.pageToken ?? "", input.coordinationId, "string");
      const st = peekState(input.coordinationId);
      let start = 0;
      if (cursor !== undefined) {
        const [distribution, index] = cursor.split(":").map(Number);
        if (!Number.isSafeInteger(index) || (index as number) < 0) v.add("page_token", "is malformed: pass the next_page_token of a previous page");
        else if (st === undefined || distribution !== st.distribution) {
          v.add("page_token", "is stale: the coordination's contexts were distributed again or cleared since; list again from the first page");
        } else start = index as number;
      }
      v.throwIfAny();
      if (st === undefined) return { contexts: [], nextPageToken: "", revision: 0 };
      return pageFrom(st, input.coordinationId, start, size, input.budget);
    },

    update(input, found) {
      checkedUpdate(input, found);
      const targets = input.targetAgentIds ?? [];
      const id = input.coordinationId;
      const plan = (): ContextPlan<UpdateResult> => {
        const st = peekState(id);
        // No prototype: an agent named "__proto__" is an ordinary key here.
        const results: Record<string, boolean> = Object.create(null) as Record<string, boolean>;
        if (st === undefined) return unchanged({ results, revision: 0 });
        const agents = targets.length > 0 ? targets : [...st.contexts.keys()];
        const part = partSet.has(input.part) ? (input.part as SharedIntelligencePart) : undefined;
        if (part === undefined || shapeViolation(part, input.data) !== undefined) {
          for (const a of agents) results[a] = false;
          return unchanged({ results, revision: st.revision });
        }
        const t = now();
        const revision = st.revision + 1;
        const increment = input.incrementVersion ?? true ? 1 : 0;
        // Agents that shared one shared intelligence still share one after the update: merged once per distinct copy.
        const merged = new Map<SharedIntelligence, SharedIntelligence>();
        const changes = new Map<string, AgentContextRecord | null>();
        for (const agentId of agents) {
          const old = changes.get(agentId) ?? st.contexts.get(agentId);
          if (old === undefined || old === null) {
            results[agentId] = false;
            continue;
          }
          if (changes.has(agentId)) continue; // a target named twice is updated once
          let shared = merged.get(old.shared);
          if (shared === undefined) merged.set(old.shared, (shared = mergeSharedIntelligence(old.shared, part, input.data)));
          const record: AgentContextRecord = { ...old, shared, version: old.version + increment, revision, updatedAt: t };
          if (checkSize(record) !== undefined) {
            results[agentId] = false;
            continue;
          }
          changes.set(agentId, record);
          results[agentId] = true;
        }
        if (changes.size === 0) return unchanged({ results, revision: st.revision });
        return { change: { kind: "update", revision, at: t, records: [...changes.values()] as AgentContextRecord[] }, answer: () => ({ results, revision }) };
      };
      return backend.submit(id, plan);
    },

    clear(coordinationId) {
      checkId("coordination_id", coordinationId, maxId);
      return backend.submit(coordinationId, (): ContextPlan<boolean> => {
        const st = peekState(coordinationId);
        if (st === undefined || st.contexts.size === 0) return unchanged(false);
        return { change: { kind: "clear", revision: st.revision + 1, at: now() }, answer: () => true };
      });
    },

    watch(input, onOverflow, onDropped) {
      checkedWatch(input);
      const after = input.afterRevision;
      // Checked against the state as it is, before anything is created: a refused watch leaves nothing behind.
      const existing = peekState(input.coordinationId);
      const head = existing?.revision ?? 0;
      if (after !== undefined) {
        if (after > head) {
          throw new ConsortError("out_of_range", `after_revision ${after} is beyond the newest revision ${head} of coordination ${input.coordinationId}; watch again without after_revision`, {
            reason: "REVISION_AHEAD",
            metadata: { head_revision: String(head) },
          });
        }
        const compacted = existing?.compactedThrough ?? 0;
        if (after < compacted) {
          throw new ConsortError("out_of_range", `after_revision ${after} is older than the changes the server keeps (from revision ${compacted + 1}); watch again without after_revision`, {
            reason: "REVISION_COMPACTED",
            metadata: { oldest_revision: String(compacted + 1), head_revision: String(head) },
          });
        }
      }
      const c = store.acquire(input.coordinationId);
      const st = states.of(c);
      let set = st.watchers.get(input.agentId);
      if (set === undefined) st.watchers.set(input.agentId, (set = new Set()));
      const watchers = set;
      // The initial state (or replay) is queued and the watcher registered in one synchronous step: every later
      // change reaches the queue, every earlier one is in the replay, none twice. A replay longer than the buffer
      // is still taken whole (it is bounded by the window).
      const initial: ContextChange[] = [];
      if (after === undefined) initial.push({ revision: st.revision, context: st.contexts.get(input.agentId) ?? null });
      else {
        for (const entry of st.window) {
          if (entry.revision <= after || !entry.changes.has(input.agentId)) continue;
          initial.push({ revision: entry.revision, context: entry.changes.get(input.agentId) ?? null });
        }
      }
      const live: LiveWatcher = {
        queue: createEventQueue<ContextChange>({
          limit: limits.subscriberBuffer,
          initial,
          overflow: () => {
            onOverflow?.();
            return lagging;
          },
          onClose: () => {
            watchers.delete(live);
            if (watchers.size === 0 && st.watchers.get(input.agentId) === watchers) st.watchers.delete(input.agentId);
            c.pins--;
            c.lastActivity = now();
            store.changed(c);
            watcherCount--;
            hooks.onWatchersChanged?.(-1);
          },
        }),
        onDropped,
      };
      watchers.add(live);
      c.pins++;
      watcherCount++;
      hooks.onWatchersChanged?.(1);
      return { startRevision: after ?? st.revision, queue: live.queue, close: () => live.queue.close() };
    },

    catchUp(coordinationId, revision) {
      if ((peekState(coordinationId)?.revision ?? 0) >= revision) return undefined;
      return backend.catchUp?.(coordinationId, revision);
    },

    summary(coordinationId) {
      const st = peekState(coordinationId);
      if (st === undefined) return undefined;
      let openWatches = 0;
      for (const set of st.watchers.values()) openWatches += set.size;
      return { agentsWithContext: st.contexts.size, openWatches };
    },

    agentVersions(coordinationId) {
      const out = new Map<string, number>();
      for (const [agentId, record] of peekState(coordinationId)?.contexts ?? []) out.set(agentId, record.version);
      return out;
    },

    assignmentDependencies(coordinationId, agentId) {
      return peekState(coordinationId)?.contexts.get(agentId)?.assignment.dependencies;
    },
  };
}

function contextTooLarge(agentId: string, size: number, limit: number): ConsortError {
  return new ConsortError("exhausted", `the context of agent ${JSON.stringify(agentId)} would take ${size} bytes, over the ${limit}-byte message limit`, {
    reason: "CONTEXT_TOO_LARGE",
    metadata: { agent_id: agentId, size_bytes: String(size), limit_bytes: String(limit) },
  });
}

/** The end of a watch that fell behind its buffer: resume after `lastRevision`. */
export function watcherLagging(lastRevision: number): ConsortError {
  return new ConsortError("exhausted", `the watcher fell behind its buffer of changes; resume with after_revision=${lastRevision}`, {
    reason: "WATCHER_LAGGING",
    metadata: { last_revision: String(lastRevision) },
  });
}

/** Shutdown's end of a watch: UNAVAILABLE with the revision to resume after. */
export function watchShuttingDown(lastRevision: number): ConsortError {
  return new ConsortError("unavailable", `server is shutting down; resume with after_revision=${lastRevision}`, {
    reason: "SHUTTING_DOWN",
    metadata: { last_revision: String(lastRevision) },
  });
}
