import { ConsortError } from "./errors.js";

/**
 * The one shared in-memory state: coordinations by id, created on first use. Each engine keeps its part of a
 * coordination in its own slot; the store tracks activity and drops coordinations idle longer than the TTL.
 */

/** Engine-owned parts of a coordination. Each engine adds its slot. */
export interface CoordinationSlots {
  [slot: string]: unknown;
}

/** One coordination's shared record. */
export interface Coordination {
  /** The coordination id (1–100 characters). */
  readonly id: string;
  /** Milliseconds since the epoch when the coordination was created. */
  readonly createdAt: number;
  /** Milliseconds since the epoch of the last call that touched it. */
  lastActivity: number;
  /** Open streams and waits that keep it alive regardless of idleness. */
  pins: number;
  /** Engine-owned state. */
  readonly slots: CoordinationSlots;
}

/** Options of {@link createStore}. */
export interface StoreOptions {
  /** Milliseconds after its last activity an unpinned coordination is dropped. @default 86400000 */
  readonly idleTtlMs?: number;
  /** Coordinations held at most; creating one more is refused (`exhausted`, TOO_MANY_COORDINATIONS). @default 100000 */
  readonly maxCoordinations?: number;
  /** Clock in milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** The shared state of all coordinations. */
export interface Store {
  /**
   * The coordination, created when missing; marks it active. Creating one past the limit throws `exhausted`
   * (TOO_MANY_COORDINATIONS): engines call this after validating a request, so a refused call stores nothing.
   */
  acquire(id: string): Coordination;
  /** The coordination or `undefined`; does not create it nor mark it active. */
  peek(id: string): Coordination | undefined;
  /** Every coordination, in creation order. */
  all(): IterableIterator<Coordination>;
  /** Number of coordinations. */
  readonly size: number;
  /** Drops a coordination; returns whether it existed. */
  delete(id: string): boolean;
  /** Drops unpinned coordinations idle longer than the TTL; returns how many. */
  sweep(): number;
}

/** Creates an empty {@link Store}. */
export function createStore(options: StoreOptions = {}): Store {
  const idleTtlMs = options.idleTtlMs ?? 24 * 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  const maxCoordinations = options.maxCoordinations ?? 100_000;
  const coordinations = new Map<string, Coordination>();
  return {
    acquire(id) {
      const t = now();
      let c = coordinations.get(id);
      if (c === undefined) {
        if (coordinations.size >= maxCoordinations) {
          throw new ConsortError("exhausted", `the server holds its limit of ${maxCoordinations} coordinations; clear or let idle ones expire`, {
            reason: "TOO_MANY_COORDINATIONS",
            metadata: { limit: String(maxCoordinations) },
          });
        }
        c = { id, createdAt: t, lastActivity: t, pins: 0, slots: {} };
        coordinations.set(id, c);
      } else {
        c.lastActivity = t;
      }
      return c;
    },
    peek: (id) => coordinations.get(id),
    all: () => coordinations.values(),
    get size() {
      return coordinations.size;
    },
    delete: (id) => coordinations.delete(id),
    sweep() {
      const cutoff = now() - idleTtlMs;
      let dropped = 0;
      for (const [id, c] of coordinations) {
        if (c.pins === 0 && c.lastActivity < cutoff) {
          coordinations.delete(id);
          dropped++;
        }
      }
      return dropped;
    },
  };
}
