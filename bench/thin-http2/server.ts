/**
 * MEASUREMENT PROTOTYPE — not served by Consort, not imported by src/, not in the test suite (./smoke.ts checks the
 * parts the measurement relies on).
 *
 * A thin gRPC layer on `node:http2` (h2c) for Consort's two hot signal RPCs,
 * `/consort.v1.SignalService/PublishStream` and `/consort.v1.SignalService/Subscribe`, driving Consort's **real**
 * SignalService handlers (src/service/signal-service.ts, with the hand-written request decoders of
 * src/service/publish-codec.ts) over a store and signal engine composed the way src/app.ts composes them (same
 * metrics hooks, same call observer), so that the only difference from `dist/src/main.js` is the transport:
 * grpc-js + src/transport/grpc-bridge.ts there, this file here. Issue 10 asked whether a thin layer would win by
 * a wide margin; bench/README.md ("A thin gRPC layer on node:http2") has the measurement.
 *
 * What it does: gRPC length-prefixed framing (5-byte header: flag, big-endian length; a compressed message is
 * refused INTERNAL, a message over --max-message-bytes RESOURCE_EXHAUSTED), `content-type: application/grpc…`
 * checked, response headers, `grpc-status` / `grpc-message` / `grpc-status-details-bin` trailers (trailers-only
 * when nothing was sent), responses sent as their `encodedOf` bytes (else `toBinary`), flow control both ways
 * (requests: the stream is paused while 64 requests wait unpulled, each decoded when pulled; responses: `write()`'s
 * return value and 'drain', or with `--pull after-write` each Subscribe response's write callback — see PullMode),
 * client cancellation (RST_STREAM or a closed connection aborts the handler's context signal),
 * `grpc-timeout` (the context's deadline), the lag cut's interrupt, and SIGTERM (publishes refused, every call's
 * signal aborted with ServerShutdown, subscribers flushed and ended UNAVAILABLE like the real server, then exit).
 *
 * What it does NOT implement (an adoption would need all of it, and the interop suite of issue 10 to prove it):
 * every other method (UNIMPLEMENTED here; the issue's design would serve them with connect-node on the same port),
 * the other services, health and reflection; `grpc-encoding` negotiation (any compressed message is refused, no
 * `grpc-accept-encoding` is advertised); keepalive pings and idle/age limits; GOAWAY-based graceful shutdown with a
 * grace period (SIGTERM closes the listener, waits up to 2 s for the streams, and exits); TLS; the status details
 * grpc-js adds to its own errors (grpc-status-details.ts); max concurrent streams, header size limits, metadata
 * validation; per-call deadline slack beyond clientGoneReason; a lag cut's trailers overtaking DATA that flow
 * control holds back (not checked: Node may queue them behind it); and any hardening against hostile peers.
 *
 *   node dist/bench/thin-http2/server.js --grpc-port P [--pull eager|after-write] [any src/config.ts option: --subscriber-buffer …]
 *
 * prints `{"msg":"thin-http2 listening","port":P}` on stdout once it accepts connections.
 */
import { setMaxListeners } from "node:events";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { create, fromBinary, isMessage, toBinary, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { encodedOf } from "../../src/binding/pre-encoded.js";
import { interruptKey, ServerShutdown } from "../../src/binding/call-context.js";
import { ConsortError } from "../../src/core/errors.js";
import type { SignalEngine } from "../../src/core/signals/signal-engine.js";
import { createServerSignalEngine } from "../../src/app.js";
import { createStore } from "../../src/core/store.js";
import { ConfigError, loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createServerMetrics } from "../../src/metrics.js";
import { decodePublishStreamRequest } from "../../src/service/publish-codec.js";
import { createSignalService } from "../../src/service/signal-service.js";
import { clientGoneReason } from "../../src/transport/cancel-reason.js";
import { statusDetailsBin, toWireError } from "../../src/transport/errors.js";
import { createCallObserver, OK, type CallObserver } from "../../src/transport/observe.js";
import { createShutdownFanout, type ShutdownFanout } from "../../src/transport/shutdown-fanout.js";
import { SignalService, SubscribeRequestSchema } from "../../gen/ts/consort/v1/signal_pb.js";

const {
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_CONTENT_TYPE,
  HTTP2_HEADER_STATUS,
  HTTP2_HEADER_METHOD,
} = http2.constants;

/** Decoded requests a bidi call may hold unpulled before its stream is paused (HTTP/2 flow control then holds the client). */
const queueHigh = 64;

/** A handler as the adapter calls it (connect's ServiceImpl shape). */
type StreamingHandler = (request: unknown, ctx: HandlerContext) => AsyncIterable<unknown>;

/**
 * When a Subscribe stream's next response is pulled from its handler: `eager` as soon as the last one is in the
 * stream's buffer (until 'drain' says it is full: 16 KiB), `after-write` once the last one's write completed (one
 * message in flight per stream, as grpc-js's object-mode Writable has it). Under load `after-write` lets signals
 * gather in the subscription between pulls, so they go out batched; `eager` sends each one as it comes.
 * PublishStream is always eager: its handler batches outcomes per event-loop turn itself, and waiting for each
 * write before the next pull delays the acks the publisher's window waits for.
 */
export type PullMode = "eager" | "after-write";

/** What every call shares. */
interface Shared {
  readonly pull: PullMode;
  readonly shutdown: ShutdownFanout;
  readonly observer: CallObserver;
  readonly maxMessageBytes: number;
}

/** gRPC's percent-encoding of `grpc-message`: bytes outside 0x20–0x7E, and `%`, as %XX. */
function percentEncode(s: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(s)) return s;
  let out = "";
  for (const b of Buffer.from(s, "utf8")) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

/** `grpc-timeout` ("<digits><H|M|S|m|u|n>") in milliseconds, or undefined. */
function timeoutMsOf(v: string | string[] | undefined): number | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as "H"];
  return n * unit;
}

