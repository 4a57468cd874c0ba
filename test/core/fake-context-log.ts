import type { ContextBackend, ContextCommit, ContextPlan, ContextViews } from "../../src/core/context/context-backend.js";
import type { DropReason } from "../../src/core/store.js";

/**
 * A shared context log in one process, standing in for JetStream to test the context engine's backend seam: each
 * {@link FakeContextLog.replica} is the backend of one engine. A submitted change reaches the log after a timer and
 * is stored only if it follows the log's revision (optimistic concurrency; otherwise the writer waits until its
 * replica applied the newer revisions and plans again), then is delivered to every replica after a delay of its own
 * and applied there in revision order. A submission resolves with the plan's answer once its own replica applied it.
 */
export interface FakeContextLog {
  /** A backend for one more engine on this log, whose deliveries come `lagMs` later than the others'. */
  replica(lagMs?: number): FakeContextReplica;
  /** Stored changes per coordination, in revision order. */
  readonly changes: ReadonlyMap<string, readonly ContextCommit[]>;
  /** Submissions planned again after losing a race. */
  readonly conflicts: number;
  /** Resolves when nothing is in flight. */
  settled(): Promise<void>;
}

/** One replica's backend, and what a test asks of it. */
export interface FakeContextReplica extends ContextBackend<"shared"> {
  /** Drops told by the engine. */
  readonly drops: readonly [string, DropReason][];
  /** Loads a coordination from another replica's snapshot and the log's changes after it (a replica starting later). */
  loadFrom(other: FakeContextReplica, coordinationId: string): void;
  /** The engine's state, as this backend reaches it. */
  readonly views: ContextViews;
}

/** Creates a {@link FakeContextLog}; delays are 0..`maxDelayMs` ms, reproducible. */
export function createFakeContextLog(maxDelayMs = 3): FakeContextLog {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const log = new Map<string, ContextCommit[]>();
  const replicas: ((id: string) => void)[] = [];
  let conflicts = 0;
  let inFlight = 0;
  let idle: (() => void)[] = [];
  const later = (fn: () => void, lagMs = 0) => {
    inFlight++;
    setTimeout(() => {
      fn();
      if (--inFlight === 0) for (const w of idle.splice(0)) setImmediate(w);
    }, lagMs + Math.floor(random() * (maxDelayMs + 1)));
  };

  return {
    get changes() {
      return log;
    },
    get conflicts() {
      return conflicts;
    },
    settled: () => (inFlight === 0 ? Promise.resolve() : new Promise((r) => idle.push(r))),
    replica(lagMs = 0) {
      let views: ContextViews | undefined;
      const drops: [string, DropReason][] = [];
      /** Submissions waiting for a revision to be applied here. */
      const waiting: { id: string; revision: number; done: () => void }[] = [];
      const applyFromLog = (id: string) => {
        const v = views as ContextViews;
        const all = log.get(id) ?? [];
        // Applied only where the coordination is served (its state opened), as a follower runs only there.
        let revision = v.revision(id);
        if (revision === undefined) return;
        for (const c of all) {
          if (c.revision !== revision + 1) continue;
          v.apply(id, c);
          revision = c.revision;
          const now = revision;
          for (const w of waiting.filter((x) => x.id === id && x.revision <= now)) {
            waiting.splice(waiting.indexOf(w), 1);
            w.done();
          }
        }
      };
      replicas.push((id) => later(() => applyFromLog(id), lagMs));
      const reach = (id: string, revision: number) =>
        new Promise<void>((done) => ((views?.revision(id) ?? 0) >= revision ? done() : waiting.push({ id, revision, done })));
      const replica: FakeContextReplica = {
        mode: "shared",
        drops,
        get views() {
          return views as ContextViews;
        },
        connect(v) {
          views = v;
        },
        drop(id, reason) {
          drops.push([id, reason]);
        },
        catchUp(id, revision) {
          const head = (log.get(id) ?? []).at(-1)?.revision ?? 0;
          if ((views?.revision(id) ?? 0) >= revision || head < revision) return undefined;
          return reach(id, revision);
        },
        loadFrom(other, id) {
          const snapshot = other.views.snapshot(id);
          const v = views as ContextViews;
          v.open(id);
          if (snapshot !== undefined && snapshot.revision > 0) v.restore(id, snapshot);
          applyFromLog(id);
        },
        async submit<T>(id: string, plan: () => ContextPlan<T>): Promise<T> {
          for (;;) {
            const p = plan();
            const change = p.change;
            if (change === undefined) return p.answer();
            const stored = await new Promise<boolean>((resolve) =>
              later(() => {
                const all = log.get(id) ?? [];
                if (all.length > 0 ? (all.at(-1) as ContextCommit).revision !== change.revision - 1 : change.revision !== 1) return resolve(false);
                all.push(change);
                log.set(id, all);
                for (const deliver of replicas) deliver(id);
                resolve(true);
              }),
            );
            const head = (log.get(id) ?? []).at(-1)?.revision ?? 0;
            if (!stored) {
              conflicts++;
              await reach(id, head);
              continue;
            }
            // The answer is read when the change is applied here, in the same step.
            let answer!: T;
            await new Promise<void>((done) => waiting.push({ id, revision: change.revision, done: () => ((answer = p.answer()), done()) }));
            return answer;
          }
        },
      };
      return replica;
    },
  };
}
