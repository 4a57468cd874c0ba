import type { JsonObject, JsonValue } from "../json.js";
import { evaluateCondition } from "./conditions.js";
import { pyFixed2, pyNumber, pyRepr, pyStr } from "./python-format.js";
import type { ConditionalRule, ParallelHint, PriorityConfig, RouterResult, RouterSpec, RoutingContext, StateAnalysisConfig } from "./types.js";

/**
 * A router result as a literal with every field in one order (no spreads: Route is the hottest call, and
 * same-shaped objects keep it monomorphic).
 */
function routerResult(
  strategy: RouterResult["strategy"],
  decision: RouterResult["decision"],
  confidence: number,
  reasoning: string,
  metadata: JsonObject,
  nextTask = "",
): RouterResult {
  return { decision, confidence, reasoning, strategy, nextTask, metadata };
}

/**
 * A result shared by every call it answers (a rule's match, a "no match"), frozen with its metadata: callers may
 * keep and reuse it (the Route encoder caches its encoding), so nobody may change it.
 */
function sharedResult(result: RouterResult): RouterResult {
  Object.freeze(result.metadata);
  return Object.freeze(result);
}

/** A router ready to evaluate: its tables are built once, when the policy is stored. */
export interface CompiledRouter {
  readonly spec: RouterSpec;
  /** Decides for one context; may throw (the aggregation then skips the router). */
  evaluate(ctx: RoutingContext): RouterResult;
}

/** Compiles a router spec (validated beforehand by the policy module). */
export function compileRouter(spec: RouterSpec): CompiledRouter {
  switch (spec.strategy) {
    case "conditional":
      return { spec, evaluate: conditionalRouter(spec.rules) };
    case "parallel":
      return { spec, evaluate: parallelRouter(spec.hints) };
    case "state_analysis":
      return { spec, evaluate: stateAnalysisRouter(spec.config) };
    case "priority":
      return { spec, evaluate: priorityRouter(spec.config) };
  }
}

/**
 * Rules by priority descending (stable), first match wins: its decision, confidence 1.0, reasoning
 * `Conditional rule '<name>' matched: <key> <op> <value>`. No match: continue, 0.5.
 */
export function conditionalRouter(rules: readonly ConditionalRule[]): (ctx: RoutingContext) => RouterResult {
  // Sorted once; each rule's reasoning and metadata are fixed, so they are built once too.
  const ordered = rules
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => b.rule.priority - a.rule.priority || a.index - b.index)
    .map(({ rule }) => ({
      rule,
      result: sharedResult(
        routerResult(
          "conditional",
          rule.decision,
          1.0,
          `Conditional rule '${rule.name}' matched: ${rule.conditionKey} ${rule.operator} ${pyStr(rule.conditionValue)}`,
          { rule_id: rule.ruleId, rule_name: rule.name, rule_priority: rule.priority },
          rule.nextTask,
        ),
      ),
    }));
  const noMatch = sharedResult(
    routerResult("conditional", "continue", 0.5, "No conditional rules matched, continuing with default behavior", { rules_evaluated: rules.length }),
  );
  return (ctx) => {
    const state = ctx.state;
    for (const { rule, result } of ordered) {
      const v = Object.hasOwn(state, rule.conditionKey) ? state[rule.conditionKey] : undefined;
      if (evaluateCondition(rule.operator, v, rule.conditionValue)) return result;
    }
    return noMatch;
  };
}

/**
 * The first hint whose group holds the current task and whose dependencies are all in `state.completed_tasks`
 * gives the group's other, not yet completed members: parallel, 0.9. None: continue, 0.7.
 */
export function parallelRouter(hints: readonly ParallelHint[]): (ctx: RoutingContext) => RouterResult {
  const noMatch = sharedResult(routerResult("parallel", "continue", 0.7, "No parallel execution opportunities identified", { hints_checked: hints.length }));
  return (ctx) => {
    const completedValue = ctx.state["completed_tasks"];
    const completed = Array.isArray(completedValue) ? completedValue : [];
    for (const hint of hints) {
      if (!hint.taskGroup.includes(ctx.currentTask)) continue;
      if (!hint.dependencies.every((d) => completed.includes(d))) continue;
      const parallel = hint.taskGroup.filter((t) => t !== ctx.currentTask && !completed.includes(t));
      if (parallel.length === 0) continue;
      return routerResult("parallel", "parallel", 0.9, `Task '${ctx.currentTask}' can be parallelized with ${pyRepr(parallel)}`, {
        parallel_tasks: parallel,
        dependencies: [...hint.dependencies],
        estimated_duration_ms: hint.estimatedDurationMs,
      });
    }
    return noMatch;
  };
}