/** A message framed for gRPC: flag 0, 4-byte big-endian length, the bytes. */
function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.byteLength);
  out[0] = 0;
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

/** The response's wire bytes (its attached encoding if it has one), or RESOURCE_EXHAUSTED past the limit. */
function encodeResponse(method: DescMethod, res: unknown, maxBytes: number): Uint8Array {
  const desc = method.output;
  const bytes = encodedOf(res) ?? toBinary(desc, isMessage(res, desc) ? res : create(desc, res as never));
  if (bytes.byteLength > maxBytes) {
    throw new ConsortError("exhausted", `response of ${bytes.byteLength} bytes is larger than the message limit of ${maxBytes} bytes`, {
      reason: "RESPONSE_TOO_LARGE",
      metadata: { size_bytes: String(bytes.byteLength), limit_bytes: String(maxBytes) },
    });
  }
  return bytes;
}

/** The request's message, or INVALID_ARGUMENT (MALFORMED_MESSAGE), as the grpc-js bridge answers. */
function decodeRequest(method: DescMethod, decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch (e) {
    throw new ConsortError("invalid", `request: cannot be decoded as ${method.input.typeName}: ${(e as Error).message}`, {
      reason: "MALFORMED_MESSAGE",
      metadata: { message_type: method.input.typeName },
      cause: e,
    });
  }
}

/**
 * Splits a stream's DATA into gRPC messages. Returns an error status (as a ConnectError) for a compressed or an
 * oversized message; `onMessage` gets each message's bytes (a view of the chunk: decoders copy what they keep).
 */
class Deframer {
  #rest: Buffer | undefined;
  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer, onMessage: (bytes: Buffer) => void): ConnectError | undefined {
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    let pos = 0;
    while (buf.length - pos >= 5) {
      const flag = buf[pos]!;
      const len = buf.readUInt32BE(pos + 1);
      if (flag !== 0) return new ConnectError("compressed messages are not accepted (no grpc-encoding is supported)", Code.Internal);
      if (len > this.maxBytes) return new ConnectError(`received message larger than max (${len} vs. ${this.maxBytes})`, Code.ResourceExhausted);
      if (buf.length - pos - 5 < len) break;
      onMessage(buf.subarray(pos + 5, pos + 5 + len));
      pos += 5 + len;
    }
    if (pos < buf.length) this.#rest = buf.subarray(pos);
    return undefined;
  }

  /** Bytes of an incomplete message left over. */
  get pending(): number {
    return this.#rest?.length ?? 0;
  }
}

/**
 * A bidi call's requests as the handler pulls them, decoded on pull (as grpc-bridge.ts's `requestsOf` does). The
 * HTTP/2 stream is paused while {@link queueHigh} requests wait, and resumed when the handler has taken them.
 */
class RequestQueue implements AsyncIterableIterator<unknown> {
  readonly #messages: Buffer[] = [];
  #head = 0;
  #waiter: { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void } | undefined;
  #ended = false;
  #error: unknown;
  #paused = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly method: DescMethod,
    private readonly decode: (bytes: Uint8Array) => unknown,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  push(bytes: Buffer): void {
    if (this.#ended) return;
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      try {
        w.resolve({ value: decodeRequest(this.method, this.decode, bytes), done: false });
      } catch (e) {
        w.reject(e);
      }
      return;
    }
    this.#messages.push(bytes);
    if (!this.#paused && this.#messages.length - this.#head >= queueHigh) {
      this.#paused = true;
      this.stream.pause();
    }
  }

