import type { Logger } from "pino";
import { Code } from "@connectrpc/connect";
import type { ServerMetrics } from "../metrics.js";
import type { WireError } from "./errors.js";

/** How one call ended, for {@link CallObserver}. */
export type CallOutcome = { readonly code: number; readonly error?: WireError };

/** The status code of a successful call. */
export const OK = 0;

/** Logs and measures calls the same way for both transports: one child logger per call. */
export interface CallObserver {
  /** Starts observing a call; the returned function records its end. */
  start(method: string, transport: "grpc" | "web", request: unknown): { end(outcome: CallOutcome): void };
}

const codeName = (code: number) => (code === OK ? "OK" : (Code[code] ?? String(code)));
// Client-side endings are routine: logged at debug, like etcd does.
const quiet = new Set<number>([OK, Code.Canceled, Code.DeadlineExceeded, Code.OutOfRange]);

/** Creates a {@link CallObserver} over a logger and the server metrics. */
export function createCallObserver(logger: Logger, metrics: ServerMetrics): CallObserver {
  // Labelled histogram children, cached: resolving labels on every observation costs more than the observation.
  const durations = new Map<string, { observe(v: number): void }>();
  const durationOf = (method: string, code: number, transport: string) => {
    const key = `${method}|${code}|${transport}`;
    let h = durations.get(key);
    if (h === undefined) {
      h = metrics.rpcDuration.labels({ method, code: codeName(code), transport });
      durations.set(key, h);
    }
    return h;
  };
  return {
    start(method, transport, request) {
      const t0 = process.hrtime.bigint();
      // The child logger is made only when the call logs something: most calls end quietly, and a child per call
      // would cost more than the call on hot paths (Route, Publish).
      let child: Logger | undefined;
      const log = () => {
        if (child === undefined) {
          const coordination = (request as { coordinationId?: unknown } | undefined)?.coordinationId;
          child = logger.child({ method, transport, ...(typeof coordination === "string" && { coordination }) });
        }
        return child;
      };
      return {
        end({ code, error }) {
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          durationOf(method, code, transport).observe(seconds);
          const quietCall = quiet.has(code) && !error?.unexpected;
          if (quietCall && !logger.isLevelEnabled("debug")) return;
          const fields = { code: codeName(code), durationMs: Math.round(seconds * 1e6) / 1e3 };
          if (error?.unexpected) log().error({ ...fields, err: error.message }, "call failed");
          else if (quietCall) log().debug(fields, "call finished");
          else log().info({ ...fields, err: error?.message }, "call finished");
        },
      };
    },
  };
}
