import { ConsortError, Violations, type FieldViolation } from "../errors.js";
import { defaultLimits, type Limits } from "../limits.js";
import { decodePageToken, encodePageToken, queryFingerprint } from "../page-token.js";
import type { PageBudget } from "../sequence-log.js";
import { createStore, type Coordination, type Store } from "../store.js";
import { checkId, optionalId, pageSize, requireId } from "../validate.js";
import { aggregate } from "./aggregate.js";
import { checkJson, jsonByteSize } from "../json.js";
import { createRoutingHistory, type RoutingHistory } from "./history.js";
import { validateRouters, type RouterInput } from "./policy.js";
import type { PolicyBackend, PolicyRecord, PolicyResult } from "./policy-backend.js";
import { compileRouter, type CompiledRouter } from "./routers.js";
import { createRunningStats, emptyStats, type RunningStats } from "./running-stats.js";
import { routingStrategies, type RoutingContext, type RoutingPolicy, type RoutingRecord, type RoutingStats } from "./types.js";
import { createUuidSource } from "../uuid.js";

/** A Route call: a stored policy by id, or an inline policy (recorded under its own id). */
export interface RouteInput {
  readonly policyId?: string | undefined;
  readonly inline?: { readonly policyId: string; readonly routers: readonly RouterInput[] } | undefined;
  readonly currentTask: string;
  /** @default {} */
  readonly state?: RoutingContext["state"] | undefined;
  /** @default 0 */
  readonly executionTimeMs?: number | undefined;
  /** @default 0 */
  readonly retryCount?: number | undefined;
  /** @default {} */
  readonly customData?: RoutingContext["customData"] | undefined;
  /** @default "" */
  readonly correlationId?: string | undefined;
  /** The coordination the result is tied to; "" for none. @default "" */
  readonly coordinationId?: string | undefined;
}

/** Options of {@link createRoutingEngine}. */
export interface RoutingEngineOptions {
  /**
   * The coordinations: a Route with a coordination id acquires it, and its results go when it is dropped.
   * @default a store of the engine's own
   */
  readonly store?: Store;
  /** @default defaultLimits */
  readonly limits?: Limits;
  /** Called when a router throws and is skipped. */
  readonly onRouterError?: (policyId: string, strategy: string, error: unknown) => void;
  /** Called after every decision with its in-core time. */
  readonly onRouted?: (record: RoutingRecord) => void;
  /** Clock in milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * The most bytes a stored policy may take when sent, and a check giving the bytes a policy would take when it
   * exceeds them (`undefined` when it fits): a policy no GetRoutingPolicy could return is refused. @default no bound
   */
  readonly policySize?: { readonly oversize: (policy: RoutingPolicy) => number | undefined; readonly maxBytes: number };
  /**
   * Where stored policies are kept when several replicas share them (DESIGN.md §8); unset: this process only, and
   * PutRoutingPolicy and DeleteRoutingPolicy answer synchronously. See {@link PolicyBackend}. @default none
   */
  readonly policyBackend?: PolicyBackend;
}


/** A page request: `pageSize` 0 means the default; a budget bounds the page's bytes as sent. */
export interface PageInput<T> {
  readonly pageSize?: number;
  readonly pageToken?: string;
  /** @default no byte bound */
  readonly budget?: PageBudget<T>;
}

/**
 * The routing engine: stored policies, Route, bounded history per policy id, running stats (SPEC.md §2). Policies,
 * histories and stats are server-wide; a result routed with a coordination id is tied to that coordination and
 * leaves its history when the coordination is dropped (deleted or expired), while the policy's stats keep it.
 * Calls that take `found` report those violations (found by the caller while decoding the request) with their
 * own, in one `invalid` error, and do nothing then.
 */