  /** The client half-closed (`error` undefined) or the call failed. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w === undefined) return;
    if (error !== undefined && this.#head === this.#messages.length) w.reject(error);
    else w.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.#head < this.#messages.length) {
      const bytes = this.#messages[this.#head]!;
      this.#messages[this.#head++] = undefined as never;
      if (this.#head === this.#messages.length) {
        this.#messages.length = 0;
        this.#head = 0;
      }
      if (this.#paused && this.#messages.length - this.#head <= queueHigh / 2) {
        this.#paused = false;
        this.stream.resume();
      }
      try {
        return Promise.resolve({ value: decodeRequest(this.method, this.decode, bytes), done: false });
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.#ended) return this.#error !== undefined ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<unknown>> {
    this.end();
    this.#messages.length = 0;
    this.#head = 0;
    return Promise.resolve({ value: undefined, done: true });
  }
}

/** One gRPC call on an HTTP/2 stream: its context, its response headers and trailers, its end. */
class ThinCall {
  readonly ctx: ReturnType<typeof createHandlerContext>;
  readonly #abort = new AbortController();
  readonly #unregister: () => void;
  readonly #deadlineAt: number | undefined;
  #headersSent = false;
  #finished = false;
  /**
   * The lag cut's interrupt: its first error, and the wait it wakes. Listeners, not a race against a promise
   * pending for the whole call, which would keep one reaction per wait until the call ends (as main's bridge does).
   */
  #interruption: { readonly value: unknown } | undefined;
  #wake: (() => void) | undefined;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly method: DescMethod,
    headers: http2.IncomingHttpHeaders,
    shared: Shared,
  ) {
    const timeoutMs = timeoutMsOf(headers["grpc-timeout"]);
    this.#deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const requestHeader = new Headers();
    for (const [k, v] of Object.entries(headers)) {
      if (k.startsWith(":") || v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) requestHeader.append(k, one);
    }
    this.#unregister = shared.shutdown.add(this.#abort);
    const values = createContextValues();
    values.set(interruptKey, (err: unknown) => {
      this.#interruption ??= { value: err };
      this.#wake?.();
    });
    this.ctx = createHandlerContext({
      service: method.parent,
      method,
      protocolName: "grpc",
      requestMethod: "POST",
      url: `http://${String(headers[":authority"] ?? "localhost")}${String(headers[HTTP2_HEADER_PATH])}`,
      ...(timeoutMs !== undefined && { timeoutMs }),
      requestSignal: this.#abort.signal,
      requestHeader,
      contextValues: values,
    });
    // The client reset the stream, or its connection went: the handler's signal aborts (CANCELED, or
    // DEADLINE_EXCEEDED at the deadline), as the grpc-js adapter's does on "cancelled".
    stream.once("close", () => {
      if (!this.#finished) this.#abort.abort(clientGoneReason(this.#deadlineAt));
    });
    stream.on("error", () => {}); // reported through 'close'
  }

  /** The client is gone (or the stream otherwise closed): nothing more can be sent. */
  get gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  /** Sends the response headers (with the handler's response headers) before the first message. */
  #sendHeaders(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    const h: http2.OutgoingHttpHeaders = { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc" };
    this.ctx.responseHeader.forEach((v, k) => (h[k] = v));
    this.stream.respond(h, { waitForTrailers: true });
  }

  /** Writes one message; false when the stream's buffer is full (wait for 'drain'). */
  write(bytes: Uint8Array): boolean {
    this.#sendHeaders();
    return this.stream.write(frame(bytes));
  }

