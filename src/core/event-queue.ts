/**
 * A bounded queue between one producer that must never wait (an engine announcing a change) and one consumer that
 * pulls at its own pace (a stream paced by the transport's flow control). A consumer that lets more than `limit`
 * items pile up is ended with `overflow()`'s error and unregistered (its queued items dropped: it resumes from
 * what it took), so memory stays bounded and the producer is never slowed.
 */

/** Options of {@link createEventQueue}. */
export interface EventQueueOptions {
  /** Items held at most; one more ends the queue with `overflow()`. */
  readonly limit: number;
  /** The error the queue ends with when it overflows. */
  readonly overflow: () => unknown;
  /** Called once, when the queue is closed (unregister it here). */
  readonly onClose?: () => void;
}

/** Options of {@link createEventQueue} with the items it starts with. */
export interface EventQueueInit<T> extends EventQueueOptions {
  /** Queued at creation, over and above `limit` (a replay the consumer has yet to take). @default [] */
  readonly initial?: readonly T[];
}

/** See the module comment. */
export interface EventQueue<T> {
  /** Adds an item and wakes the consumer; ignored once ended. */
  push(item: T): void;
  /** Removes and returns every queued item, oldest first. */
  drain(): T[];
  /** Ends the queue: the consumer takes what is queued, then sees `endedWith`. Only the first end counts. */
  end(error?: unknown): void;
  /** Whether {@link end} was called (or the queue overflowed). */
  readonly ended: boolean;
  /** The error it ended with; `undefined` while open or when ended without one. */
  readonly endedWith: unknown;
  /** Resolves when an item is queued, the queue ends, or `signal` aborts (at once if any is already so). */
  wait(signal?: AbortSignal): Promise<void>;
  /** Ends the queue and runs `onClose`, once. */
  close(): void;
}

/** Creates an {@link EventQueue}. */
export function createEventQueue<T>(options: EventQueueInit<T>): EventQueue<T> {
  let items: T[] = [...(options.initial ?? [])];
  // The initial items do not count against the limit until the consumer has taken them.
  let slack = items.length;
  let ended = false;
  let endedWith: unknown;
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const queue: EventQueue<T> = {
    push(item) {
      if (ended) return;
      if (items.length >= options.limit + slack) {
        // Ended and unregistered at once: the queued items go too (the consumer resumes from what it took), so a
        // consumer that never reads holds nothing.
        queue.end(options.overflow());
        queue.close();
        return;
      }
      items.push(item);
      notify();
    },
    drain() {
      const out = items;
      items = [];
      slack = 0;
      return out;
    },
    end(error) {
      if (ended) return;
      ended = true;
      endedWith = error;
      notify();
    },
    get ended() {
      return ended;
    },
    get endedWith() {
      return endedWith;
    },
    wait(signal) {
      if (items.length > 0 || ended || signal?.aborted === true) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const onAbort = () => {
          wake = undefined;
          resolve();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    },
    close() {
      queue.end();
      if (closed) return;
      closed = true;
      items = [];
      options.onClose?.();
    },
  };
  return queue;
}
