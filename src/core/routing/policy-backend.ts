import type { RouterInput } from "./policy.js";

/** A stored policy as written where replicas share it: the routers as given (validated), and its times. */
export interface PolicyRecord {
  readonly policyId: string;
  readonly routers: readonly RouterInput[];
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * Shared routing policies (DESIGN.md §8): the engine validates a put (and checks its limits and size) against its
 * local policies, then hands the record to the backend, which writes it where every replica reads it and has each
 * replica's engine apply it (`applyPolicy`, `applyDelete` of the routing engine) in the order
 * written. Route and the reads stay synchronous on the local policies. Histories and stats stay per replica.
 */
export interface PolicyBackend {
  /**
   * Writes `record` (its `createdAt` is the existing policy's when one exists where shared: the backend keeps it);
   * resolves once this replica's engine has applied it, with whether the write created the policy.
   */
  put(record: PolicyRecord): Promise<{ readonly created: boolean }>;
  /** Deletes the policy everywhere; resolves, once this replica applied the delete, with what its apply returned. */
  delete(policyId: string): Promise<number>;
}

/** `T`, or a promise of it when the engine's policies are shared (its `policyBackend` option). */
export type PolicyResult<T, Shared extends boolean> = Shared extends true ? Promise<T> : Shared extends false ? T : T | Promise<T>;
