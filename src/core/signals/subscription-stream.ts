import type { Subscription } from "./subscription.js";
import type { SignalRecord } from "./types.js";

/** One event of a subscription stream. */
export type SubscriptionEvent =
  | { readonly kind: "signals"; readonly signals: readonly SignalRecord[] }
  | { readonly kind: "heartbeat" };

/** Options of {@link streamSubscription}. */
export interface StreamOptions {
  /** Send a heartbeat after this many idle milliseconds. @default no heartbeats */
  readonly heartbeatMs?: number;
  /** Ends the stream quietly (client cancel, deadline). */
  readonly signal?: AbortSignal;
  /** Signals per batch. @default 256 */
  readonly maxBatch?: number;
  /** Bytes per batch, as `sizeOf` measures them; a batch ends before the signal that would exceed it. */
  readonly maxBatchBytes: number;
  /** What a signal adds to a batch as sent (its encoded size with framing). */
  readonly sizeOf: (signal: SignalRecord) => number;
  /**
   * Asked when `signal` aborts: true (the server's shutdown, once publishes have stopped) delivers what the
   * subscription still holds before the stream returns, so no acknowledged signal is left undelivered to a
   * subscriber that can take it. @default never
   */
  readonly flushOnAbort?: () => boolean;
}

/**
 * Turns a subscription into a pulled stream: batches as the consumer asks for them (so the transport's flow
 * control paces delivery), heartbeats when idle. Throws the subscription's end error (lagging); returns when
 * `signal` aborts (client cancel, deadline or server shutdown: the caller tells them apart by the signal's
 * reason). Always closes the subscription — the one place a stream unregisters.
 */
export async function* streamSubscription(sub: Subscription, options: StreamOptions): AsyncGenerator<SubscriptionEvent> {
  const maxBatch = options.maxBatch ?? 256;
  try {
    for (;;) {
      if (options.signal?.aborted) {
        if (options.flushOnAbort?.() !== true) return;
        for (;;) {
          const rest = sub.take(maxBatch, options.maxBatchBytes, options.sizeOf);
          if (rest.length === 0) return;
          yield { kind: "signals", signals: rest };
        }
      }
      const batch = sub.take(maxBatch, options.maxBatchBytes, options.sizeOf);
      if (batch.length > 0) {
        yield { kind: "signals", signals: batch };
        continue;
      }
      if (sub.endedWith !== undefined) throw sub.endedWith;
      const r = await sub.wait(options.heartbeatMs, options.signal);
      if (r === "timeout") yield { kind: "heartbeat" };
    }
  } finally {
    sub.close();
  }
}
