/**
 * The server's shutdown reaching every open call in O(1) per call. Connect links a call's signal to the shutdown
 * signal it is given by adding a listener to it, and Node's `EventTarget.addEventListener` walks every listener
 * already there (its duplicate check): with one shared shutdown signal, opening a call cost O(open calls), and
 * 10,000 open waits or subscriptions made each new one cost ~56 µs more. Instead each call owns an
 * AbortController registered here; the one listener on the shutdown signal aborts them all.
 */

/** See the module comment. */
export interface ShutdownFanout {
  /**
   * Aborts `controller` with the shutdown signal's reason when the server shuts down (at once if it already has).
   * Returns the function that unregisters it (call it when the call ends).
   */
  add(controller: AbortController): () => void;
  /** Calls registered and not yet ended. */
  readonly size: number;
}

/** Creates a {@link ShutdownFanout} for the server's shutdown `signal`. */
export function createShutdownFanout(signal: AbortSignal): ShutdownFanout {
  const controllers = new Set<AbortController>();
  const none = () => false;
  signal.addEventListener(
    "abort",
    () => {
      // Aborting runs each call's own listeners, which may end the call and unregister it: abort a copy.
      const all = [...controllers];
      controllers.clear();
      for (const c of all) c.abort(signal.reason);
    },
    { once: true },
  );
  return {
    add(controller) {
      if (signal.aborted) {
        controller.abort(signal.reason);
        return none;
      }
      controllers.add(controller);
      return () => controllers.delete(controller);
    },
    get size() {
      return controllers.size;
    },
  };
}