export interface RoutingEngine<Shared extends boolean = boolean> {
  /**
   * Creates or replaces a policy; returns it and whether it was created — a promise of that when policies are
   * shared (after this replica applied it).
   */
  putPolicy(policyId: string, routers: readonly RouterInput[], found?: readonly FieldViolation[]): PolicyResult<{ policy: RoutingPolicy; created: boolean }, Shared>;
  /** A stored policy; `not_found` when unknown. */
  getPolicy(policyId: string): RoutingPolicy;
  /** Stored policies by id, paginated. */
  listPolicies(input: PageInput<RoutingPolicy>): { policies: RoutingPolicy[]; nextPageToken: string };
  /**
   * Deletes a policy and its history; `not_found` when unknown (here). Returns the history records dropped (this
   * replica's; a promise of them when policies are shared).
   */
  deletePolicy(policyId: string): PolicyResult<number, Shared>;
  /**
   * A shared policy written (by any replica) applied here: validated again and compiled; refused (`invalid`) when
   * its routers do not validate (a record written by another version). What a {@link PolicyBackend} calls.
   */
  applyPolicy(record: PolicyRecord): void;
  /** A shared policy's delete applied here: it and its history go. Returns the history records dropped; 0 when unknown. */
  applyDelete(policyId: string): number;
  /** Evaluates a policy for one context and records the result. */
  route(input: RouteInput, found?: readonly FieldViolation[]): RoutingRecord;
  /** A policy id's retained results, newest first, optionally for one task and one coordination, paginated. */
  listHistory(input: { policyId: string; currentTask?: string; coordinationId?: string } & PageInput<RoutingRecord>): {
    records: RoutingRecord[];
    nextPageToken: string;
  };
  /** A policy id's running statistics: every result since its history began or was last cleared (zeros when none). */
  stats(policyId: string): RoutingStats;
  /** Drops a policy id's retained results and resets its stats; returns how many results were dropped. */
  clearHistory(policyId: string): number;
}

interface StoredPolicy {
  readonly policy: RoutingPolicy;
  readonly routers: readonly CompiledRouter[];
}
/**
 * A retained result: its sequence in its history, that history, the coordination's results it belongs to, its
 * estimated size (JSON bytes), and whether it has left its history.
 */
type HistoryEntry = RoutingRecord & {
  readonly sequence: number;
  readonly history: RoutingHistory<HistoryEntry>;
  readonly owner: CoordinationResults | undefined;
  readonly bytes: number;
  gone: boolean;
};

/** One policy id's history and running stats. */
interface Ledger {
  readonly history: RoutingHistory<HistoryEntry>;
  readonly stats: RunningStats;
}

/**
 * The results recorded for one coordination (its slot in the store), so that they can leave their histories when
 * it is dropped. Entries that left already (evicted, cleared) are compacted away once they are the majority.
 */
interface CoordinationResults {
  entries: HistoryEntry[];
  /** How many of `entries` are still retained. */
  live: number;
}

/** The routing engine's slot in a coordination's record. */
const SLOT = "routing";

// Results of the fixed routers share frozen metadata objects: measured once each. Others (state analysis,
// priority, parallel) are estimated from their top level without a walk: Route is the hot path.
const metadataBytes = new WeakMap<object, number>();
function sizeOfMetadata(m: RoutingRecord["metadata"]): number {
  if (!Object.isFrozen(m)) {
    let n = 2;
    for (const k in m) {
      const value = m[k];
      n += k.length + 4;
      if (typeof value === "string") n += value.length + 2;
      else if (Array.isArray(value)) for (const item of value) n += (typeof item === "string" ? item.length : 8) + 3;
      else n += 64; // a number, or a small object (complexity metrics)
    }
    return n;
  }
  let n = metadataBytes.get(m);
  if (n === undefined) {
    n = jsonByteSize(m);
    metadataBytes.set(m, n);
  }
  return n;
}
/** What a result's fields other than its strings and metadata take, about, as JSON (numbers, names, quotes). */
const recordOverheadBytes = 256;

