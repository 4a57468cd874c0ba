import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { encodedOf } from "../binding/pre-encoded.js";
import { handlerOf, type ServiceBinding } from "../binding/service-binding.js";
import { ConsortError } from "../core/errors.js";
import { GrpcHandlerContext, type GrpcContextShared } from "./grpc-context.js";
import { toGrpcStatus, toWireError } from "./errors.js";
import { OK, type CallObservation, type CallOutcome } from "./observe.js";

/**
 * Serves a {@link ServiceBinding} on grpc-js: per method a path `/<service>/<method>`, the request decoded and the
 * response encoded here (not by grpc-js), so that an undecodable request is INVALID_ARGUMENT and an oversized
 * response RESOURCE_EXHAUSTED, both with an ErrorInfo, like every other error; a real handler context per call
 * ({@link GrpcHandlerContext}); streams written with flow control (a server stream's next response is pulled once
 * the last is written out; a bidirectional one's when grpc-js's buffer has room).
 */

/** Starts observing calls and counts them in flight (see grpc.ts). */
export interface CallStarter {
  start(method: string, request: unknown): CallObservation;
}

/** Options of {@link bridgeService}. */
export interface BridgeOptions {
  readonly shared: GrpcContextShared;
  readonly calls: CallStarter;
  /** Largest response message in bytes; a larger one fails RESOURCE_EXHAUSTED (RESPONSE_TOO_LARGE). */
  readonly maxMessageBytes: number;
}

/** Bytes pass through grpc-js untouched: this bridge decodes and encodes. */
const passBytes = (b: Buffer) => b;

/** The request's message, or INVALID_ARGUMENT (MALFORMED_MESSAGE) naming what could not be decoded. */
function decodeRequest(method: DescMethod, decode: ((bytes: Uint8Array) => unknown) | undefined, bytes: Buffer): unknown {
  try {
    return decode !== undefined ? decode(bytes) : fromBinary(method.input, bytes);
  } catch (e) {
    throw new ConsortError("invalid", `request: cannot be decoded as ${method.input.typeName}: ${(e as Error).message}`, {
      reason: "MALFORMED_MESSAGE",
      metadata: { message_type: method.input.typeName },
      cause: e,
    });
  }
}

/** A response's wire bytes (its attached encoding, if it has one), or RESOURCE_EXHAUSTED past the limit. */
function encodeResponse(desc: DescMessage, res: unknown, maxBytes: number): Buffer {
  const bytes = encodedOf(res) ?? toBinary(desc, isMessage(res, desc) ? res : create(desc, res as never));
  if (bytes.byteLength > maxBytes) {
    throw new ConsortError("exhausted", `response of ${bytes.byteLength} bytes is larger than the message limit of ${maxBytes} bytes`, {
      reason: "RESPONSE_TOO_LARGE",
      metadata: { size_bytes: String(bytes.byteLength), limit_bytes: String(maxBytes) },
    });
  }
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Headers as grpc-js metadata (response headers and trailers a handler set on its context). */
function metadataOf(headers: Headers): grpc.Metadata | undefined {
  let md: grpc.Metadata | undefined;
  headers.forEach((value, key) => {
    md ??= new grpc.Metadata();
    md.add(key, key.endsWith("-bin") ? Buffer.from(value, "base64") : value);
  });
  return md;
}

const succeeded: CallOutcome = { code: OK };

/** The grpc-js side of one unary method: decode, call the handler, encode, answer; every throw becomes a status. */
class UnaryMethod {
  constructor(
    private readonly binding: ServiceBinding,
    private readonly method: DescMethod,
    private readonly name: string,
    private readonly o: BridgeOptions,
  ) {}

  readonly handle = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): void => {
    let req: unknown;
    try {
      req = decodeRequest(this.method, this.binding.decoders?.[this.method.localName], call.request);
    } catch (err) {
      this.fail(callback, this.o.calls.start(this.name, undefined), undefined, err);
      return;
    }
    const obs = this.o.calls.start(this.name, req);
    const ctx = new GrpcHandlerContext(call, this.method, this.o.shared);
    // Called directly: a handler that throws synchronously fails the call like a rejection does, and a synchronous
    // result (Route) is answered without a promise.
    let out: unknown;
    try {
      out = handlerOf(this.binding, this.method).call(this.binding.impl, req, ctx);
    } catch (err) {
      this.fail(callback, obs, ctx, err);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (res: unknown) => this.answer(call, callback, obs, ctx, res),
        (err: unknown) => this.fail(callback, obs, ctx, err),
      );
    } else this.answer(call, callback, obs, ctx, out);
  };

  private answer(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>, obs: CallObservation, ctx: GrpcHandlerContext, res: unknown): void {
    let bytes: Buffer;
    try {
      bytes = encodeResponse(this.method.output, res, this.o.maxMessageBytes);
    } catch (err) {
      this.fail(callback, obs, ctx, err);
      return;
    }
    if (ctx.used) {
      const header = metadataOf(ctx.responseHeader);
      if (header !== undefined) call.sendMetadata(header);
      callback(null, bytes, metadataOf(ctx.responseTrailer));
      ctx.end();
    } else callback(null, bytes);
    obs.end(succeeded);
  }

  private fail(callback: grpc.sendUnaryData<Buffer>, obs: CallObservation, ctx: GrpcHandlerContext | undefined, err: unknown): void {
    const w = toWireError(err);
    callback(toGrpcStatus(w));
    ctx?.end(err);
    obs.end({ code: w.code, error: w });
  }
}

/** A handler's interrupt of its stream: the first error it was given, and who waits for it. */
interface Interruption {
  error?: { readonly value: unknown };
  listener?: (() => void) | undefined;
}

