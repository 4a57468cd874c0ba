import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { invalidField } from "../core/errors.js";
import type { ServiceImpl } from "@connectrpc/connect";
import type { JsonValue } from "../core/json.js";
import type { RouterInput } from "../core/routing/policy.js";
import type { RoutingEngine } from "../core/routing/routing-engine.js";
import {
  conditionOperators,
  routingDecisions,
  routingStrategies,
  type RouterSpec,
  type RoutingPolicy as CorePolicy,
  type RoutingRecord,
} from "../core/routing/types.js";
import {
  ClearRoutingHistoryResponseSchema,
  DeleteRoutingPolicyResponseSchema,
  GetRoutingPolicyResponseSchema,
  GetRoutingStatsResponseSchema,
  ListRoutingHistoryResponseSchema,
  ListRoutingPoliciesResponseSchema,
  PutRoutingPolicyResponseSchema,
  RoutingPolicySchema,
  RoutingResultSchema,
  type Router,
  type RoutingPolicy,
  type RoutingResult,
  type RoutingService,
  RoutingDecision,
  RoutingStrategy,
  ConditionOperator,
} from "../../gen/ts/consort/v1/routing_pb.js";
import { toTimestamp } from "./convert.js";
import { preEncoded } from "./pre-encoded.js";
import { encodeRouteResponse } from "./route-codec.js";

// The proto enums list the core's names in the same order, starting at 1 (0 is UNSPECIFIED → "").
const nameOf = <T extends string>(names: readonly T[], v: number): T | "" => (v >= 1 && v <= names.length ? (names[v - 1] as T) : "");
const valueOf = (names: readonly string[], name: string): number => names.indexOf(name) + 1;

/** A Value as JSON; `invalid` naming `field` for what JSON cannot hold (NaN, ±Infinity). */
function jsonValue(field: string, v: Value | undefined): JsonValue {
  if (v === undefined) return null;
  try {
    return toJson(ValueSchema, v) as JsonValue;
  } catch {
    throw invalidField(field, "must be a JSON value (NaN and Infinity are not)");
  }
}

/** A proto router (at `field`) as the core's (unvalidated) router input. */
function routerInput(r: Router, field: string): RouterInput {
  switch (r.kind.case) {
    case "conditional":
      return {
        strategy: "conditional",
        rules: r.kind.value.rules.map((rule, j) => ({
          ruleId: rule.ruleId,
          name: rule.name,
          conditionKey: rule.conditionKey,
          operator: nameOf(conditionOperators, rule.operator),
          conditionValue: jsonValue(`${field}.conditional.rules[${j}].condition_value`, rule.conditionValue),
          decision: nameOf(routingDecisions, rule.decision),
          nextTask: rule.nextTask,
          ...(rule.priority !== undefined && { priority: rule.priority }),
        })),
      };
    case "parallel":
      return { strategy: "parallel", hints: r.kind.value.hints };
    case "stateAnalysis": {
      const c = r.kind.value.config;
      return {
        strategy: "state_analysis",
        ...(c?.maxComplexityScore !== undefined && { maxComplexityScore: c.maxComplexityScore }),
        errorHandlingDecision: nameOf(routingDecisions, c?.errorHandlingDecision ?? 0),
      };
    }
    case "priority": {
      const c = r.kind.value.config;
      return {
        strategy: "priority",
        ...(c?.highThreshold !== undefined && { highThreshold: c.highThreshold }),
        ...(c?.lowThreshold !== undefined && { lowThreshold: c.lowThreshold }),
        highPriorityDecision: nameOf(routingDecisions, c?.highPriorityDecision ?? 0),
        lowPriorityDecision: nameOf(routingDecisions, c?.lowPriorityDecision ?? 0),
        defaultDecision: nameOf(routingDecisions, c?.defaultDecision ?? 0),
      };
    }
    default:
      return { strategy: "" };
  }
}

/** A stored router as its proto message, with every default filled in. */
function routerMessage(spec: RouterSpec): Router["kind"] {
  const decision = (d: string) => valueOf(routingDecisions, d) as RoutingDecision;
  switch (spec.strategy) {
    case "conditional":
      return {
        case: "conditional",
        value: {
          rules: spec.rules.map((r) => ({
            ruleId: r.ruleId,
            name: r.name,
            conditionKey: r.conditionKey,
            operator: valueOf(conditionOperators, r.operator) as ConditionOperator,
            conditionValue: fromJson(ValueSchema, r.conditionValue),
            decision: decision(r.decision),
            nextTask: r.nextTask,
            priority: r.priority,
          })),
        },
      } as Router["kind"];
    case "parallel":
      return { case: "parallel", value: { hints: spec.hints.map((h) => ({ ...h, taskGroup: [...h.taskGroup], dependencies: [...h.dependencies] })) } } as Router["kind"];
    case "state_analysis":
      return {
        case: "stateAnalysis",
        value: { config: { maxComplexityScore: spec.config.maxComplexityScore, errorHandlingDecision: decision(spec.config.errorHandlingDecision) } },
      } as Router["kind"];
    case "priority":
      return {
        case: "priority",
        value: {
          config: {
            highThreshold: spec.config.highThreshold,
            lowThreshold: spec.config.lowThreshold,
            highPriorityDecision: decision(spec.config.highPriorityDecision),
            lowPriorityDecision: decision(spec.config.lowPriorityDecision),
            defaultDecision: decision(spec.config.defaultDecision),
          },
        },
      } as Router["kind"];
  }
}