  /**
   * Writes one message and resolves once HTTP/2 has taken it (its write callback: nghttp2 framed it and the socket
   * write completed), the call's signal aborted or the stream closed; rejects on the lag cut's interrupt.
   */
  async writeAndWait(bytes: Uint8Array): Promise<void> {
    this.#sendHeaders();
    const framed = frame(bytes);
    if (this.#interruption === undefined) await this.#wait((done) => this.stream.write(framed, done));
    else this.stream.write(framed);
    if (this.#interruption !== undefined) throw this.#interruption.value;
  }

  /** Waits for 'drain', the call's end, or the lag cut's interrupt (which rejects). */
  async drained(): Promise<void> {
    if (this.#interruption === undefined) {
      await this.#wait((done) => {
        this.stream.on("drain", done);
        return () => this.stream.off("drain", done);
      });
    }
    if (this.#interruption !== undefined) throw this.#interruption.value;
  }

  /** Resolves once `start`'s event fires, the stream closes, the call's signal aborts or the handler interrupts. */
  #wait(start: (done: () => void) => (() => void) | unknown): Promise<void> {
    const stream = this.stream;
    const signal = this.ctx.signal;
    return new Promise<void>((resolve) => {
      let settled = false;
      let stop: unknown;
      const done = () => {
        if (settled) return;
        settled = true;
        if (typeof stop === "function") (stop as () => void)();
        stream.off("close", done);
        signal.removeEventListener("abort", done);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      stream.on("close", done);
      signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
      stop = start(done);
    });
  }

  /** Ends the call with `code` (OK, or an error's status and details) in trailers, or trailers-only. */
  finish(err?: unknown): number {
    this.#finished = true;
    const trailers: http2.OutgoingHttpHeaders = {};
    let code: number = OK;
    if (err === undefined) {
      trailers["grpc-status"] = "0";
      this.ctx.responseTrailer.forEach((v, k) => (trailers[k] = v));
    } else {
      const w = toWireError(err);
      code = w.code;
      trailers["grpc-status"] = String(w.code);
      trailers["grpc-message"] = percentEncode(w.message);
      trailers["grpc-status-details-bin"] = statusDetailsBin(w).toString("base64").replace(/=+$/, "");
    }
    if (!this.gone) {
      if (this.#headersSent) {
        this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailers));
        this.stream.end();
      } else {
        this.#headersSent = true;
        this.stream.respond({ [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc", ...trailers }, { endStream: true });
      }
    }
    this.#unregister();
    this.ctx.abort(callEnded);
    return code;
  }
}

/** The reason a call's context aborts with once the call is over (one shared error, as grpc-context.ts has). */
const callEnded = new ConnectError("the call has ended", Code.Canceled);

/** Answers a stream trailers-only with `code` and `message` (no handler involved). */
function refuse(stream: http2.ServerHttp2Stream, code: Code, message: string, httpStatus = 200): void {
  stream.on("error", () => {});
  const w = toWireError(new ConnectError(message, code));
  stream.respond(
    {
      [HTTP2_HEADER_STATUS]: httpStatus,
      [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      "grpc-status": String(w.code),
      "grpc-message": percentEncode(w.message),
      "grpc-status-details-bin": statusDetailsBin(w).toString("base64").replace(/=+$/, ""),
    },
    { endStream: true },
  );
}

/** Runs a streaming handler: pulls its responses and writes them with flow control; ends the call. */
async function drive(call: ThinCall, shared: Shared, name: string, handler: StreamingHandler, thisArg: object, request: unknown, observed: unknown): Promise<void> {
  const obs = shared.observer.start(name, "grpc", observed);
  let it: AsyncIterator<unknown> | undefined;
  try {
    it = handler.call(thisArg, request, call.ctx)[Symbol.asyncIterator]();
    for (;;) {
      const r = await it.next();
      if (r.done === true || call.gone) break;
      const bytes = encodeResponse(call.method, r.value, shared.maxMessageBytes);
      if (shared.pull === "after-write" && call.method.methodKind === "server_streaming") await call.writeAndWait(bytes);
      else if (!call.write(bytes)) await call.drained();
    }
    if (call.gone) {
      call.finish(call.ctx.signal.reason);
      obs.end({ code: ConnectError.from(call.ctx.signal.reason).code });
    } else {
      call.finish();
      obs.end({ code: OK });
    }
  } catch (err) {
    if (call.gone) {
      call.finish(err);
      obs.end({ code: Code.Canceled });
    } else {
      const w = toWireError(err);
      call.finish(err);
      obs.end({ code: w.code, error: w });
    }
  } finally {
    await it?.return?.();
  }
}

/** The http2 'stream' handler serving the two methods. */
function serveStream(shared: Shared, impl: object, maxMessageBytes: number) {
  const methods = new Map(SignalService.methods.map((m) => [`/${SignalService.typeName}/${m.name}`, m]));
  const handlers = impl as Record<string, StreamingHandler>;
  return (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    const path = String(headers[HTTP2_HEADER_PATH]);
    const type = String(headers[HTTP2_HEADER_CONTENT_TYPE] ?? "");
    if (headers[HTTP2_HEADER_METHOD] !== "POST" || !/^application\/grpc(\+proto)?(;|$)/.test(type)) {
      // Not gRPC (or another codec): the gRPC spec's answer is HTTP 415.
      refuse(stream, Code.Unknown, `unsupported content-type ${JSON.stringify(type)}`, 415);
      return;
    }
    const method = methods.get(path);
    if (method === undefined || (method.localName !== "publishStream" && method.localName !== "subscribe")) {
      refuse(stream, Code.Unimplemented, `${path} is not served by the thin-http2 measurement prototype`);
      return;
    }
    const name = path.slice(1);
    const call = new ThinCall(stream, method, headers, shared);
    const deframer = new Deframer(maxMessageBytes);
    if (method.localName === "publishStream") {
      const requests = new RequestQueue(stream, method, decodePublishStreamRequest);
      stream.on("data", (chunk: Buffer) => {
        const err = deframer.push(chunk, (m) => requests.push(m));
        if (err !== undefined) {
          requests.end(err);
          stream.removeAllListeners("data");
        }
      });
      stream.once("end", () => requests.end(deframer.pending > 0 ? new ConnectError("request stream ended inside a message", Code.Internal) : undefined));
      stream.once("close", () => requests.end());
      void drive(call, shared, name, handlers["publishStream"]!, impl, requests, undefined);
      return;
    }
    // Subscribe: one request message, then the client half-closes.
    const messages: Buffer[] = [];
    let failed: ConnectError | undefined;
    stream.on("data", (chunk: Buffer) => {
      if (failed === undefined) failed = deframer.push(chunk, (m) => messages.push(Buffer.from(m)));
    });
    stream.once("end", () => {
      if (failed === undefined && (messages.length !== 1 || deframer.pending > 0)) {
        failed = new ConnectError(`server streaming call needs exactly one request message, got ${messages.length}`, Code.Internal);
      }
      if (failed !== undefined) {
        call.finish(failed);
        return;
      }
      let req: unknown;
      try {
        req = decodeRequest(method, (b) => fromBinary(SubscribeRequestSchema, b), messages[0]!);
      } catch (e) {
        call.finish(e);
        return;
      }
      void drive(call, shared, name, handlers["subscribe"]!, impl, req, req);
    });
  };
}

/** A running thin server. */
export interface ThinServer {
  readonly port: number;
  /** The signal engine behind it (for bench/thin-http2/smoke.ts). */
  readonly signals: SignalEngine;
  close(graceMs: number): Promise<void>;
}

/** Store → signal engine → SignalService, composed as src/app.ts composes them (same limits, hooks and metrics). */
export function composeSignalService(config: Config) {
  const logger = createLogger(config.logLevel);
  const store = createStore({ idleTtlMs: config.limits.idleCoordinationTtlMs, maxCoordinations: config.limits.maxCoordinations });
  const metrics = createServerMetrics({ coordinations: () => store.size, processMetrics: true });
  const signals = createServerSignalEngine(store, config, metrics);
  const impl = createSignalService({ engine: signals, maxMessageBytes: config.limits.maxMessageBytes, statusBytes: (err) => statusDetailsBin(toWireError(err)) });
  return { logger, store, metrics, signals, impl };
}

/** Composes the SignalService (see {@link composeSignalService}) and serves its two methods on `config.grpcPort`. */
export async function startThinServer(config: Config, pull: PullMode = "eager"): Promise<ThinServer> {
  const { logger, metrics, signals, impl } = composeSignalService(config);
  const { maxMessageBytes } = config.limits;
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  const shared: Shared = { pull, shutdown: createShutdownFanout(shutdown.signal), observer: createCallObserver(logger, metrics), maxMessageBytes };
  // grpc-js's own server options: no session-memory cap (Node degrades badly at it), unbounded header blocks.
  const server = http2.createServer({ maxSessionMemory: Number.MAX_SAFE_INTEGER, maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER });
  server.on("stream", serveStream(shared, impl, maxMessageBytes));
  server.on("sessionError", () => {});
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.grpcPort, config.host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    port,
    signals,
    async close(graceMs) {
      signals.stopAccepting();
      shutdown.abort(new ServerShutdown());
      server.close();
      const deadline = Date.now() + graceMs;
      while (sessions.size > 0 && Date.now() < deadline) {
        for (const s of sessions) if (!s.closed) s.close();
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const s of sessions) s.destroy();
    },
  };
}

async function main(): Promise<void> {
  let config: Config;
  // --pull eager|after-write is this prototype's own option (see PullMode); the rest are src/config.ts's.
  const argv = process.argv.slice(2);
  const i = argv.indexOf("--pull");
  const pull = i >= 0 ? argv.splice(i, 2)[1] : "eager";
  if (pull !== "eager" && pull !== "after-write") throw new Error(`--pull: eager or after-write, got ${pull}`);
  try {
    config = loadConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`thin-http2: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const thin = await startThinServer(config, pull);
  const stop = () => void thin.close(2000).then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdout.write(`${JSON.stringify({ msg: "thin-http2 listening", port: thin.port })}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