/**
 * Writes one response. A server stream (Subscribe, WatchAgentContext) then waits until that message has been
 * written out (its write callback), a bidirectional one only when the stream's buffer is full, until it drains.
 * Either wait also ends when `signal` aborts or the handler interrupts the stream (with `signal` already aborted,
 * the response is written without waiting); it listens rather than racing a promise that stays pending for the
 * whole call, which would keep a reaction per wait until the call ends.
 *
 * Pulling a server stream's next response only after the last one is out batches by load: what arrives while a
 * message is being written goes out in the next one. Measured with one publisher flat out (bench/README.md, "A
 * thin gRPC layer on node:http2"), it cut the server's CPU per delivery to 0.51–0.62× at 10 and 100 subscribers; at
 * 1,000 signals/s a write is out long before the next signal, so nothing waits.
 */
function send(
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  bytes: Buffer,
  untilWritten: boolean,
  signal: AbortSignal,
  interruption: Interruption,
): Promise<void> | undefined {
  // Already aborted (a client gone, or the shutdown flushing what a subscription holds): no wait could end, as an
  // abort listener added now never fires; grpc-js does not call back a write on a cancelled call either.
  if (signal.aborted) {
    call.write(bytes);
    return undefined;
  }
  if (!untilWritten && call.write(bytes)) return undefined;
  return new Promise((resolve) => {
    let waiting = true;
    const done = () => {
      if (!waiting) return;
      waiting = false;
      if (!untilWritten) call.off("drain", done);
      signal.removeEventListener("abort", done);
      interruption.listener = undefined;
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    interruption.listener = done;
    if (untilWritten) call.write(bytes, done);
    else call.on("drain", done);
  });
}

/**
 * A bidirectional call's requests, decoded one at a time as the handler pulls them: grpc-js reads no further than
 * its buffer ahead of the handler, so a client is held back by HTTP/2 flow control, not buffered without bound.
 * A request that cannot be decoded ends the call INVALID_ARGUMENT (MALFORMED_MESSAGE).
 */
async function* requestsOf(call: grpc.ServerDuplexStream<Buffer, Buffer>, method: DescMethod, decode: ((bytes: Uint8Array) => unknown) | undefined): AsyncGenerator<unknown> {
  // Not destroyed when the requests end: the call still has its responses and status to send.
  for await (const bytes of call.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) yield decodeRequest(method, decode, bytes);
}

/** The grpc-js side of one server-streaming or bidirectional method. */
function streamingMethod(binding: ServiceBinding, method: DescMethod, name: string, o: BridgeOptions) {
  const bidi = method.methodKind === "bidi_streaming";
  return async (call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>): Promise<void> => {
    let obs: CallObservation | undefined;
    // A handler ends the stream now (lagging subscriber) through the context's interrupt, even while the client's
    // flow-control window is full: waiting for the client to read first could take forever.
    const interruption: Interruption = {};
    const interrupt = (err: unknown) => {
      interruption.error ??= { value: err };
      interruption.listener?.();
    };
    const ctx = new GrpcHandlerContext(call, method, o.shared, interrupt);
    const signal = ctx.signal;
    // The client is gone (cancel or deadline): nothing more can be sent.
    const clientGone = () => call.cancelled;
    let it: AsyncIterator<unknown> | undefined;
    let headerSent = false;
    try {
      const decode = binding.decoders?.[method.localName];
      const req = bidi
        ? requestsOf(call as grpc.ServerDuplexStream<Buffer, Buffer>, method, decode)
        : decodeRequest(method, decode, (call as grpc.ServerWritableStream<Buffer, Buffer>).request);
      obs = o.calls.start(name, bidi ? undefined : req);
      it = (handlerOf(binding, method).call(binding.impl, req, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      for (;;) {
        const r = await it.next();
        if (r.done === true || clientGone()) break;
        const bytes = encodeResponse(method.output, r.value, o.maxMessageBytes);
        if (!headerSent) {
          headerSent = true;
          const header = metadataOf(ctx.responseHeader);
          if (header !== undefined) call.sendMetadata(header);
        }
        // Interrupted: this response still goes out (its signals count as delivered), and the handler ends now; the
        // status follows what grpc-js has queued.
        if (interruption.error === undefined) await send(call, bytes, !bidi, signal, interruption);
        else call.write(bytes);
        if (interruption.error !== undefined) throw interruption.error.value;
      }
      if (clientGone()) {
        obs.end({ code: ConnectError.from(signal.reason).code });
      } else {
        call.end(metadataOf(ctx.responseTrailer));
        obs.end(succeeded);
      }
    } catch (err) {
      const w = toWireError(err);
      obs ??= o.calls.start(name, undefined);
      if (clientGone()) obs.end({ code: Code.Canceled });
      else {
        obs.end({ code: w.code, error: w });
        call.emit("error", toGrpcStatus(w));
      }
    } finally {
      ctx.end();
      await it?.return?.();
    }
  };
}

/** The grpc-js service definition and handlers of a binding. */
export function bridgeService(binding: ServiceBinding, o: BridgeOptions): { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
  const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of binding.service.methods) {
    const name = `${binding.service.typeName}/${method.name}`;
    definition[method.localName] = {
      path: `/${name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: passBytes,
      requestDeserialize: passBytes,
      responseSerialize: passBytes,
      responseDeserialize: passBytes,
    };
    if (method.methodKind === "unary") handlers[method.localName] = new UnaryMethod(binding, method, name, o).handle;
    else if (method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming") handlers[method.localName] = streamingMethod(binding, method, name, o);
  }
  return { definition: definition as grpc.ServiceDefinition, handlers };
}
