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
  /** Increases with every coordination the store creates: the creation order, for stable pages. */
  readonly serial: number;
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

/**
 * Why a coordination left the store: an operator's DeleteCoordination, or the idle sweep. Both take the one path
 * ({@link Store.delete} and {@link Store.sweep} call the same listeners), so an expired coordination leaves nothing
 * behind either.
 */
export type DropReason = "deleted" | "expired";

/**
 * Told, synchronously, when a coordination has left the store (it is no longer found by `peek`, and the next
 * `acquire` of its id creates a new one): each engine ends what it still has open there (streams, waits, timers).
 */
export type DropListener = (coordination: Coordination, reason: DropReason) => void;

/**
 * Told, synchronously, that what a summary of a coordination shows may have changed (its activity, its log, its
 * contexts, its open streams and waits). Called on every publish: it must cost next to nothing.
 */
export type ChangeListener = (coordination: Coordination) => void;

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
  /**
   * Drops a coordination whatever its pins (open streams and waits are ended by the drop listeners, told with
   * `reason`); returns whether it existed.
   */
  delete(id: string, reason?: DropReason): boolean;
  /** Drops unpinned coordinations idle longer than the TTL through the same path (reason `expired`); returns how many. */
  sweep(): number;
  /** Adds a listener told of every drop, in the order added; returns the function that removes it. */
  onDrop(listener: DropListener): () => void;
  /**
   * Tells the change listeners that `coordination`'s figures may have changed without an {@link acquire} (which
   * tells them itself): a stream or wait ended, contexts updated or cleared, history cleared. Ignored for a
   * coordination no longer in the store (its drop is what its watchers hear of).
   */
  changed(coordination: Coordination): void;
  /** Adds a listener told of every {@link acquire} and {@link changed}; returns the function that removes it. */
  onChange(listener: ChangeListener): () => void;
}

/** Creates an empty {@link Store}. */
export function createStore(options: StoreOptions = {}): Store {
  const idleTtlMs = options.idleTtlMs ?? 24 * 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  const maxCoordinations = options.maxCoordinations ?? 100_000;
  const coordinations = new Map<string, Coordination>();
  const dropListeners = new Set<DropListener>();
  // An array, walked by index: acquire tells it on every publish.
  let changeListeners: readonly ChangeListener[] = [];
  const tell = (c: Coordination) => {
    for (let i = 0; i < changeListeners.length; i++) (changeListeners[i] as ChangeListener)(c);
  };
  let nextSerial = 1;
  // Out of the map first, so that whatever a listener does (end a stream, fail a wait) finds the id gone.
  const drop = (c: Coordination, reason: DropReason) => {
    coordinations.delete(c.id);
    for (const listener of dropListeners) listener(c, reason);
  };
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
        c = { id, serial: nextSerial++, createdAt: t, lastActivity: t, pins: 0, slots: {} };
        coordinations.set(id, c);
      } else {
        c.lastActivity = t;
      }
      tell(c);
      return c;
    },
    peek: (id) => coordinations.get(id),
    all: () => coordinations.values(),
    get size() {
      return coordinations.size;
    },
    delete(id, reason = "deleted") {
      const c = coordinations.get(id);
      if (c === undefined) return false;
      drop(c, reason);
      return true;
    },
    sweep() {
      const cutoff = now() - idleTtlMs;
      const idle: Coordination[] = [];
      for (const c of coordinations.values()) if (c.pins === 0 && c.lastActivity < cutoff) idle.push(c);
      for (const c of idle) drop(c, "expired");
      return idle.length;
    },
    onDrop(listener) {
      dropListeners.add(listener);
      return () => dropListeners.delete(listener);
    },
    changed(c) {
      if (coordinations.get(c.id) === c) tell(c);
    },
    onChange(listener) {
      changeListeners = [...changeListeners, listener];
      return () => {
        changeListeners = changeListeners.filter((l) => l !== listener);
      };
    },
  };
}

/**
 * How whatever was open in a dropped coordination ends (a Subscribe or WatchAgentContext stream, a
 * ResolveDependencies call): `aborted` with reason COORDINATION_DELETED, metadata `coordination_id` and `metadata`
 * (the stream's resume point, the dropped log's epoch). The id's next use starts a new coordination, with a new
 * signal epoch. An expiry makes COORDINATION_EXPIRED, which no client sees today: a coordination with an open
 * stream or wait is pinned and does not expire.
 */
export function coordinationDropped(id: string, reason: DropReason, metadata: Readonly<Record<string, string>> = {}): ConsortError {
  const how = reason === "deleted" ? "was deleted" : "expired";
  return new ConsortError("aborted", `coordination ${JSON.stringify(id)} ${how}: its signals, contexts and waits are gone; its next use starts a new log (new epoch)`, {
    reason: reason === "deleted" ? "COORDINATION_DELETED" : "COORDINATION_EXPIRED",
    metadata: { coordination_id: id, ...metadata },
  });
}
