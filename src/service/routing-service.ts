import { create, fromJson, toBinary, toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { wireFormatOf, type WireFormat } from "../binding/call-context.js";
import { Violations, type FieldViolation } from "../core/errors.js";
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
  RoutingDecisionSchema,
  RoutingStrategy,
  ConditionOperator,
  ConditionOperatorSchema,
} from "../../gen/ts/consort/v1/routing_pb.js";
import { checkedEnum, enumValue, toTimestamp } from "./convert.js";
import { preEncoded } from "../binding/pre-encoded.js";
import { jsonBytes, measuredMessages, responseReserveBytes } from "./encoded-size.js";
import { encodeRouteResponse } from "./route-codec.js";

/** A Value as JSON, or a violation of `field` for what JSON cannot hold (NaN, ±Infinity). */
function jsonValue(v: Violations, field: string, value: Value | undefined): JsonValue {
  if (value === undefined) return null;
  try {
    return toJson(ValueSchema, value) as JsonValue;
  } catch {
    v.add(field, "must be a JSON value (NaN and Infinity are not)");
    return null;
  }
}

/** A proto router (at `field`) as the core's (unvalidated) router input; bad enum numbers are recorded in `v`. */
function routerInput(v: Violations, r: Router, field: string): RouterInput {
  const decision = (f: string, d: number, required: boolean) => checkedEnum(v, f, RoutingDecisionSchema, routingDecisions, d, required);
  switch (r.kind.case) {
    case "conditional":
      return {
        strategy: "conditional",
        rules: r.kind.value.rules.map((rule, j) => {
          const rf = `${field}.conditional.rules[${j}]`;
          return {
            ruleId: rule.ruleId,
            name: rule.name,
            conditionKey: rule.conditionKey,
            operator: checkedEnum(v, `${rf}.operator`, ConditionOperatorSchema, conditionOperators, rule.operator, true),
            conditionValue: jsonValue(v, `${rf}.condition_value`, rule.conditionValue),
            decision: decision(`${rf}.decision`, rule.decision, true),
            nextTask: rule.nextTask,
            ...(rule.priority !== undefined && { priority: rule.priority }),
          };
        }),
      };
    case "parallel":
      return { strategy: "parallel", hints: r.kind.value.hints };
    case "stateAnalysis": {
      const c = r.kind.value.config;
      return {
        strategy: "state_analysis",
        ...(c?.maxComplexityScore !== undefined && { maxComplexityScore: c.maxComplexityScore }),
        errorHandlingDecision: decision(`${field}.state_analysis.config.error_handling_decision`, c?.errorHandlingDecision ?? 0, false),
      };
    }
    case "priority": {
      const c = r.kind.value.config;
      const cf = `${field}.priority.config`;
      return {
        strategy: "priority",
        ...(c?.highThreshold !== undefined && { highThreshold: c.highThreshold }),
        ...(c?.lowThreshold !== undefined && { lowThreshold: c.lowThreshold }),
        highPriorityDecision: decision(`${cf}.high_priority_decision`, c?.highPriorityDecision ?? 0, false),
        lowPriorityDecision: decision(`${cf}.low_priority_decision`, c?.lowPriorityDecision ?? 0, false),
        defaultDecision: decision(`${cf}.default_decision`, c?.defaultDecision ?? 0, false),
      };
    }
    default:
      return { strategy: "" };
  }
}

/** A policy's proto routers as the core's inputs, with the violations found in them. */
function routerInputs(routers: readonly Router[]): { inputs: RouterInput[]; found: readonly FieldViolation[] } {
  const v = new Violations();
  const inputs = routers.map((r, i) => routerInput(v, r, `policy.routers[${i}]`));
  return { inputs, found: v.list };
}

