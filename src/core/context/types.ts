import type { JsonObject } from "../json.js";

/** The five parts of the shared intelligence, by their original names (SPEC.md §3). */
export const sharedIntelligenceParts = ["type_registry", "pattern_library", "validation_rules", "naming_conventions", "dependency_graph"] as const;

/** One of {@link sharedIntelligenceParts}. */
export type SharedIntelligencePart = (typeof sharedIntelligenceParts)[number];

/**
 * Knowledge shared by a coordination's agents. Immutable once stored: agents that share it hold the same object,
 * and an update makes a new one for the agents it targets.
 */
export interface SharedIntelligence {
  readonly type_registry: JsonObject;
  /** Named lists of patterns. */
  readonly pattern_library: Readonly<Record<string, readonly string[]>>;
  readonly validation_rules: JsonObject;
  /** A convention per name. */
  readonly naming_conventions: Readonly<Record<string, string>>;
  /** For each node, the nodes it depends on. */
  readonly dependency_graph: Readonly<Record<string, readonly string[]>>;
}

/** How an agent takes part in the coordination; every field effective (defaults applied). */
export interface CoordinationProtocols {
  readonly updateIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly statusChannel: string;
  readonly resultChannel: string;
  readonly errorChannel: string;
  /** `undefined` when none. */
  readonly coordinationEndpoint: string | undefined;
}

/** The resources an agent is allotted; every field effective (defaults applied). */
export interface ResourceAllocation {
  readonly maxExecutionTimeMs: number;
  readonly maxRetryAttempts: number;
  readonly maxMemoryMb: number;
  readonly qualityThreshold: number;
  readonly timeoutMs: number;
  readonly concurrencyLimit: number;
}

/** SPEC.md §3 defaults of {@link CoordinationProtocols}. */
export const defaultProtocols: CoordinationProtocols = Object.freeze({
  updateIntervalMs: 5000,
  heartbeatIntervalMs: 10_000,
  statusChannel: "state",
  resultChannel: "state",
  errorChannel: "state",
  coordinationEndpoint: undefined,
});

/** SPEC.md §3 defaults of {@link ResourceAllocation}. */
export const defaultAllocation: ResourceAllocation = Object.freeze({
  maxExecutionTimeMs: 300_000,
  maxRetryAttempts: 3,
  maxMemoryMb: 512,
  qualityThreshold: 0.8,
  timeoutMs: 30_000,
  concurrencyLimit: 10,
});

/** One agent's assignment as stored (role effective). */
export interface Assignment {
  readonly agentId: string;
  readonly agentRole: string;
  readonly objective: string;
  readonly tasks: readonly string[];
  readonly inputData: JsonObject;
  /** Agents whose completion this agent waits for. */
  readonly dependencies: readonly string[];
  readonly outputRequirements: JsonObject;
  readonly successCriteria: JsonObject;
}

/**
 * One agent's context package. Immutable: every change makes a new record (sharing the unchanged parts), so a
 * record handed to a reader or kept in the change window never changes under it.
 */
export interface AgentContextRecord {
  readonly coordinationId: string;
  readonly sessionId: string;
  /** "" when none. */
  readonly parentWorkflowId: string;
  readonly assignment: Assignment;
  readonly shared: SharedIntelligence;
  readonly protocols: CoordinationProtocols;
  readonly allocation: ResourceAllocation;
  /** 1 when distributed, +1 per update with `incrementVersion`. */
  readonly version: number;
  /** The coordination's revision at this context's last change. */
  readonly revision: number;
  /** Milliseconds since the epoch: distributed at. */
  readonly createdAt: number;
  /** Milliseconds since the epoch: last changed at. */
  readonly updatedAt: number;
}

/** One assignment as a client gives it: optional fields unset mean their defaults. */
export interface AssignmentInput {
  readonly agentId: string;
  /** "" or unset: the agent id. */
  readonly agentRole?: string;
  readonly objective?: string;
  readonly tasks?: readonly string[];
  readonly inputData?: JsonObject;
  readonly dependencies?: readonly string[];
  readonly outputRequirements?: JsonObject;
  readonly successCriteria?: JsonObject;
  readonly protocols?: { readonly [K in keyof CoordinationProtocols]?: CoordinationProtocols[K] | undefined };
  readonly allocation?: { readonly [K in keyof ResourceAllocation]?: ResourceAllocation[K] | undefined };
}

/** A DistributeContext request. */
export interface DistributeInput {
  readonly coordinationId: string;
  readonly sessionId: string;
  /** "" or unset: none. */
  readonly parentWorkflowId?: string;
  /** Unset parts are empty. */
  readonly sharedIntelligence?: { readonly [K in SharedIntelligencePart]?: SharedIntelligence[K] };
  readonly assignments: readonly AssignmentInput[];
}

/** An UpdateSharedIntelligence request. */
export interface UpdateInput {
  readonly coordinationId: string;
  /** A part name; "" or anything else changes nothing and reports false for every target. */
  readonly part: string;
  readonly data: JsonObject;
  /** Empty: every agent of the coordination. */
  readonly targetAgentIds?: readonly string[];
  /** @default true */
  readonly incrementVersion?: boolean;
}
