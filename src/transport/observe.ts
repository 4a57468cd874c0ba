import type { Logger } from "pino";
import { Code } from "@connectrpc/connect";
import type { Observable, ServerMetrics } from "../metrics.js";
import type { WireError } from "./errors.js";

/** How one call ended, for {@link CallObserver}. */
export type CallOutcome = { readonly code: number; readonly error?: WireError };

/** The status code of a successful call. */
export const OK = 0;

/** One observed call. */
export interface CallObservation {
  /** Records how the call ended: its duration (histogram) and, when it is worth a line, a log entry. */
  end(outcome: CallOutcome): void;
}

/** Logs and measures calls the same way for both transports. */
export interface CallObserver {
  /** Starts observing a call; `request` gives the log line its coordination id. */
  start(method: string, transport: "grpc" | "web", request: unknown): CallObservation;
}

const codeName = (code: number) => (code === OK ? "OK" : (Code[code] ?? String(code)));
// Client-side endings are routine: logged at debug, like etcd does. So is NOT_FOUND: an agent polling the status
// of a coordination not created yet asks it many times a second, and a line per poll would flood the log.
const quiet = new Set<number>([OK, Code.Canceled, Code.DeadlineExceeded, Code.OutOfRange, Code.NotFound]);

/** What every observation of one observer shares. */
interface ObserverState {
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  durationOf(method: string, code: number, transport: string): Observable;
}

/**
 * One call's observation. A class with its state in fields, not closures: observing is on every call's path
 * (Route, Publish), and a per-call child logger or closure would cost more than the call. The child logger is made
 * only when the call logs something.
 */
class Observation implements CallObservation {
  readonly #t0 = performance.now();
  constructor(
    private readonly shared: ObserverState,
    private readonly method: string,
    private readonly transport: "grpc" | "web",
    private readonly request: unknown,
  ) {}

  end({ code, error }: CallOutcome): void {
    const ms = performance.now() - this.#t0;
    const { logger, metrics } = this.shared;
    metrics.observeLater(this.shared.durationOf(this.method, code, this.transport), ms / 1e3);
    const quietCall = quiet.has(code) && !error?.unexpected;
    if (quietCall && !logger.isLevelEnabled("debug")) return;
    const coordination = (this.request as { coordinationId?: unknown } | undefined)?.coordinationId;
    const log = logger.child({ method: this.method, transport: this.transport, ...(typeof coordination === "string" && { coordination }) });
    const fields = { code: codeName(code), durationMs: Math.round(ms * 1e3) / 1e3 };
    // An unexpected error is logged whole (message, stack, cause); the client only got a bare INTERNAL.
    if (error?.unexpected) log.error({ ...fields, err: error.cause ?? error.message }, "call failed");
    else if (quietCall) log.debug(fields, "call finished");
    else log.info({ ...fields, err: error?.message }, "call finished");
  }
}

/** Creates a {@link CallObserver} over a logger and the server metrics. */
export function createCallObserver(logger: Logger, metrics: ServerMetrics): CallObserver {
  // Labelled histogram children, cached by method, then by code and transport (no key string per call): resolving
  // labels on every observation costs more than the observation.
  const durations = new Map<string, Observable[]>();
  const shared: ObserverState = {
    logger,
    metrics,
    durationOf(method, code, transport) {
      let byCode = durations.get(method);
      if (byCode === undefined) durations.set(method, (byCode = []));
      const i = code * 2 + (transport === "grpc" ? 0 : 1);
      let h = byCode[i];
      if (h === undefined) h = byCode[i] = metrics.rpcDuration.labels({ method, code: codeName(code), transport });
      return h;
    },
  };
  return {
    start: (method, transport, request) => new Observation(shared, method, transport, request),
  };
}
