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
  /** Approximate bytes per batch. @default 1048576 */
  readonly maxBatchBytes?: number;
}

/**
 * Turns a subscription into a pulled stream: batches as the consumer asks for them (so the transport's flow
 * control paces delivery), heartbeats when idle. Throws the subscription's end error (lagging, shutdown);
 * returns when `signal` aborts. Always closes the subscription — the one place a stream unregisters.
 */
export async function* streamSubscription(sub: Subscription, options: StreamOptions = {}): AsyncGenerator<SubscriptionEvent> {
  const maxBatch = options.maxBatch ?? 256;
  const maxBytes = options.maxBatchBytes ?? 1024 * 1024;
  try {
    for (;;) {
      if (options.signal?.aborted) return;
      const batch = sub.take(maxBatch, maxBytes);
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
