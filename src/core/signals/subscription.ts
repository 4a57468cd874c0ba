import { ConsortError } from "../errors.js";
import type { SequenceLog } from "../sequence-log.js";
import type { SignalRecord } from "./types.js";

/** Options of {@link createSubscription}. */
export interface SubscriptionOptions {
  readonly id: string;
  readonly agentId: string;
  /** The coordination's log, for the replay part. */
  readonly log: SequenceLog<SignalRecord>;
  /** Whether a signal is for this subscription (used for the replay part; live signals are matched by the caller). */
  readonly matches: (signal: SignalRecord) => boolean;
  /** Replay retained signals with sequence in `[replayFrom, replayTo]`; none when `replayFrom > replayTo`. */
  readonly replayFrom: number;
  readonly replayTo: number;
  /** Undelivered live signals held before the subscription is cut. */
  readonly bufferSize: number;
  /**
   * Called with each batch handed to the transport (metrics): its last `liveOfferedAt.length` signals came live,
   * offered at those `performance.now()` times; the rest came from replay.
   */
  readonly onDeliver: (batch: readonly SignalRecord[], liveOfferedAt: readonly number[]) => void;
  /** Called once when the subscription closes, however it ends. */
  readonly onClose: () => void;
}

/** Why a wait returned. */
export type WaitResult = "ready" | "timeout" | "ended";

/**
 * One subscription: a replay cursor over the log, then a bounded FIFO of live signals. Publishing only appends
 * to the FIFO (never waits); a subscription whose FIFO is full is ended `exhausted` with its last delivered
 * sequence so that it can resume from history without loss.
 */
export interface Subscription {
  readonly id: string;
  readonly agentId: string;
  /** Sequence of the last signal handed to the transport; the replay start minus one before any. */
  readonly lastDelivered: number;
  /** The error the subscription ended with, once ended. */
  readonly endedWith: ConsortError | undefined;
  /**
   * Hands a live signal to the subscription, published at `offeredAt` (`performance.now()`, for its propagation
   * time: kept while it waits here, not on the retained record); never blocks.
   */
  offer(signal: SignalRecord, offeredAt: number): void;
  /**
   * Takes up to `maxCount` signals, replay first, stopping before the signal that would take the batch past
   * `maxBytes` as measured by `sizeOf` (the first signal is always taken); [] when none is ready.
   */
  take(maxCount: number, maxBytes: number, sizeOf: (signal: SignalRecord) => number): SignalRecord[];
  /** Resolves when signals are ready, the subscription ends, `timeoutMs` passes or `abort` fires. */
  wait(timeoutMs: number | undefined, abort: AbortSignal | undefined): Promise<WaitResult>;
  /** Ends the subscription with `error` (the first end wins) and drops its buffer. */
  end(error: ConsortError): void;
  /** Calls `listener` once when the subscription ends with an error (lagging, shutdown); not on close. */
  onEnd(listener: (error: ConsortError) => void): void;
  /** Unregisters; idempotent. */
  close(): void;
}

/** Creates a {@link Subscription}. */
export function createSubscription(o: SubscriptionOptions): Subscription {
  let queue: SignalRecord[] = [];
  let offeredAt: number[] = [];
  let qHead = 0;
  let replayNext = o.replayFrom;
  let lastDelivered = o.replayFrom - 1;
  let endedWith: ConsortError | undefined;
  let closed = false;
  let wake: ((r: WaitResult) => void) | undefined;
  let endListener: ((error: ConsortError) => void) | undefined;

  const pending = () => queue.length - qHead;
  const notify = (r: WaitResult) => {
    const w = wake;
    wake = undefined;
    w?.(r);
  };
  const lagging = () =>
    new ConsortError(
      "exhausted",
      `subscriber fell more than ${o.bufferSize} signals behind; resume with after_sequence=${lastDelivered}`,
      { reason: "SUBSCRIBER_LAGGING", metadata: { last_delivered_sequence: String(lastDelivered) } },
    );

  const sub: Subscription = {
    id: o.id,
    agentId: o.agentId,
    get lastDelivered() {
      return lastDelivered;
    },
    get endedWith() {
      return endedWith;
    },
    offer(signal, at) {
      if (endedWith !== undefined) return;
      if (pending() >= o.bufferSize) {
        sub.end(lagging());
        return;
      }
      queue.push(signal);
      offeredAt.push(at);
      notify("ready");
    },
    take(maxCount, maxBytes, sizeOf) {
      const out: SignalRecord[] = [];
      if (endedWith !== undefined) return out;
      let bytes = 0;
      // Adds `s` unless it would overflow the batch (the first one always goes): false means the batch is full.
      const fits = (s: SignalRecord) => {
        const size = sizeOf(s);
        if (out.length > 0 && bytes + size > maxBytes) return false;
        bytes += size;
        out.push(s);
        return true;
      };
      let full = false;
      while (!full && replayNext <= o.replayTo && out.length < maxCount) {
        if (replayNext < o.log.oldest) {
          // The history moved past the replay cursor before it was delivered.
          if (out.length > 0) break;
          sub.end(lagging());
          return out;
        }
        const s = o.log.get(replayNext);
        if (s !== undefined && o.matches(s) && !fits(s)) full = true;
        else replayNext++;
      }
      const liveAt: number[] = [];
      while (!full && replayNext > o.replayTo && qHead < queue.length && out.length < maxCount) {
        if (fits(queue[qHead] as SignalRecord)) liveAt.push(offeredAt[qHead++] as number);
        else full = true;
      }
      if (qHead > 1024 && qHead * 2 > queue.length) {
        queue = queue.slice(qHead);
        offeredAt = offeredAt.slice(qHead);
        qHead = 0;
      } else if (qHead === queue.length && qHead > 0) {
        queue = [];
        offeredAt = [];
        qHead = 0;
      }
      const last = out[out.length - 1];
      if (last !== undefined) {
        lastDelivered = last.sequence;
        o.onDeliver(out, liveAt);
      } else if (replayNext > o.replayTo && o.replayTo >= o.replayFrom) {
        // The replay range held nothing for this subscriber: it has seen everything up to replayTo.
        lastDelivered = Math.max(lastDelivered, o.replayTo);
      }
      return out;
    },
    wait(timeoutMs, abort) {
      if (endedWith !== undefined) return Promise.resolve("ended");
      if (replayNext <= o.replayTo || pending() > 0) return Promise.resolve("ready");
      if (abort?.aborted) return Promise.resolve("ended");
      return new Promise<WaitResult>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => notify("ended");
        wake = (r) => {
          if (timer !== undefined) clearTimeout(timer);
          abort?.removeEventListener("abort", onAbort);
          resolve(r);
        };
        if (timeoutMs !== undefined) timer = setTimeout(() => notify("timeout"), timeoutMs);
        abort?.addEventListener("abort", onAbort, { once: true });
      });
    },
    end(error) {
      if (endedWith !== undefined) return;
      endedWith = error;
      queue = [];
      offeredAt = [];
      qHead = 0;
      notify("ended");
      endListener?.(error);
    },
    onEnd(listener) {
      endListener = listener;
    },
    close() {
      if (closed) return;
      closed = true;
      if (endedWith === undefined) {
        endedWith = new ConsortError("aborted", "subscription closed", { reason: "SUBSCRIPTION_CLOSED" });
      }
      queue = [];
      offeredAt = [];
      notify("ended");
      o.onClose();
    },
  };
  return sub;
}