/** Python truthiness of a JSON value. */
function truthy(v: JsonValue | undefined): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** Depth of nested non-empty objects: `{}` is 0, a flat object 1, each nested object level +1. */
export function nestedDepth(v: JsonValue): number {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return 0;
  let max = 0;
  let any = false;
  for (const k in v) {
    any = true;
    const d = nestedDepth(v[k] as JsonValue);
    if (d > max) max = d;
  }
  return any ? max + 1 : 0;
}

/** The complexity measures of a state (SPEC.md §2). */
export function complexityMetrics(state: JsonObject) {
  const keyCount = Object.keys(state).length;
  const depth = nestedDepth(state);
  const sizeBytes = Buffer.byteLength(JSON.stringify(state), "utf8");
  const score = Math.min(1, (keyCount / 100) * 0.4 + (depth / 10) * 0.3 + (sizeBytes / 1_000_000) * 0.3);
  const hasErrors = ["error", "errors", "error_count", "failed"].some((k) => Object.hasOwn(state, k) && truthy(state[k]));
  const hasIncompleteData = ["required_data", "mandatory_fields"].some((k) => Object.hasOwn(state, k) && !truthy(state[k]));
  return { key_count: keyCount, nested_depth: depth, state_size_bytes: sizeBytes, complexity_score: score, has_errors: hasErrors, has_incomplete_data: hasIncompleteData };
}

/** Errors → the error decision (0.95); incomplete data → skip (0.8); too complex → branch (0.85); else continue (0.9). */
export function stateAnalysisRouter(config: StateAnalysisConfig): (ctx: RoutingContext) => RouterResult {
  const max = config.maxComplexityScore;
  const result = (decision: RouterResult["decision"], confidence: number, reasoning: string, metadata: JsonObject) =>
    routerResult("state_analysis", decision, confidence, reasoning, metadata);
  return (ctx) => {
    const m = complexityMetrics(ctx.state);
    const metadata = { complexity_metrics: m };
    const score = pyFixed2(m.complexity_score);
    if (m.has_errors) return result(config.errorHandlingDecision, 0.95, `State contains errors (key_count=${m.key_count}, complexity=${score})`, metadata);
    if (m.has_incomplete_data) return result("skip", 0.8, "State has incomplete data, skipping task", metadata);
    if (m.complexity_score > max) {
      return result("branch", 0.85, `State complexity (${score}) exceeds threshold (${pyFixed2(max)}), branching to handle complexity`, metadata);
    }
    return result("continue", 0.9, `State complexity (${score}) within normal range`, metadata);
  };
}

/** Thrown by the priority router for a non-numeric priority, so that the aggregation skips it. */
export class NonNumericPriorityError extends Error {
  override readonly name = "NonNumericPriorityError";
}

/**
 * priority = `custom_data.priority` if present (0 counts), else `state.task_priority`, else 50; ≥ high → high
 * decision (0.95), ≤ low → low decision (0.85), else default (0.8). A non-numeric priority throws.
 */
export function priorityRouter(config: PriorityConfig): (ctx: RoutingContext) => RouterResult {
  const result = (decision: RouterResult["decision"], confidence: number, reasoning: string, metadata: JsonObject) =>
    routerResult("priority", decision, confidence, reasoning, metadata);
  return (ctx) => {
    const raw = Object.hasOwn(ctx.customData, "priority")
      ? ctx.customData["priority"]
      : Object.hasOwn(ctx.state, "task_priority")
        ? ctx.state["task_priority"]
        : 50;
    if (typeof raw !== "number" || Number.isNaN(raw)) throw new NonNumericPriorityError(`priority is not a number: ${pyRepr(raw)}`);
    const p = pyNumber(raw);
    const metadata = { priority: raw, high_threshold: config.highThreshold, low_threshold: config.lowThreshold };
    if (raw >= config.highThreshold) return result(config.highPriorityDecision, 0.95, `High-priority task (priority=${p})`, metadata);
    if (raw <= config.lowThreshold) return result(config.lowPriorityDecision, 0.85, `Low-priority task (priority=${p})`, metadata);
    return result(config.defaultDecision, 0.8, `Medium-priority task (priority=${p})`, metadata);
  };
}
