import { jsonByteSize, truthy, type JsonObject, type JsonValue } from "../json.js";
import { compileCondition } from "./conditions.js";
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

/** How a result reads: its reasoning and metadata. */
interface Description {
  readonly reasoning: string;
  readonly metadata: JsonObject;
}

/**
 * A result whose reasoning and metadata are written on first read. Every router is evaluated on every call but
 * only the winner's description is used (the aggregation ranks by confidence and strategy), so the others never
 * format theirs. A class: an object literal with getters would make a new hidden class per call.
 */
class DescribedOnRead implements RouterResult {
  readonly nextTask = "";
  #describe: (() => Description) | undefined;
  #description: Description | undefined;
  constructor(
    readonly strategy: RouterResult["strategy"],
    readonly decision: RouterResult["decision"],
    readonly confidence: number,
    describe: () => Description,
  ) {
    this.#describe = describe;
  }
  get reasoning(): string {
    return this.#read().reasoning;
  }
  get metadata(): JsonObject {
    return this.#read().metadata;
  }
  #read(): Description {
    if (this.#description === undefined) {
      this.#description = (this.#describe as () => Description)();
      this.#describe = undefined;
    }
    return this.#description;
  }
}

/**
 * `r` as plain data: a result described on read gets its description written now (the aggregation returns only
 * settled results, so callers may spread or serialize them).
 */
export function settled(r: RouterResult): RouterResult {
  return r instanceof DescribedOnRead ? routerResult(r.strategy, r.decision, r.confidence, r.reasoning, r.metadata, r.nextTask) : r;
}

/** A router ready to evaluate: its tables are built once, when the policy is stored. */
export interface CompiledRouter {
  readonly spec: RouterSpec;
  /**
   * Decides for one context; may throw (the aggregation then skips the router). The reasoning and metadata of the
   * result may be written only when read: {@link settled} makes it plain data.
   */
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
  // Sorted and compiled once; each rule's reasoning and metadata are fixed, so they are built once too.
  const ordered = rules
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => b.rule.priority - a.rule.priority || a.index - b.index)
    .map(({ rule }) => ({
      key: rule.conditionKey,
      test: compileCondition(rule.operator, rule.conditionValue),
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
    for (const { key, test, result } of ordered) {
      if (test(Object.hasOwn(state, key) ? state[key] : undefined)) return result;
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
    const completed: readonly JsonValue[] = Array.isArray(completedValue) ? completedValue : noTasks;
    const task = ctx.currentTask;
    for (const hint of hints) {
      if (!hint.taskGroup.includes(task) || !includesAll(completed, hint.dependencies)) continue;
      let parallel: string[] | undefined;
      for (const t of hint.taskGroup) if (t !== task && !completed.includes(t)) (parallel ??= []).push(t);
      if (parallel === undefined) continue;
      const tasks = parallel;
      return new DescribedOnRead("parallel", "parallel", 0.9, () => ({
        reasoning: `Task '${task}' can be parallelized with ${pyRepr(tasks)}`,
        metadata: { parallel_tasks: tasks, dependencies: [...hint.dependencies], estimated_duration_ms: hint.estimatedDurationMs },
      }));
    }
    return noMatch;
  };
}

const noTasks: readonly JsonValue[] = Object.freeze([]);

/** Whether every one of `wanted` is in `list`. */
function includesAll(list: readonly JsonValue[], wanted: readonly string[]): boolean {
  for (const w of wanted) if (!list.includes(w)) return false;
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

/** Whether `state[key]` is present and truthy (Python). */
const truthyAt = (state: JsonObject, key: string) => Object.hasOwn(state, key) && truthy(state[key]);
/** Whether `state[key]` is present and falsy (Python). */
const falsyAt = (state: JsonObject, key: string) => Object.hasOwn(state, key) && !truthy(state[key]);

/** The complexity measures of a state (SPEC.md §2). */
export function complexityMetrics(state: JsonObject) {
  // Keys and depth in one pass over the top level (nestedDepth of the state, without a second walk).
  let keyCount = 0;
  let childDepth = 0;
  for (const k in state) {
    keyCount++;
    const d = nestedDepth(state[k] as JsonValue);
    if (d > childDepth) childDepth = d;
  }
  const depth = keyCount > 0 ? childDepth + 1 : 0;
  const sizeBytes = jsonByteSize(state);
  const score = Math.min(1, (keyCount / 100) * 0.4 + (depth / 10) * 0.3 + (sizeBytes / 1_000_000) * 0.3);
  const hasErrors = truthyAt(state, "error") || truthyAt(state, "errors") || truthyAt(state, "error_count") || truthyAt(state, "failed");
  const hasIncompleteData = falsyAt(state, "required_data") || falsyAt(state, "mandatory_fields");
  return { key_count: keyCount, nested_depth: depth, state_size_bytes: sizeBytes, complexity_score: score, has_errors: hasErrors, has_incomplete_data: hasIncompleteData };
}

/** Errors → the error decision (0.95); incomplete data → skip (0.8); too complex → branch (0.85); else continue (0.9). */
export function stateAnalysisRouter(config: StateAnalysisConfig): (ctx: RoutingContext) => RouterResult {
  const max = config.maxComplexityScore;
  const result = (decision: RouterResult["decision"], confidence: number, m: ReturnType<typeof complexityMetrics>, reasoning: (score: string) => string) =>
    new DescribedOnRead("state_analysis", decision, confidence, () => ({ reasoning: reasoning(pyFixed2(m.complexity_score)), metadata: { complexity_metrics: m } }));
  return (ctx) => {
    const m = complexityMetrics(ctx.state);
    if (m.has_errors) return result(config.errorHandlingDecision, 0.95, m, (score) => `State contains errors (key_count=${m.key_count}, complexity=${score})`);
    if (m.has_incomplete_data) return result("skip", 0.8, m, () => "State has incomplete data, skipping task");
    if (m.complexity_score > max) {
      return result("branch", 0.85, m, (score) => `State complexity (${score}) exceeds threshold (${pyFixed2(max)}), branching to handle complexity`);
    }
    return result("continue", 0.9, m, (score) => `State complexity (${score}) within normal range`);
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
  const result = (decision: RouterResult["decision"], confidence: number, level: string, priority: number) =>
    new DescribedOnRead("priority", decision, confidence, () => ({
      reasoning: `${level}-priority task (priority=${pyNumber(priority)})`,
      metadata: { priority, high_threshold: config.highThreshold, low_threshold: config.lowThreshold },
    }));
  return (ctx) => {
    const raw = Object.hasOwn(ctx.customData, "priority")
      ? ctx.customData["priority"]
      : Object.hasOwn(ctx.state, "task_priority")
        ? ctx.state["task_priority"]
        : 50;
    if (typeof raw !== "number" || Number.isNaN(raw)) throw new NonNumericPriorityError(`priority is not a number: ${pyRepr(raw)}`);
    if (raw >= config.highThreshold) return result(config.highPriorityDecision, 0.95, "High", raw);
    if (raw <= config.lowThreshold) return result(config.lowPriorityDecision, 0.85, "Low", raw);
    return result(config.defaultDecision, 0.8, "Medium", raw);
  };
}
