import { invalidField } from "../errors.js";
import type { JsonValue } from "../json.js";
import type { Limits } from "../limits.js";
import { requireId } from "../validate.js";
import {
  conditionOperators,
  routingDecisions,
  type ConditionOperator,
  type RouterSpec,
  type RoutingDecision,
  type RoutingStrategy,
} from "./types.js";

/** A rule as a client sends it: unset optional values take their defaults. */
export interface RuleInput {
  readonly ruleId: string;
  readonly name?: string;
  readonly conditionKey: string;
  /** "" when unset. */
  readonly operator: string;
  readonly conditionValue?: JsonValue;
  /** "" when unset. */
  readonly decision: string;
  readonly nextTask?: string;
  readonly priority?: number;
}

/** A router as a client sends it; `strategy` is "" when no kind was set. */
export type RouterInput =
  | { readonly strategy: "conditional"; readonly rules: readonly RuleInput[] }
  | {
      readonly strategy: "parallel";
      readonly hints: readonly { readonly taskGroup: readonly string[]; readonly dependencies: readonly string[]; readonly estimatedDurationMs: number }[];
    }
  | { readonly strategy: "state_analysis"; readonly maxComplexityScore?: number; readonly errorHandlingDecision?: string }
  | {
      readonly strategy: "priority";
      readonly highThreshold?: number;
      readonly lowThreshold?: number;
      readonly highPriorityDecision?: string;
      readonly lowPriorityDecision?: string;
      readonly defaultDecision?: string;
    }
  | { readonly strategy: "" };

const decisionSet: ReadonlySet<string> = new Set(routingDecisions);
const operatorSet: ReadonlySet<string> = new Set(conditionOperators);

function decision(field: string, v: string | undefined, fallback?: RoutingDecision): RoutingDecision {
  if ((v === undefined || v === "") && fallback !== undefined) return fallback;
  if (v === undefined || !decisionSet.has(v)) throw invalidField(field, `must be a routing decision (${routingDecisions.join(", ")})`);
  return v as RoutingDecision;
}

function finiteIn(field: string, v: number, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max) throw invalidField(field, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

/**
 * Validates a policy's routers and fills defaults. `field` prefixes every field path in errors (e.g.
 * `policy.routers`). Throws `invalid` naming the first bad field: a router without kind, two routers of one
 * strategy, empty or duplicate rule ids, a rule without operator or decision, a priority outside 0..100, an empty
 * task group, a negative duration, thresholds out of range.
 */
export function validateRouters(field: string, routers: readonly RouterInput[], limits: Limits): RouterSpec[] {
  const seen = new Map<RoutingStrategy, number>();
  return routers.map((r, i) => {
    const f = `${field}[${i}]`;
    if (r.strategy === "") throw invalidField(f, "must set one router kind (conditional, parallel, state_analysis or priority)");
    const earlier = seen.get(r.strategy);
    if (earlier !== undefined) throw invalidField(f, `a policy holds at most one ${r.strategy} router; routers[${earlier}] is one already`);
    seen.set(r.strategy, i);
    switch (r.strategy) {
      case "conditional": {
        const ids = new Set<string>();
        const rules = r.rules.map((rule, j) => {
          const rf = `${f}.conditional.rules[${j}]`;
          requireId(`${rf}.rule_id`, rule.ruleId, limits.maxIdLength);
          if (ids.has(rule.ruleId)) throw invalidField(`${rf}.rule_id`, `must be unique within the router; ${JSON.stringify(rule.ruleId)} repeats`);
          ids.add(rule.ruleId);
          if ((rule.name ?? "").length > limits.maxIdLength) throw invalidField(`${rf}.name`, `must be at most ${limits.maxIdLength} characters`);
          requireId(`${rf}.condition_key`, rule.conditionKey, limits.maxTaskNameLength);
          if (!operatorSet.has(rule.operator)) throw invalidField(`${rf}.operator`, `must be one of ${conditionOperators.join(" ")}`);
          if ((rule.nextTask ?? "").length > limits.maxTaskNameLength) throw invalidField(`${rf}.next_task`, `must be at most ${limits.maxTaskNameLength} characters`);
          const priority = rule.priority ?? 50;
          if (!Number.isInteger(priority) || priority < 0 || priority > 100) throw invalidField(`${rf}.priority`, `must be an integer from 0 to 100, got ${priority}`);
          return {
            ruleId: rule.ruleId,
            name: rule.name || rule.ruleId,
            conditionKey: rule.conditionKey,
            operator: rule.operator as ConditionOperator,
            conditionValue: rule.conditionValue ?? null,
            decision: decision(`${rf}.decision`, rule.decision),
            nextTask: rule.nextTask ?? "",
            priority,
          };
        });
        return { strategy: "conditional", rules };
      }
      case "parallel": {
        const hints = r.hints.map((h, j) => {
          const hf = `${f}.parallel.hints[${j}]`;
          if (h.taskGroup.length === 0) throw invalidField(`${hf}.task_group`, "must hold at least one task");
          h.taskGroup.forEach((t, k) => requireId(`${hf}.task_group[${k}]`, t, limits.maxTaskNameLength));
          h.dependencies.forEach((t, k) => requireId(`${hf}.dependencies[${k}]`, t, limits.maxTaskNameLength));
          if (!Number.isFinite(h.estimatedDurationMs) || h.estimatedDurationMs < 0) throw invalidField(`${hf}.estimated_duration_ms`, "must be at least 0");
          return { taskGroup: [...h.taskGroup], dependencies: [...h.dependencies], estimatedDurationMs: h.estimatedDurationMs };
        });
        return { strategy: "parallel", hints };
      }
      case "state_analysis":
        return {
          strategy: "state_analysis",
          config: {
            maxComplexityScore: finiteIn(`${f}.state_analysis.config.max_complexity_score`, r.maxComplexityScore ?? 0.8, 0, 1),
            errorHandlingDecision: decision(`${f}.state_analysis.config.error_handling_decision`, r.errorHandlingDecision, "retry"),
          },
        };
      case "priority": {
        const cf = `${f}.priority.config`;
        const high = finiteIn(`${cf}.high_threshold`, r.highThreshold ?? 80, 0, 100);
        const low = finiteIn(`${cf}.low_threshold`, r.lowThreshold ?? 20, 0, 100);
        if (low > high) throw invalidField(`${cf}.low_threshold`, `must be at most high_threshold (${high}), got ${low}`);
        return {
          strategy: "priority",
          config: {
            highThreshold: high,
            lowThreshold: low,
            highPriorityDecision: decision(`${cf}.high_priority_decision`, r.highPriorityDecision, "continue"),
            lowPriorityDecision: decision(`${cf}.low_priority_decision`, r.lowPriorityDecision, "skip"),
            defaultDecision: decision(`${cf}.default_decision`, r.defaultDecision, "continue"),
          },
        };
      }
    }
  });
}
