import type { DependencyBackend, DependencyChange, DependencyViews } from "../../src/core/dependencies/dependency-backend.js";
import { createSeededDelays } from "./seeded-delays.js";

/**
 * A shared feed of dependency changes in one process, standing in for JetStream KV to test the dependency engine's
 * backend seam: each {@link FakeDependencyFeed.replica} is the backend of one engine ("replica"). A write reaches
 * the feed after a random delay (so racing writes are ordered by arrival), then every live replica applies the
 * feed in that one order, each after delays of its own. A write resolves once its own replica applied it.
 */
export interface FakeDependencyFeed {
  /** A backend for one more engine; it applies the whole feed from the start (its load), then what follows. */
  replica(replicaId: string): FakeDependencyReplica;
  /** Resolves when no write or delivery is under way. */
  settled(): Promise<void>;
}

/** One replica's backend on the fake feed. */
export interface FakeDependencyReplica extends DependencyBackend<Promise<number>> {
  /** The replica dies: its writes are lost and nothing more is applied to it. */
  kill(): void;
  /** Refuses writes with `error`; `landed`: the change reaches the feed all the same (its answer was lost). */
  refuse: { readonly error: Error; readonly landed: boolean } | undefined;
  /** The kinds of the changes applied here, in order. */
  readonly applied: string[];
}

/** Creates a {@link FakeDependencyFeed}; `seed` makes its delays reproducible. @default seed 1, delays up to 3 ms */
export function createFakeDependencyFeed(seed = 1, maxDelayMs = 3): FakeDependencyFeed {
  const delays = createSeededDelays(seed, maxDelayMs);
  const hop = delays.hop;
  const feed: { readonly change: DependencyChange; readonly writeId: string }[] = [];
  const deliverers = new Set<() => void>();
  let writes = 0;

  const replica = (replicaId: string): FakeDependencyReplica => {
    let views: DependencyViews | undefined;
    let next = 0;
    let dead = false;
    const pending = new Map<string, (n: number) => void>();
    const applied: string[] = [];
    const deliver = () =>
      void hop().then(() => {
        while (!dead && views !== undefined && next < feed.length) {
          const { change, writeId } = feed[next++]!;
          applied.push(change.kind);
          const n = views.apply(change);
          pending.get(writeId)?.(n);
          pending.delete(writeId);
        }
      });
    deliverers.add(deliver);
    const self: FakeDependencyReplica = {
      replicaId,
      refuse: undefined,
      applied,
      connect(v) {
        views = v;
        deliver();
      },
      write(change) {
        const writeId = `${replicaId}#${++writes}`;
        const refused = self.refuse;
        return new Promise<number>((resolve, reject) => {
          void hop().then(() => {
            if (dead) return;
            if (refused === undefined) pending.set(writeId, resolve);
            else reject(refused.error);
            if (refused !== undefined && !refused.landed) return;
            feed.push({ change, writeId });
            for (const d of deliverers) d();
          });
        });
      },
      kill() {
        dead = true;
        deliverers.delete(deliver);
      },
    };
    return self;
  };

  return {
    replica,
    // A hop's callback may start another (an apply writing a final record): idle only when none is left after a turn.
    async settled() {
      do await delays.idle();
      while (delays.inFlight > 0);
    },
  };
}
