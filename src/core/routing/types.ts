import type { JsonObject, JsonValue } from "../json.js";

/** Routing decisions, by their original names. */
export const routingDecisions = ["error", "end", "retry", "parallel", "conditional", "branch", "skip", "continue"] as const;
/** One of {@link routingDecisions}. */
export type RoutingDecision = (typeof routingDecisions)[number];

/** Router strategies, by their original names. */
export const routingStrategies = ["conditional", "state_analysis", "parallel", "priority"] as const;
/** One of {@link routingStrategies}. */
export type RoutingStrategy = (typeof routingStrategies)[number];

/** Each strategy's weight in the winner-takes-all aggregation (SPEC.md §2). */
export const strategyWeights: Readonly<Record<RoutingStrategy, number>> = {
  conditional: 100,
  state_analysis: 80,
  parallel: 60,
  priority: 40,
};

/** Condition operators of conditional rules. */
export const conditionOperators = ["==", "!=", ">", "<", ">=", "<=", "in", "not_in", "contains", "not_contains"] as const;
/** One of {@link conditionOperators}. */
export type ConditionOperator = (typeof conditionOperators)[number];

/** A conditional rule. */
export interface ConditionalRule {
  readonly ruleId: string;
  /** Used in the reasoning. @default the rule id */
  readonly name: string;
  readonly conditionKey: string;
  readonly operator: ConditionOperator;
  readonly conditionValue: JsonValue;
  readonly decision: RoutingDecision;
  /** @default "" */
  readonly nextTask: string;
  /** 0..100. @default 50 */
  readonly priority: number;
}

/** A parallel-execution hint. */
export interface ParallelHint {
  readonly taskGroup: readonly string[];
  readonly dependencies: readonly string[];
  readonly estimatedDurationMs: number;
}

/** State-analysis options. */
export interface StateAnalysisConfig {
  /** @default 0.8 */
  readonly maxComplexityScore: number;
  /** @default "retry" */
  readonly errorHandlingDecision: RoutingDecision;
}

/** Priority-router options. */
export interface PriorityConfig {
  /** @default 80 */
  readonly highThreshold: number;
  /** @default 20 */
  readonly lowThreshold: number;
  /** @default "continue" */
  readonly highPriorityDecision: RoutingDecision;
  /** @default "skip" */
  readonly lowPriorityDecision: RoutingDecision;
  /** @default "continue" */
  readonly defaultDecision: RoutingDecision;
}

/** One router of a policy (plain data, as stored). */
export type RouterSpec =
  | { readonly strategy: "conditional"; readonly rules: readonly ConditionalRule[] }
  | { readonly strategy: "parallel"; readonly hints: readonly ParallelHint[] }
  | { readonly strategy: "state_analysis"; readonly config: StateAnalysisConfig }
  | { readonly strategy: "priority"; readonly config: PriorityConfig };

/** A routing policy (plain data, as stored and returned). */
export interface RoutingPolicy {
  readonly policyId: string;
  readonly routers: readonly RouterSpec[];
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a Route call evaluates. */
export interface RoutingContext {
  readonly currentTask: string;
  readonly state: JsonObject;
  readonly executionTimeMs: number;
  readonly retryCount: number;
  readonly customData: JsonObject;
  readonly correlationId: string;
}

/** What one router decides. */
export interface RouterResult {
  readonly decision: RoutingDecision;
  readonly confidence: number;
  readonly reasoning: string;
  readonly strategy: RoutingStrategy;
  /** "" when none. */
  readonly nextTask: string;
  readonly metadata: JsonObject;
}

/** The outcome of a Route call, as returned and kept in the history. */
export interface RoutingRecord extends RouterResult {
  readonly routingId: string;
  readonly policyId: string;
  /** In-core evaluation time from a high-resolution clock; always > 0. */
  readonly routingTimeMs: number;
  readonly routersEvaluated: number;
  readonly currentTask: string;
  readonly correlationId: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** The coordination the result is tied to (it goes when the coordination is dropped); "" when none. */
  readonly coordinationId: string;
}

/** A policy id's running statistics: every result recorded since its history began or was last cleared. */
export interface RoutingStats {
  readonly totalRoutings: number;
  readonly avgRoutingTimeMs: number;
  readonly minRoutingTimeMs: number;
  readonly maxRoutingTimeMs: number;
  readonly decisions: Readonly<Record<string, number>>;
  readonly strategies: Readonly<Record<string, number>>;
}