/** Creates a {@link RoutingEngine}. Policies, histories and stats are server-wide, keyed by policy id. */
export function createRoutingEngine(options: RoutingEngineOptions & { readonly policyBackend: PolicyBackend }): RoutingEngine<true>;
export function createRoutingEngine(options?: RoutingEngineOptions & { readonly policyBackend?: undefined }): RoutingEngine<false>;
export function createRoutingEngine(options?: RoutingEngineOptions): RoutingEngine;
export function createRoutingEngine(options: RoutingEngineOptions = {}): RoutingEngine {
  const limits = options.limits ?? defaultLimits;
  const store = options.store ?? createStore({ maxCoordinations: limits.maxCoordinations, idleTtlMs: limits.idleCoordinationTtlMs });
  const nextId = createUuidSource();
  const now = options.now ?? Date.now;
  const onRouterError = options.onRouterError;
  const policies = new Map<string, StoredPolicy>();
  const ledgers = new Map<string, Ledger>();
  // Every retained result in recording order, and their bytes: past `maxRoutingHistoryBytes` the oldest go first,
  // whichever history holds them (an entry already gone from its history is skipped).
  let retained: HistoryEntry[] = [];
  let retainedHead = 0;
  let historyBytes = 0;
  /** Entries of `retained` still in their history: the rest are compacted away once they dominate. */
  let live = 0;
  /** Marks an entry that has left (or is leaving) its history as gone, and gives back what it counted for. */
  const forget = (entry: HistoryEntry | undefined) => {
    if (entry === undefined || entry.gone) return;
    entry.gone = true;
    historyBytes -= entry.bytes;
    live--;
    if (entry.owner !== undefined) entry.owner.live--;
  };
  /** Empties a history, forgetting its entries; returns how many it held. */
  const clearLedger = (ledger: Ledger | undefined) => {
    if (ledger === undefined) return 0;
    const removed = ledger.history.clear();
    for (const entry of removed) forget(entry);
    return removed.length;
  };
  // Entries that left their history stay in `retained` until compacted: keep them a minority.
  const compactRetained = () => {
    if (retained.length - retainedHead > 2 * live + 1024) {
      retained = retained.slice(retainedHead).filter((e) => !e.gone);
      retainedHead = 0;
    }
  };
  const keepWithinBytes = () => {
    while (historyBytes > limits.maxRoutingHistoryBytes && retainedHead < retained.length) {
      const entry = retained[retainedHead] as HistoryEntry;
      retained[retainedHead++] = undefined as unknown as HistoryEntry;
      // The oldest result still retained anywhere is the oldest of its own history.
      if (!entry.gone && entry.history.oldest() === entry) forget(entry.history.dropOldest());
    }
    compactRetained();
  };
  const resultsOf = (c: Coordination): CoordinationResults => {
    let r = c.slots[SLOT] as CoordinationResults | undefined;
    if (r === undefined) {
      r = { entries: [], live: 0 };
      c.slots[SLOT] = r;
    }
    return r;
  };
  // A dropped coordination's results leave every history they are in (O(1) amortized each); the stats keep them.
  store.onDrop((c) => {
    const results = c.slots[SLOT] as CoordinationResults | undefined;
    if (results === undefined) return;
    for (const entry of results.entries) {
      if (entry.gone) continue;
      forget(entry);
      entry.history.discarded();
    }
    results.entries = [];
    compactRetained();
  });

  const checkPolicyId = (id: string) => checkId("policy_id", id, limits.maxIdLength);
  /** Validates routers into `v`, then compiles them if nothing was recorded. */
  const compile = (v: Violations, field: string, routers: readonly RouterInput[]) => {
    const specs = validateRouters(v, field, routers, limits);
    v.throwIfAny();
    return specs.map(compileRouter);
  };
  const ledgerOf = (id: string) => {
    let l = ledgers.get(id);
    if (l === undefined) {
      // Histories (and stats) of ids without a stored policy (inline policies) are bounded too: the oldest goes.
      if (ledgers.size >= 2 * limits.maxRoutingPolicies) {
        for (const old of ledgers.keys()) {
          if (!policies.has(old)) {
            clearLedger(ledgers.get(old)); // its entries in `retained` are then skipped, not counted again
            ledgers.delete(old);
            break;
          }
        }
      }
      l = { history: createRoutingHistory<HistoryEntry>(limits.maxRoutingHistory), stats: createRunningStats() };
      ledgers.set(id, l);
    }
    return l;
  };
  const applyDelete = (policyId: string): number => {
    if (!policies.delete(policyId)) return 0;
    const n = clearLedger(ledgers.get(policyId)); // its entries in `retained` are then skipped, not counted again
    ledgers.delete(policyId);
    return n;
  };
  const notFound = (id: string) => new ConsortError("not_found", `routing policy ${JSON.stringify(id)} does not exist`, { reason: "POLICY_NOT_FOUND", metadata: { policy_id: id } });

  return {
    putPolicy(policyId, routerInputs, found) {
      const v = new Violations(found);
      requireId(v, "policy.policy_id", policyId, limits.maxIdLength);
      const routers = compile(v, "policy.routers", routerInputs);
      const existing = policies.get(policyId);
      if (existing === undefined && policies.size >= limits.maxRoutingPolicies) {
        throw new ConsortError("exhausted", `the server holds its limit of ${limits.maxRoutingPolicies} routing policies`, {
          reason: "TOO_MANY_POLICIES",
          metadata: { limit: String(limits.maxRoutingPolicies) },
        });
      }
      const t = now();
      const policy: RoutingPolicy = { policyId, routers: routers.map((r) => r.spec), createdAt: existing?.policy.createdAt ?? t, updatedAt: t };
      const size = options.policySize?.oversize(policy);
      if (size !== undefined) {
        throw new ConsortError("exhausted", `policy ${JSON.stringify(policyId)} would take ${size} bytes, over the ${options.policySize?.maxBytes}-byte message limit`, {
          reason: "POLICY_TOO_LARGE",
          metadata: { size_bytes: String(size), limit_bytes: String(options.policySize?.maxBytes) },
        });
      }
      const backend = options.policyBackend;
      if (backend === undefined) {
        policies.set(policyId, { policy, routers });
        return { policy, created: existing === undefined };
      }
      return backend.put({ policyId, routers: routerInputs, createdAt: policy.createdAt, updatedAt: t }).then(({ created }) => {
        const stored = policies.get(policyId);
        if (stored === undefined) throw notFound(policyId); // deleted by another replica right after it was applied here
        return { policy: stored.policy, created };
      });
    },

    applyPolicy(record) {
      const v = new Violations();
      requireId(v, "policy_id", record.policyId, limits.maxIdLength);
      // A record written elsewhere is not typed: a strategy this version does not know is refused, not skipped.
      if (!Array.isArray(record.routers)) v.add("routers", "must be a list");
      else {
        record.routers.forEach((r, i) => {
          const strategy = (r as { strategy?: unknown } | null)?.strategy;
          if (!(routingStrategies as readonly unknown[]).includes(strategy)) v.add(`routers[${i}]`, `has no strategy this version knows (${routingStrategies.join(", ")}), got ${JSON.stringify(strategy)}`);
        });
      }
      if (!Number.isFinite(record.createdAt) || !Number.isFinite(record.updatedAt)) v.add("created_at", "createdAt and updatedAt must be numbers");
      v.throwIfAny();
      const routers = compile(v, "routers", record.routers);
      const policy: RoutingPolicy = { policyId: record.policyId, routers: routers.map((r) => r.spec), createdAt: record.createdAt, updatedAt: record.updatedAt };
      policies.set(record.policyId, { policy, routers });
    },

    applyDelete,

    getPolicy(policyId) {
      checkPolicyId(policyId);
      const p = policies.get(policyId);
      if (p === undefined) throw notFound(policyId);
      return p.policy;
    },

    listPolicies(input) {
      const v = new Violations();
      const size = pageSize(v, input.pageSize ?? 0, limits.maxPageSize);
      const fingerprint = queryFingerprint("policies");
      const after = decodePageToken<string>(v, input.pageToken ?? "", fingerprint, "string");
      v.throwIfAny();
      const ids = [...policies.keys()].filter((id) => after === undefined || id > after).sort();
      const page: RoutingPolicy[] = [];
      let bytes = 0;
      for (const id of ids) {
        if (page.length === size) break;
        const p = (policies.get(id) as StoredPolicy).policy;
        if (input.budget !== undefined) {
          bytes += input.budget.sizeOf(p);
          if (bytes > input.budget.maxBytes && page.length > 0) break;
        }
        page.push(p);
      }
      const last = page[page.length - 1];
      return {
        policies: page,
        nextPageToken: page.length < ids.length && last !== undefined ? encodePageToken(last.policyId, fingerprint) : "",
      };
    },

    deletePolicy(policyId) {
      checkPolicyId(policyId);
      if (!policies.has(policyId)) throw notFound(policyId);
      if (options.policyBackend !== undefined) return options.policyBackend.delete(policyId);
      return applyDelete(policyId);
    },

    route(input, found) {
      const v = new Violations(found);
      if (input.currentTask.length === 0) v.add("current_task", `must not be empty (1 to ${limits.maxTaskNameLength} characters)`);
      else if (input.currentTask.length > limits.maxTaskNameLength) {
        v.add("current_task", `must be at most ${limits.maxTaskNameLength} characters, got ${input.currentTask.length}`);
      }
      const executionTimeMs = input.executionTimeMs ?? 0;
      if (!Number.isFinite(executionTimeMs) || executionTimeMs < 0) v.add("execution_time_ms", `must be a finite number ≥ 0, got ${executionTimeMs}`);
      const retryCount = input.retryCount ?? 0;
      if (!Number.isInteger(retryCount) || retryCount < 0) v.add("retry_count", `must be ≥ 0, got ${retryCount}`);
      const correlationId = optionalId(v, "correlation_id", input.correlationId ?? "", limits.maxIdLength);
      const coordinationId = optionalId(v, "coordination_id", input.coordinationId ?? "", limits.maxIdLength);
      checkJson(v, "state", input.state, limits.maxJsonDepth);
      checkJson(v, "custom_data", input.customData, limits.maxJsonDepth);

      let policyId: string;
      let routers: readonly CompiledRouter[];
      if (input.inline !== undefined) {
        policyId = requireId(v, "policy.policy_id", input.inline.policyId, limits.maxIdLength);
        routers = compile(v, "policy.routers", input.inline.routers);
      } else if (input.policyId !== undefined) {
        policyId = requireId(v, "policy_id", input.policyId, limits.maxIdLength);
        v.throwIfAny();
        const stored = policies.get(policyId);
        if (stored === undefined) throw notFound(policyId);
        routers = stored.routers;
      } else {
        v.add("policy_source", "must set policy_id or policy");
        throw v.toError();
      }

      // Valid and routable: the coordination is acquired now (which may refuse a new one past the limit), so a
      // refused call records nothing.
      const owner = coordinationId === "" ? undefined : resultsOf(store.acquire(coordinationId));
      const ctx: RoutingContext = {
        currentTask: input.currentTask,
        state: input.state ?? {},
        executionTimeMs,
        retryCount,
        customData: input.customData ?? {},
        correlationId,
      };
      const t0 = performance.now();
      const result = aggregate(routers, ctx, onRouterError === undefined ? undefined : (router, error) => onRouterError(policyId, router.spec.strategy, error));
      const ms = performance.now() - t0;
      const ledger = ledgerOf(policyId);
      const history = ledger.history;
      // A literal with every field (no spread of the result): this is the hot path.
      const record: HistoryEntry = {
        decision: result.decision,
        confidence: result.confidence,
        reasoning: result.reasoning,
        strategy: result.strategy,
        nextTask: result.nextTask,
        metadata: result.metadata,
        sequence: history.head + 1,
        routingId: nextId(),
        policyId,
        // A real decision always takes time: at least 1 ns (the high-resolution clock's unit) is reported.
        routingTimeMs: Math.max(ms, 1e-6),
        routersEvaluated: routers.length,
        currentTask: input.currentTask,
        correlationId,
        createdAt: now(),
        coordinationId,
        history,
        owner,
        gone: false,
        bytes:
          recordOverheadBytes +
          sizeOfMetadata(result.metadata) +
          result.reasoning.length +
          result.nextTask.length +
          input.currentTask.length +
          correlationId.length +
          coordinationId.length +
          policyId.length,
      };
      forget(history.append(record));
      historyBytes += record.bytes;
      live++;
      retained.push(record);
      ledger.stats.record(record);
      if (owner !== undefined) {
        owner.entries.push(record);
        owner.live++;
        if (owner.entries.length > 2 * owner.live + 16) owner.entries = owner.entries.filter((e) => !e.gone);
      }
      keepWithinBytes();
      options.onRouted?.(record);
      return record;
    },

    listHistory(input) {
      const v = new Violations();
      requireId(v, "policy_id", input.policyId, limits.maxIdLength);
      const task = input.currentTask ?? "";
      const coordination = optionalId(v, "coordination_id", input.coordinationId ?? "", limits.maxIdLength);
      const size = pageSize(v, input.pageSize ?? 0, limits.maxPageSize);
      // The filters are bound into the page token (a token without a coordination filter is what it always was).
      const fingerprint = queryFingerprint(coordination === "" ? ["history", input.policyId, task] : ["history", input.policyId, task, coordination]);
      const before = decodePageToken<number>(v, input.pageToken ?? "", fingerprint, "number");
      v.throwIfAny();
      const history = ledgers.get(input.policyId)?.history;
      if (history === undefined) return { records: [], nextPageToken: "" };
      const page = history.page({
        size,
        before,
        fingerprint,
        matches: (r) => (task === "" || r.currentTask === task) && (coordination === "" || r.coordinationId === coordination),
        ...(input.budget !== undefined && { budget: input.budget }),
      });
      return { records: page.items, nextPageToken: page.nextPageToken };
    },

    stats(policyId) {
      checkPolicyId(policyId);
      return ledgers.get(policyId)?.stats.snapshot() ?? emptyStats;
    },

    clearHistory(policyId) {
      checkPolicyId(policyId);
      const ledger = ledgers.get(policyId);
      ledger?.stats.reset();
      return clearLedger(ledger);
    },
  };
}