function policyMessage(p: CorePolicy): RoutingPolicy {
  return create(RoutingPolicySchema, {
    policyId: p.policyId,
    routers: p.routers.map((spec) => ({ kind: routerMessage(spec) })),
    createdAt: toTimestamp(p.createdAt),
    updatedAt: toTimestamp(p.updatedAt),
  });
}

/** A routing record as its proto message. */
export function routingResultMessage(r: RoutingRecord): RoutingResult {
  return create(RoutingResultSchema, {
    routingId: r.routingId,
    decision: valueOf(routingDecisions, r.decision) as RoutingDecision,
    confidence: r.confidence,
    reasoning: r.reasoning,
    strategy: valueOf(routingStrategies, r.strategy) as RoutingStrategy,
    nextTask: r.nextTask,
    metadata: r.metadata,
    routingTimeMs: r.routingTimeMs,
    routersEvaluated: r.routersEvaluated,
    currentTask: r.currentTask,
    correlationId: r.correlationId,
    createdAt: toTimestamp(r.createdAt),
  });
}

const counts = (m: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, BigInt(v)]));

/**
 * A RouteResponse init that carries its wire encoding, made straight from the record; the message is built only
 * if a transport reads `result` (Connect and gRPC-Web serialize the message; the gRPC bridge sends the bytes).
 * A class: an object literal with a getter would make a new hidden class per call.
 */
class EncodedRouteResponse {
  readonly [preEncoded]: Uint8Array;
  readonly #record: RoutingRecord;
  constructor(record: RoutingRecord) {
    this.#record = record;
    this[preEncoded] = encodeRouteResponse(record);
  }
  get result(): RoutingResult {
    return routingResultMessage(this.#record);
  }
}

/** RoutingService: proto messages ⇄ the routing engine. */
export function createRoutingService(engine: RoutingEngine): ServiceImpl<typeof RoutingService> {
  return {
    async putRoutingPolicy(req) {
      const { policy, created } = engine.putPolicy(req.policy?.policyId ?? "", (req.policy?.routers ?? []).map((r, i) => routerInput(r, `policy.routers[${i}]`)));
      return create(PutRoutingPolicyResponseSchema, { policy: policyMessage(policy), created });
    },
    async getRoutingPolicy(req) {
      return create(GetRoutingPolicyResponseSchema, { policy: policyMessage(engine.getPolicy(req.policyId)) });
    },
    async listRoutingPolicies(req) {
      const page = engine.listPolicies({ pageSize: req.pageSize, pageToken: req.pageToken });
      return create(ListRoutingPoliciesResponseSchema, { policies: page.policies.map(policyMessage), nextPageToken: page.nextPageToken });
    },
    async deleteRoutingPolicy(req) {
      return create(DeleteRoutingPolicyResponseSchema, { clearedRecords: BigInt(engine.deletePolicy(req.policyId)) });
    },
    // Synchronous: the gRPC bridge answers without a promise hop.
    route(req) {
      const src = req.policySource;
      const record = engine.route({
        policyId: src.case === "policyId" ? src.value : undefined,
        inline: src.case === "policy" ? { policyId: src.value.policyId, routers: src.value.routers.map((r, i) => routerInput(r, `policy.routers[${i}]`)) } : undefined,
        currentTask: req.currentTask,
        state: req.state,
        executionTimeMs: req.executionTimeMs,
        retryCount: req.retryCount,
        customData: req.customData,
        correlationId: req.correlationId,
      });
      return new EncodedRouteResponse(record);
    },
    async listRoutingHistory(req) {
      const page = engine.listHistory({ policyId: req.policyId, currentTask: req.currentTask, pageSize: req.pageSize, pageToken: req.pageToken });
      return create(ListRoutingHistoryResponseSchema, { results: page.records.map(routingResultMessage), nextPageToken: page.nextPageToken });
    },
    async getRoutingStats(req) {
      const s = engine.stats(req.policyId);
      return create(GetRoutingStatsResponseSchema, {
        stats: {
          totalRoutings: BigInt(s.totalRoutings),
          avgRoutingTimeMs: s.avgRoutingTimeMs,
          minRoutingTimeMs: s.minRoutingTimeMs,
          maxRoutingTimeMs: s.maxRoutingTimeMs,
          decisions: counts(s.decisions),
          strategies: counts(s.strategies),
        },
      });
    },
    async clearRoutingHistory(req) {
      return create(ClearRoutingHistoryResponseSchema, { clearedRecords: BigInt(engine.clearHistory(req.policyId)) });
    },
  };
}
