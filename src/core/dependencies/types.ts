/** Dependency kinds, by their original names (SPEC.md §4). */
export const dependencyTypes = ["agent_completion", "resource_availability", "quality_gate"] as const;
/** One of {@link dependencyTypes}. */
export type DependencyType = (typeof dependencyTypes)[number];

/** Where a dependency stands, by the original names. */
export const dependencyStatuses = ["pending", "in_progress", "resolved", "failed", "timeout"] as const;
/** One of {@link dependencyStatuses}. */
export type DependencyStatus = (typeof dependencyStatuses)[number];

/** What a dependency waits for, with every default applied. */
export type DependencyTarget =
  | { readonly type: "agent_completion"; readonly agentId: string; readonly requireSuccess: boolean }
  | { readonly type: "resource_availability"; readonly resourceId: string }
  | { readonly type: "quality_gate"; readonly gateId: string; readonly threshold: number };

/** A target as a client gives it: optional fields unset mean their defaults. */
export type DependencyTargetInput =
  | { readonly type: "agent_completion"; readonly agentId: string; readonly requireSuccess?: boolean }
  | { readonly type: "resource_availability"; readonly resourceId: string }
  | { readonly type: "quality_gate"; readonly gateId: string; readonly threshold?: number };

/** One dependency of a ResolveDependencies call. */
export interface DependencyInput {
  readonly dependencyId: string;
  /** More than 0; unset: 120,000. */
  readonly timeoutMs?: number;
  /** Exactly one target; `undefined` is rejected. */
  readonly target: DependencyTargetInput | undefined;
}

/** A ResolveDependencies call. */
export interface ResolveInput {
  readonly coordinationId: string;
  readonly agentId: string;
  /** Empty: the agent's distributed assignment dependencies, as completion waits. */
  readonly dependencies: readonly DependencyInput[];
}

/** How one dependency of a call ended. */
export interface DependencyOutcome {
  readonly dependencyId: string;
  /** `resolved`, `failed` or `timeout`. */
  readonly status: DependencyStatus;
  readonly durationMs: number;
  /** "" when resolved. */
  readonly message: string;
}

/** The outcome of a ResolveDependencies call. */
export interface ResolveResult {
  /** True iff every dependency resolved (also for none). */
  readonly success: boolean;
  /** One per dependency, in request order. */
  readonly results: readonly DependencyOutcome[];
}

/** A stored dependency record, as read. */
export interface DependencyRecordView {
  readonly coordinationId: string;
  /** The waiting agent. */
  readonly agentId: string;
  readonly dependencyId: string;
  readonly timeoutMs: number;
  readonly target: DependencyTarget;
  readonly status: DependencyStatus;
  /** "" while waiting or when resolved. */
  readonly message: string;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  /** Milliseconds since the epoch; `undefined` while waiting. */
  readonly finishedAt: number | undefined;
  /** How long it was waited for; while waiting, so far. */
  readonly durationMs: number;
}

/** How a ResolveDependencies call ended before its waits did. */
export type AbandonKind = "deadline" | "cancelled" | "shutdown";
