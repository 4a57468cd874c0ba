import type { JsonObject } from "../json.js";

/** The six signal types, by their original names. */
export const signalTypes = [
  "agent_initialized",
  "agent_completed",
  "dependency_resolved",
  "inter_agent_message",
  "stage_completed",
  "error_recovery_completed",
] as const;

/** One of {@link signalTypes}. */
export type SignalType = (typeof signalTypes)[number];

/** A stored signal. Immutable once published; shared by the log and every subscription. */
export interface SignalRecord {
  /** UUID. */
  readonly signalId: string;
  /** The coordination's id. */
  readonly coordinationId: string;
  /** 1, 2, 3… per coordination, gap-free. */
  readonly sequence: number;
  /** The signal's type. */
  readonly type: SignalType;
  /** The sender; `system` when none was given. */
  readonly senderAgentId: string;
  /** Recipients; empty means broadcast. */
  readonly recipientAgentIds: readonly string[];
  /** Milliseconds since the epoch when stored. */
  readonly createdAt: number;
  /** Free-form payload. */
  readonly data: JsonObject;
  /** Free-form metadata. */
  readonly metadata: JsonObject;
  /** The publisher's idempotency key, or "". */
  readonly idempotencyKey: string;
  /** The epoch of the coordination's log (minted when the log was created). */
  readonly epoch: string;
}

/** What a publisher gives. */
export interface PublishInput {
  readonly coordinationId: string;
  /** A signal type name; anything else is rejected. */
  readonly type: string;
  /** @default "system" (also for "") */
  readonly senderAgentId?: string;
  /** @default [] (broadcast) */
  readonly recipientAgentIds?: readonly string[];
  /** @default {} */
  readonly data?: JsonObject;
  /** @default {} */
  readonly metadata?: JsonObject;
  /** @default "" (no idempotency) */
  readonly idempotencyKey?: string;
}

/** The outcome of a publish. */
export interface PublishResult {
  /** The stored signal (the original one for a duplicate). */
  readonly signal: SignalRecord;
  /** True when the idempotency key matched an earlier signal. */
  readonly duplicate: boolean;
}

/** Counters of one coordination (SPEC.md §1 metrics). */
export interface SignalMetrics {
  readonly totalSignalsSent: number;
  readonly totalSignalsReceived: number;
  readonly averagePropagationMs: number;
  readonly maxPropagationMs: number;
  readonly signalsByType: Readonly<Record<string, number>>;
  readonly headSequence: number;
  readonly oldestSequence: number;
  readonly activeSubscriptions: number;
}
