import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * What a handler may learn from its `HandlerContext` beyond connect's fields, set by the transports through
 * context values, and the one shutdown reason both transports abort their calls with.
 */

/**
 * Server streams: ends the stream now with the given error, without waiting for the client to read what is
 * buffered (a subscriber cut for lagging must not wait on the very client that lags). Set by the gRPC bridge;
 * where it is unset the error ends the stream when the transport next pulls the handler.
 */
export const interruptKey = createContextKey<((error: unknown) => void) | undefined>(undefined, { description: "consort.interrupt" });

/** How the response will be encoded: protobuf binary (gRPC, gRPC-Web, Connect binary) or JSON (Connect JSON). */
export type WireFormat = "binary" | "json";

/** The response encoding of a call, from its request's content type (`application/json`, `application/connect+json`). */
export function wireFormatOf(ctx: Pick<HandlerContext, "requestHeader">): WireFormat {
  const type = ctx.requestHeader.get("content-type") ?? "";
  return /[/+]json\b/i.test(type) ? "json" : "binary";
}

/** The reason every call's signal is aborted with when the server shuts down (UNAVAILABLE). */
export class ServerShutdown extends ConnectError {
  constructor() {
    super("server is shutting down", Code.Unavailable);
  }

  // ConnectError's own `Symbol.hasInstance` accepts any ConnectError (so that errors from another copy of the
  // library pass `instanceof ConnectError`), and a subclass inherits it: without this, a client's cancel or a
  // deadline would pass `instanceof ServerShutdown` too. Only real ServerShutdown instances do.
  static override [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(ServerShutdown, v);
  }
}

/** True when `signal` was aborted by the server's shutdown (not by the client, nor by a deadline). */
export function abortedByShutdown(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof ServerShutdown;
}

/** Why a call's signal aborted: the server's shutdown, the call's deadline, or the client's cancel. */
export function abortKind(signal: AbortSignal): "shutdown" | "deadline" | "cancelled" {
  if (signal.reason instanceof ServerShutdown) return "shutdown";
  return signal.reason instanceof ConnectError && signal.reason.code === Code.DeadlineExceeded ? "deadline" : "cancelled";
}
