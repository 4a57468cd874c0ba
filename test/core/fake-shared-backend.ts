import type { SignalBackend, SignalLogView, SignalViews } from "../../src/core/signals/signal-backend.js";
import type { PublishResult, SignalRecord } from "../../src/core/signals/types.js";
import { createSeededDelays } from "./seeded-delays.js";

/**
 * A shared signal log in one process, standing in for a replicated one (JetStream) to test the signal engine's
 * backend seam: each {@link FakeSharedLog.replica} is the backend of one engine ("replica"). An append reaches the
 * shared log after a timer, is checked against the subject's head (optimistic concurrency: the proposed sequence
 * must follow it, else it is proposed again from the new head), deduplicated by idempotency key (a message id),
 * then delivered to every replica after its own random delay — so arrivals are reordered — and applied there in
 * sequence order. An append resolves once its own replica applied it.
 */
export interface FakeSharedLog {
  /** A backend for one more engine on this log. */
  replica(): SignalBackend<Promise<PublishResult>>;
  /** Appends proposed again after losing a race for the head. */
  readonly conflicts: number;
  /** Resolves when no append or delivery is under way. */
  settled(): Promise<void>;
}

/** Options of {@link createFakeSharedLog}. */
export interface FakeSharedLogOptions {
  /** Seed of the delays. @default 1 */
  readonly seed?: number;
  /** Largest delay of a hop, in ms. @default 3 */
  readonly maxDelayMs?: number;
  /** The error an append is refused with when it reaches the log (nothing is appended); none by default. */
  readonly refuse?: (signal: SignalRecord) => Error | undefined;
}

interface Subject {
  head: number;
  readonly epoch: string;
  /** idempotency key → sequence (the message id's duplicate window: forever, here). */
  readonly keys: Map<string, number>;
}

/** Creates a {@link FakeSharedLog}. */
export function createFakeSharedLog(options: FakeSharedLogOptions = {}): FakeSharedLog {
  const delays = createSeededDelays(options.seed ?? 1, options.maxDelayMs ?? 3);
  const hop = delays.hop;
  const subjects = new Map<string, Subject>();
  let epochs = 0;
  const subject = (id: string) => {
    let s = subjects.get(id);
    if (s === undefined) subjects.set(id, (s = { head: 0, epoch: `epoch-${++epochs}`, keys: new Map() }));
    return s;
  };
  const receivers: ((signal: SignalRecord) => void)[] = [];
  let conflicts = 0;

  const replica = (): SignalBackend<Promise<PublishResult>> => {
    let views: SignalViews | undefined;
    /** Per coordination: signals arrived ahead of their turn. */
    const early = new Map<string, Map<number, SignalRecord>>();
    /** Per coordination: who waits for a sequence to be applied here. */
    const waiters = new Map<string, Map<number, (() => void)[]>>();
    /** Per coordination: this replica's appends, one after the other (the order they were made). */
    const tails = new Map<string, Promise<unknown>>();

    const applied = (view: SignalLogView, sequence: number) =>
      view.head >= sequence
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const byId = waiters.get(view.coordinationId) ?? new Map<number, (() => void)[]>();
            waiters.set(view.coordinationId, byId);
            byId.set(sequence, [...(byId.get(sequence) ?? []), resolve]);
          });
    // An ordered consumer: what arrives early waits for its predecessors; each applied signal wakes its waiters.
    const receive = (signal: SignalRecord) => {
      const view = views?.view(signal.coordinationId);
      if (view === undefined) return; // not served here
      const pending = early.get(signal.coordinationId) ?? new Map<number, SignalRecord>();
      early.set(signal.coordinationId, pending);
      pending.set(signal.sequence, signal);
      for (let next = pending.get(view.head + 1); next !== undefined; next = pending.get(view.head + 1)) {
        pending.delete(next.sequence);
        view.apply(next);
        const byId = waiters.get(signal.coordinationId);
        for (const w of byId?.get(next.sequence) ?? []) w();
        byId?.delete(next.sequence);
      }
    };
    receivers.push((signal) => void hop().then(() => receive(signal)));

    const appendNow = async (view: SignalLogView, signal: SignalRecord): Promise<PublishResult> => {
      await hop();
      const refused = options.refuse?.(signal);
      if (refused !== undefined) throw refused;
      const s = subject(view.coordinationId);
      const known = signal.idempotencyKey === "" ? undefined : s.keys.get(signal.idempotencyKey);
      if (known !== undefined) {
        await applied(view, known);
        return { signal: view.byKey(signal.idempotencyKey)!, duplicate: true };
      }
      let proposed = signal;
      while (proposed.sequence !== s.head + 1) {
        conflicts++;
        proposed = { ...proposed, sequence: s.head + 1 };
        await hop();
      }
      // Checked and committed in one step, as the server does.
      s.head = proposed.sequence;
      if (proposed.idempotencyKey !== "") s.keys.set(proposed.idempotencyKey, proposed.sequence);
      for (const r of receivers) r(proposed);
      await applied(view, proposed.sequence);
      return { signal: proposed, duplicate: false };
    };

    return {
      epochOf: (id) => subject(id).epoch,
      connect(v) {
        views = v;
      },
      append(view, signal) {
        const id = view.coordinationId;
        const result = (tails.get(id) ?? Promise.resolve()).then(() => appendNow(view, signal));
        tails.set(
          id,
          result.catch(() => {}),
        );
        return result;
      },
    };
  };

  return {
    replica,
    get conflicts() {
      return conflicts;
    },
    settled: () => delays.idle(),
  };
}
