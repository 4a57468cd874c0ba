import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { interruptKey } from "../binding/call-context.js";
import { clientGoneReason } from "./cancel-reason.js";
import type { ShutdownFanout } from "./shutdown-fanout.js";

/** A grpc-js server call, unary or streaming (either way): what a handler context is made from. */
export type GrpcCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** What every call's context shares. */
export interface GrpcContextShared {
  /** Aborts each open call's context (with `ServerShutdown`) when the server shuts down. */
  readonly shutdown: ShutdownFanout;
}

/**
 * Why a context's signal aborts once its call is over (a handler's pending work is released). One shared error:
 * aborting with no reason would make a DOMException, stack trace and all, at the end of every call.
 */
const callEnded = new ConnectError("the call has ended", Code.Canceled);

type Controller = ReturnType<typeof createHandlerContext>;


/** Milliseconds left until the call's deadline; `undefined` when it has none. */
function timeoutOf(call: GrpcCall): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** The call's metadata as headers (binary `-bin` values base64-encoded, as on the wire). */
function headersOf(call: GrpcCall): Headers {
  const h = new Headers();
  for (const [key, value] of Object.entries(call.metadata.toHttp2Headers())) {
    for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) h.append(key, String(v));
  }
  // grpc-js keeps the content type out of the metadata; handlers learn the wire format from it.
  h.set("content-type", "application/grpc+proto");
  return h;
}

/**
 * Connect's `HandlerContext` for a grpc-js call, made with connect's `createHandlerContext`: deadline
 * (`timeoutMs`, and `signal` aborting with DEADLINE_EXCEEDED), request metadata as `requestHeader`, client
 * cancellation (`signal` aborting with CANCELED) and the server's shutdown (`signal` aborting with
 * `ServerShutdown`, through the shutdown fan-out), so a handler tells a deadline from a cancel from a shutdown by
 * `signal.reason`.
 *
 * Built on first use: most unary handlers never look at their context (Route is the hottest call), and a class
 * rather than an object literal with getters, which would make a new closure and hidden class per call (that kept
 * every finished call reachable until a full GC). `end` aborts the context once the call is over.
 */
export class GrpcHandlerContext implements HandlerContext {
  #real: Controller | undefined;
  #release: (() => void) | undefined;
  #ended = false;
  readonly #call: GrpcCall;
  readonly #shared: GrpcContextShared;
  readonly #interrupt: ((error: unknown) => void) | undefined;
  readonly method: DescMethod;

  constructor(call: GrpcCall, method: DescMethod, shared: GrpcContextShared, interrupt?: (error: unknown) => void) {
    this.#call = call;
    this.method = method;
    this.#shared = shared;
    this.#interrupt = interrupt;
  }

  #ctx(): Controller {
    if (this.#real !== undefined) return this.#real;
    const call = this.#call;
    const timeoutMs = timeoutOf(call);
    const requestAbort = new AbortController();
    if (this.#ended) {
      // First looked at after its call ended: born ended, with nothing to listen to.
      requestAbort.abort(callEnded);
    } else {
      // grpc-js reports both a client cancel and a deadline as "cancelled": `signal.reason` tells them apart. It
      // also emits "cancelled" once it has sent a call's trailers: `end` removes the listener first.
      const deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
      const cancelled = () => requestAbort.abort(clientGoneReason(deadlineAt));
      // Every grpc-js call is an EventEmitter; the union of their typed overloads is not callable as such.
      const events = call as unknown as NodeJS.EventEmitter;
      if (call.cancelled) cancelled();
      else events.once("cancelled", cancelled);
      const unregister = this.#shared.shutdown.add(requestAbort);
      this.#release = () => {
        events.removeListener("cancelled", cancelled);
        unregister();
      };
    }
    const values = createContextValues();
    if (this.#interrupt !== undefined) values.set(interruptKey, this.#interrupt);
    this.#real = createHandlerContext({
      service: this.method.parent,
      method: this.method,
      protocolName: "grpc",
      requestMethod: "POST",
      url: `http://${call.getHost()}${call.getPath()}`,
      ...(timeoutMs !== undefined && { timeoutMs }),
      requestSignal: requestAbort.signal,
      requestHeader: headersOf(call),
      contextValues: values,
    });
    return this.#real;
  }

  /** True once a handler has looked at the context (its response headers and trailers are then sent). */
  get used(): boolean {
    return this.#real !== undefined;
  }
  get service() {
    return this.method.parent;
  }
  get signal() {
    return this.#ctx().signal;
  }
  get timeoutMs() {
    return this.#ctx().timeoutMs;
  }
  get requestMethod() {
    return "POST";
  }
  get requestHeader() {
    return this.#ctx().requestHeader;
  }
  get responseHeader() {
    return this.#ctx().responseHeader;
  }
  get responseTrailer() {
    return this.#ctx().responseTrailer;
  }
  get protocolName() {
    return "grpc";
  }
  get values() {
    return this.#ctx().values;
  }
  get url() {
    return this.#ctx().url;
  }

  /**
   * Ends the context: its signal aborts (handlers' pending work is released), its timers stop, and it stops
   * listening for the call's cancel and the server's shutdown.
   */
  end(reason?: unknown): void {
    this.#ended = true;
    this.#release?.();
    this.#real?.abort(reason ?? callEnded);
  }
}
