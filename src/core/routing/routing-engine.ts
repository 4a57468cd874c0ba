import { ConsortError, invalidField } from "../errors.js";
import { defaultLimits, type Limits } from "../limits.js";
import { decodePageToken, encodePageToken } from "../page-token.js";
import { createSequenceLog, pageNewestFirst, type SequenceLog } from "../sequence-log.js";
import { optionalId, pageSize, requireId } from "../validate.js";
import { aggregate } from "./aggregate.js";
import { validateRouters, type RouterInput } from "./policy.js";
import { compileRouter, type CompiledRouter } from "./routers.js";
import type { RoutingContext, RoutingPolicy, RoutingRecord, RoutingStats } from "./types.js";
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
}

/** Options of {@link createRoutingEngine}. */
export interface RoutingEngineOptions {
  /** @default defaultLimits */
  readonly limits?: Limits;
  /** Called when a router throws and is skipped. */
  readonly onRouterError?: (policyId: string, strategy: string, error: unknown) => void;
  /** Called after every decision with its in-core time. */
  readonly onRouted?: (record: RoutingRecord) => void;
  /** Clock in milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** The routing engine: stored policies, Route, bounded history per policy id, stats (SPEC.md §2). */
export interface RoutingEngine {
  /** Creates or replaces a policy; returns it and whether it was created. */
  putPolicy(policyId: string, routers: readonly RouterInput[]): { policy: RoutingPolicy; created: boolean };
  /** A stored policy; `not_found` when unknown. */
  getPolicy(policyId: string): RoutingPolicy;
  /** Stored policies by id, paginated. */
  listPolicies(input: { pageSize?: number; pageToken?: string }): { policies: RoutingPolicy[]; nextPageToken: string };
  /** Deletes a policy and its history; `not_found` when unknown. Returns the history records dropped. */
  deletePolicy(policyId: string): number;
  /** Evaluates a policy for one context and records the result. */
  route(input: RouteInput): RoutingRecord;
  /** A policy id's retained results, newest first, optionally for one task, paginated. */
  listHistory(input: { policyId: string; currentTask?: string; pageSize?: number; pageToken?: string }): { records: RoutingRecord[]; nextPageToken: string };
  /** Statistics over a policy id's retained results (zeros when none). */
  stats(policyId: string): RoutingStats;
  /** Drops a policy id's results; returns how many. */
  clearHistory(policyId: string): number;
}

interface StoredPolicy {
  readonly policy: RoutingPolicy;
  readonly routers: readonly CompiledRouter[];
}
type HistoryEntry = RoutingRecord & { readonly sequence: number };

/** Creates a {@link RoutingEngine}. Policies and histories are server-wide, keyed by policy id. */
export function createRoutingEngine(options: RoutingEngineOptions = {}): RoutingEngine {
  const limits = options.limits ?? defaultLimits;
  const nextId = createUuidSource();
  const now = options.now ?? Date.now;
  const onRouterError = options.onRouterError;
  const policies = new Map<string, StoredPolicy>();
  const histories = new Map<string, SequenceLog<HistoryEntry>>();

  const policyIdOf = (field: string, id: string) => requireId(field, id, limits.maxIdLength);
  const compile = (field: string, routers: readonly RouterInput[]) => validateRouters(field, routers, limits).map(compileRouter);
  const historyOf = (id: string) => {
    let h = histories.get(id);
    if (h === undefined) {
      // Histories of ids without a stored policy (inline policies) are bounded too: the oldest goes first.
      if (histories.size >= 2 * limits.maxRoutingPolicies) {
        for (const old of histories.keys()) {
          if (!policies.has(old)) {
            histories.delete(old);
            break;
          }
        }
      }
      h = createSequenceLog<HistoryEntry>(limits.maxRoutingHistory);
      histories.set(id, h);
    }
    return h;
  };
  const notFound = (id: string) => new ConsortError("not_found", `routing policy ${JSON.stringify(id)} does not exist`, { reason: "POLICY_NOT_FOUND", metadata: { policy_id: id } });

  return {
    putPolicy(policyId, routerInputs) {
      policyIdOf("policy.policy_id", policyId);
      const routers = compile("policy.routers", routerInputs);
      const existing = policies.get(policyId);
      if (existing === undefined && policies.size >= limits.maxRoutingPolicies) {
        throw new ConsortError("exhausted", `the server holds its limit of ${limits.maxRoutingPolicies} routing policies`, {
          reason: "TOO_MANY_POLICIES",
          metadata: { limit: String(limits.maxRoutingPolicies) },
        });
      }
      const t = now();
      const policy: RoutingPolicy = { policyId, routers: routers.map((r) => r.spec), createdAt: existing?.policy.createdAt ?? t, updatedAt: t };
      policies.set(policyId, { policy, routers });
      return { policy, created: existing === undefined };
    },

    getPolicy(policyId) {
      policyIdOf("policy_id", policyId);
      const p = policies.get(policyId);
      if (p === undefined) throw notFound(policyId);
      return p.policy;
    },

    listPolicies(input) {
      const size = pageSize(input.pageSize ?? 0, limits.maxPageSize);
      const after = decodePageToken<string>(input.pageToken ?? "", "policies", "string");
      const ids = [...policies.keys()].filter((id) => after === undefined || id > after).sort();
      const page = ids.slice(0, size);
      const last = page[page.length - 1];
      return {
        policies: page.map((id) => (policies.get(id) as StoredPolicy).policy),
        nextPageToken: ids.length > size && last !== undefined ? encodePageToken(last, "policies") : "",
      };
    },

    deletePolicy(policyId) {
      policyIdOf("policy_id", policyId);
      if (!policies.delete(policyId)) throw notFound(policyId);
      const n = histories.get(policyId)?.size ?? 0;
      histories.delete(policyId);
      return n;
    },

    route(input) {
      if (input.currentTask.length === 0) throw invalidField("current_task", `must not be empty (1 to ${limits.maxTaskNameLength} characters)`);
      if (input.currentTask.length > limits.maxTaskNameLength) {
        throw invalidField("current_task", `must be at most ${limits.maxTaskNameLength} characters, got ${input.currentTask.length}`);
      }
      const executionTimeMs = input.executionTimeMs ?? 0;
      if (!Number.isFinite(executionTimeMs) || executionTimeMs < 0) throw invalidField("execution_time_ms", `must be a finite number ≥ 0, got ${executionTimeMs}`);
      const retryCount = input.retryCount ?? 0;
      if (!Number.isInteger(retryCount) || retryCount < 0) throw invalidField("retry_count", `must be ≥ 0, got ${retryCount}`);
      const correlationId = optionalId("correlation_id", input.correlationId ?? "", limits.maxIdLength);

      let policyId: string;
      let routers: readonly CompiledRouter[];
      if (input.inline !== undefined) {
        policyId = policyIdOf("policy.policy_id", input.inline.policyId);
        routers = compile("policy.routers", input.inline.routers);
      } else if (input.policyId !== undefined) {
        policyId = policyIdOf("policy_id", input.policyId);
        const stored = policies.get(policyId);
        if (stored === undefined) throw notFound(policyId);
        routers = stored.routers;
      } else {
        throw invalidField("policy_source", "must set policy_id or policy");
      }

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
      const history = historyOf(policyId);
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
      };
      history.append(record);
      options.onRouted?.(record);
      return record;
    },

    listHistory(input) {
      policyIdOf("policy_id", input.policyId);
      const task = input.currentTask ?? "";
      const size = pageSize(input.pageSize ?? 0, limits.maxPageSize);
      const fingerprint = JSON.stringify(["history", input.policyId, task]);
      const page = pageNewestFirst(histories.get(input.policyId), {
        size,
        pageToken: input.pageToken ?? "",
        fingerprint,
        matches: (r) => task === "" || r.currentTask === task,
      });
      return { records: page.items, nextPageToken: page.nextPageToken };
    },

    stats(policyId) {
      policyIdOf("policy_id", policyId);
      const h = histories.get(policyId);
      let total = 0;
      let sum = 0;
      let min = Infinity;
      let max = 0;
      const decisions: Record<string, number> = {};
      const strategies: Record<string, number> = {};
      if (h !== undefined) {
        for (let s = h.oldest; s <= h.head; s++) {
          const r = h.get(s) as HistoryEntry;
          total++;
          sum += r.routingTimeMs;
          if (r.routingTimeMs < min) min = r.routingTimeMs;
          if (r.routingTimeMs > max) max = r.routingTimeMs;
          decisions[r.decision] = (decisions[r.decision] ?? 0) + 1;
          strategies[r.strategy] = (strategies[r.strategy] ?? 0) + 1;
        }
      }
      return { totalRoutings: total, avgRoutingTimeMs: total ? sum / total : 0, minRoutingTimeMs: total ? min : 0, maxRoutingTimeMs: max, decisions, strategies };
    },

    clearHistory(policyId) {
      policyIdOf("policy_id", policyId);
      return histories.get(policyId)?.clear() ?? 0;
    },
  };
}
