/** The limits every engine enforces (DESIGN.md §4). All are configurable through `src/config.ts`. */
export interface Limits {
  /** Signals retained per coordination; older ones are dropped. @default 10000 */
  readonly maxHistory: number;
  /** Bytes of a signal's `data` plus `metadata`, as JSON. @default 65536 */
  readonly maxPayloadBytes: number;
  /** Bytes of one request or response message. @default 4194304 */
  readonly maxMessageBytes: number;
  /** Open subscriptions per server; open context watches, counted apart, have the same limit. @default 10000 */
  readonly maxSubscriptions: number;
  /** Undelivered signals one subscription may hold before it is ended RESOURCE_EXHAUSTED. @default 1000 */
  readonly subscriberBuffer: number;
  /** Pending dependency waits per server. @default 100000 */
  readonly maxPendingWaits: number;
  /** Characters of any id (coordination, agent, policy, idempotency key…). @default 100 */
  readonly maxIdLength: number;
  /** Characters of a task name. @default 256 */
  readonly maxTaskNameLength: number;
  /** Largest page a List call returns. @default 1000 */
  readonly maxPageSize: number;
  /** Recipients of one signal. @default 1000 */
  readonly maxRecipients: number;
  /**
   * Bytes (estimated as JSON) of the routing results retained across every policy id, inline ones included; the
   * oldest results go first beyond it. @default 268435456 (256 MiB)
   */
  readonly maxRoutingHistoryBytes: number;
  /** Routing results retained per policy id. @default 1000 */
  readonly maxRoutingHistory: number;
  /** Rules of a conditional router, hints of a parallel router (and tasks of one hint). @default 1000 */
  readonly maxRulesPerRouter: number;
  /** Stored routing policies per server. @default 10000 */
  readonly maxRoutingPolicies: number;
  /**
   * Levels of nested objects and lists in any free-form JSON field (signal data and metadata, route state and
   * custom data, condition values, context fields): well below what every client can read back. @default 32
   */
  readonly maxJsonDepth: number;
  /**
   * Agents of one coordination: the assignments of a context distribution, and the agents whose completion the
   * coordination remembers for dependency waits (beyond it, the completion heard longest ago is forgotten).
   * @default 10000
   */
  readonly maxAgentsPerCoordination: number;
  /** Quality gates one coordination holds, and resources (each); setting one more is refused. @default 10000 */
  readonly maxGatesPerCoordination: number;
  /**
   * Agent-context changes a coordination keeps for WatchAgentContext to resume from (`after_revision`); older
   * ones are forgotten, and resuming before them is OUT_OF_RANGE. @default 10000
   */
  readonly contextChangeWindow: number;
  /** Bytes (as sent) of the context changes a coordination keeps for resumed watches. @default 67108864 (64 MiB) */
  readonly contextChangeWindowBytes: number;
  /** Finished dependency records kept per coordination; the oldest finished ones are dropped beyond it. @default 10000 */
  readonly maxDependencyRecords: number;
  /** Coordinations held in memory; a call that would create one more is refused RESOURCE_EXHAUSTED. @default 100000 */
  readonly maxCoordinations: number;
  /** Milliseconds after its last activity an idle coordination is dropped. @default 86400000 (24 h) */
  readonly idleCoordinationTtlMs: number;
  /**
   * Context changes a shared backend keeps per coordination (NATS: the context stream's `max_msgs_per_subject`);
   * every replica must agree. A full state is written at least this often, so a replica loads from the kept ones.
   * Unused in memory. @default 64
   */
  readonly contextHistory: number;
}

/** The defaults of {@link Limits}. */
export const defaultLimits: Limits = Object.freeze({
  maxHistory: 10_000,
  maxPayloadBytes: 64 * 1024,
  maxMessageBytes: 4 * 1024 * 1024,
  maxSubscriptions: 10_000,
  subscriberBuffer: 1_000,
  maxPendingWaits: 100_000,
  maxIdLength: 100,
  maxTaskNameLength: 256,
  maxPageSize: 1_000,
  maxRecipients: 1_000,
  maxRoutingHistory: 1_000,
  maxRoutingHistoryBytes: 256 * 1024 * 1024,
  maxRoutingPolicies: 10_000,
  maxRulesPerRouter: 1_000,
  maxJsonDepth: 32,
  maxAgentsPerCoordination: 10_000,
  maxGatesPerCoordination: 10_000,
  contextChangeWindow: 10_000,
  contextChangeWindowBytes: 64 * 1024 * 1024,
  maxDependencyRecords: 10_000,
  maxCoordinations: 100_000,
  idleCoordinationTtlMs: 24 * 60 * 60 * 1000,
  contextHistory: 64,
});

/** Page size used when a request gives 0. */
export const defaultPageSize = 100;
