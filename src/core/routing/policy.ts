import type { Violations } from "../errors.js";
import { checkJson, jsonByteSize, type JsonValue } from "../json.js";
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

function decision(v: Violations, field: string, value: string | undefined, fallback?: RoutingDecision): RoutingDecision {
  if ((value === undefined || value === "") && fallback !== undefined) return fallback;
  if (value === undefined || !decisionSet.has(value)) {
    v.add(field, `must be a routing decision (${routingDecisions.join(", ")})`);
    return fallback ?? "continue";
  }
  return value as RoutingDecision;
}

function finiteIn(v: Violations, field: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) v.add(field, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/**
 * Validates a policy's routers and fills defaults. `field` prefixes every field path (e.g. `policy.routers`).
 * Records every broken rule in `v` (a router without kind, two routers of one strategy, empty or duplicate rule
 * ids, a rule without operator or decision, a priority outside 0..100, an empty task group, a negative duration,
 * thresholds out of range); the returned specs are meaningful only when `v` stayed empty.
 */
export function validateRouters(v: Violations, field: string, routers: readonly RouterInput[], limits: Limits): RouterSpec[] {
  const seen = new Map<RoutingStrategy, number>();
  const specs: RouterSpec[] = [];
  routers.forEach((r, i) => {
    const f = `${field}[${i}]`;
    if (r.strategy === "") {
      v.add(f, "must set one router kind (conditional, parallel, state_analysis or priority)");
      return;
    }
    const earlier = seen.get(r.strategy);
    if (earlier !== undefined) v.add(f, `a policy holds at most one ${r.strategy} router; routers[${earlier}] is one already`);
    seen.set(r.strategy, i);
    switch (r.strategy) {
      case "conditional": {
        if (r.rules.length > limits.maxRulesPerRouter) {
          // Refused before anything per rule is done: a 100,000-rule policy must not cost what compiling it would.
          v.add(`${f}.conditional.rules`, `must hold at most ${limits.maxRulesPerRouter} rules, got ${r.rules.length}`);
          return;
        }
        let valueBytes = 0;
        for (const rule of r.rules) valueBytes += jsonByteSize(rule.conditionValue ?? null);
        if (valueBytes > limits.maxPayloadBytes) {
          v.add(`${f}.conditional.rules`, `condition values must take at most ${limits.maxPayloadBytes} bytes together (as JSON), got ${valueBytes}`);
        }
        const ids = new Set<string>();
        const rules = r.rules.map((rule, j) => {
          const rf = `${f}.conditional.rules[${j}]`;
          requireId(v, `${rf}.rule_id`, rule.ruleId, limits.maxIdLength);
          if (ids.has(rule.ruleId)) v.add(`${rf}.rule_id`, `must be unique within the router; ${JSON.stringify(rule.ruleId)} repeats`);
          ids.add(rule.ruleId);
          if ((rule.name ?? "").length > limits.maxIdLength) v.add(`${rf}.name`, `must be at most ${limits.maxIdLength} characters`);
          requireId(v, `${rf}.condition_key`, rule.conditionKey, limits.maxTaskNameLength);
          if (!operatorSet.has(rule.operator)) v.add(`${rf}.operator`, `must be one of ${conditionOperators.join(" ")}`);
          if ((rule.nextTask ?? "").length > limits.maxTaskNameLength) v.add(`${rf}.next_task`, `must be at most ${limits.maxTaskNameLength} characters`);
          checkJson(v, `${rf}.condition_value`, rule.conditionValue, limits.maxJsonDepth);
          const priority = rule.priority ?? 50;
          if (!Number.isInteger(priority) || priority < 0 || priority > 100) v.add(`${rf}.priority`, `must be an integer from 0 to 100, got ${priority}`);
          return {
            ruleId: rule.ruleId,
            name: rule.name || rule.ruleId,
            conditionKey: rule.conditionKey,
            operator: rule.operator as ConditionOperator,
            conditionValue: rule.conditionValue ?? null,
            decision: decision(v, `${rf}.decision`, rule.decision),
            nextTask: rule.nextTask ?? "",
            priority,
          };
        });
        specs.push({ strategy: "conditional", rules });
        return;
      }
      case "parallel": {
        if (r.hints.length > limits.maxRulesPerRouter) {
          v.add(`${f}.parallel.hints`, `must hold at most ${limits.maxRulesPerRouter} hints, got ${r.hints.length}`);
          return;
        }
        const hints = r.hints.map((h, j) => {
          if (h.taskGroup.length + h.dependencies.length > limits.maxRulesPerRouter) {
            v.add(`${f}.parallel.hints[${j}]`, `must name at most ${limits.maxRulesPerRouter} tasks (task group and dependencies together)`);
          }
          const hf = `${f}.parallel.hints[${j}]`;
          if (h.taskGroup.length === 0) v.add(`${hf}.task_group`, "must hold at least one task");
          h.taskGroup.forEach((t, k) => requireId(v, `${hf}.task_group[${k}]`, t, limits.maxTaskNameLength));
          h.dependencies.forEach((t, k) => requireId(v, `${hf}.dependencies[${k}]`, t, limits.maxTaskNameLength));
          if (!Number.isFinite(h.estimatedDurationMs) || h.estimatedDurationMs < 0) v.add(`${hf}.estimated_duration_ms`, "must be at least 0");
          return { taskGroup: [...h.taskGroup], dependencies: [...h.dependencies], estimatedDurationMs: h.estimatedDurationMs };
        });
        specs.push({ strategy: "parallel", hints });
        return;
      }
      case "state_analysis":
        specs.push({
          strategy: "state_analysis",
          config: {
            maxComplexityScore: finiteIn(v, `${f}.state_analysis.config.max_complexity_score`, r.maxComplexityScore ?? 0.8, 0, 1),
            errorHandlingDecision: decision(v, `${f}.state_analysis.config.error_handling_decision`, r.errorHandlingDecision, "retry"),
          },
        });
        return;
      case "priority": {
        const cf = `${f}.priority.config`;
        const high = finiteIn(v, `${cf}.high_threshold`, r.highThreshold ?? 80, 0, 100);
        const low = finiteIn(v, `${cf}.low_threshold`, r.lowThreshold ?? 20, 0, 100);
        if (low > high) v.add(`${cf}.low_threshold`, `must be at most high_threshold (${high}), got ${low}`);
        specs.push({
          strategy: "priority",
          config: {
            highThreshold: high,
            lowThreshold: low,
            highPriorityDecision: decision(v, `${cf}.high_priority_decision`, r.highPriorityDecision, "continue"),
            lowPriorityDecision: decision(v, `${cf}.low_priority_decision`, r.lowPriorityDecision, "skip"),
            defaultDecision: decision(v, `${cf}.default_decision`, r.defaultDecision, "continue"),
          },
        });
        return;
      }
    }
  });
  return specs;
}