/** A stored router as its proto message, with every default filled in. */
function routerMessage(spec: RouterSpec): Router["kind"] {
  const decision = (d: string) => enumValue(routingDecisions, d) as RoutingDecision;
  switch (spec.strategy) {
    case "conditional":
      return {
        case: "conditional",
        value: {
          rules: spec.rules.map((r) => ({
            ruleId: r.ruleId,
            name: r.name,
            conditionKey: r.conditionKey,
            operator: enumValue(conditionOperators, r.operator) as ConditionOperator,
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
    decision: enumValue(routingDecisions, r.decision) as RoutingDecision,
    confidence: r.confidence,
    reasoning: r.reasoning,
    strategy: enumValue(routingStrategies, r.strategy) as RoutingStrategy,
    nextTask: r.nextTask,
    metadata: r.metadata,
    routingTimeMs: r.routingTimeMs,
    routersEvaluated: r.routersEvaluated,
    currentTask: r.currentTask,
    correlationId: r.correlationId,
    createdAt: toTimestamp(r.createdAt),
    coordinationId: r.coordinationId,
  });
}

/**
 * The check that a stored policy can be read back: the bytes its message would take in the larger of its two
 * encodings when that exceeds `maxBytes`, `undefined` when it fits. Measured at PutRoutingPolicy only.
 */
export function policyOversize(maxBytes: number): (p: CorePolicy) => number | undefined {
  return (p) => {
    const message = policyMessage(p);
    const larger = Math.max(toBinary(RoutingPolicySchema, message).byteLength, jsonBytes(RoutingPolicySchema, message));
    return larger > maxBytes ? larger : undefined;
  };
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

/** Options of {@link createRoutingService}. */
export interface RoutingServiceOptions {
  readonly engine: RoutingEngine;
  /** Largest response message in bytes: pages are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
}

/** RoutingService: proto messages ⇄ the routing engine. */
export function createRoutingService(options: RoutingServiceOptions): ServiceImpl<typeof RoutingService> {
  const { engine } = options;
  const maxBytes = options.maxMessageBytes - responseReserveBytes;
  return {
    async putRoutingPolicy(req) {
      const { inputs, found } = routerInputs(req.policy?.routers ?? []);
      // Awaited only when policies are shared across replicas: in memory, the result is there.
      const put = engine.putPolicy(req.policy?.policyId ?? "", inputs, found);
      const { policy, created } = put instanceof Promise ? await put : put;
      return create(PutRoutingPolicyResponseSchema, { policy: policyMessage(policy), created });
    },
    async getRoutingPolicy(req) {
      return create(GetRoutingPolicyResponseSchema, { policy: policyMessage(engine.getPolicy(req.policyId)) });
    },
    async listRoutingPolicies(req, ctx) {
      const m = measuredMessages(RoutingPolicySchema, policyMessage, wireFormatOf(ctx), maxBytes);
      const page = engine.listPolicies({ pageSize: req.pageSize, pageToken: req.pageToken, budget: m.budget });
      return create(ListRoutingPoliciesResponseSchema, { policies: page.policies.map(m.message), nextPageToken: page.nextPageToken });
    },
    async deleteRoutingPolicy(req) {
      const deleted = engine.deletePolicy(req.policyId);
      return create(DeleteRoutingPolicyResponseSchema, { clearedRecords: BigInt(deleted instanceof Promise ? await deleted : deleted) });
    },
    // Synchronous: the gRPC bridge answers without a promise hop.
    route(req) {
      const src = req.policySource;
      const inline = src.case === "policy" ? routerInputs(src.value.routers) : undefined;
      const record = engine.route(
        {
          policyId: src.case === "policyId" ? src.value : undefined,
          inline: src.case === "policy" && inline !== undefined ? { policyId: src.value.policyId, routers: inline.inputs } : undefined,
          currentTask: req.currentTask,
          state: req.state,
          executionTimeMs: req.executionTimeMs,
          retryCount: req.retryCount,
          customData: req.customData,
          correlationId: req.correlationId,
          coordinationId: req.coordinationId,
        },
        inline?.found,
      );
      return new EncodedRouteResponse(record);
    },
    async listRoutingHistory(req, ctx) {
      const m = measuredMessages(RoutingResultSchema, routingResultMessage, wireFormatOf(ctx), maxBytes);
      const page = engine.listHistory({
        policyId: req.policyId,
        currentTask: req.currentTask,
        coordinationId: req.coordinationId,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        budget: m.budget,
      });
      return create(ListRoutingHistoryResponseSchema, { results: page.records.map(m.message), nextPageToken: page.nextPageToken });
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
