import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { DescFile } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { preEncoded, type PreEncoded } from "../service/pre-encoded.js";
import { toGrpcStatus, toWireError } from "./errors.js";
import { OK, type CallObservation, type CallObserver, type CallOutcome } from "./observe.js";

/** One service and its implementation, as both transports take them. */
export interface ServiceBinding {
  readonly service: DescService;
  /** Handlers by method local name; a missing one answers UNIMPLEMENTED. */
  readonly impl: object;
  /** Hand-written request decoders by method local name, for hot calls; others use `fromBinary`. */
  readonly decoders?: Readonly<Record<string, (bytes: Uint8Array) => unknown>>;
}

/** Options of {@link startGrpcServer}. */
export interface GrpcServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly services: readonly ServiceBinding[];
  readonly observer: CallObserver;
  /** Largest request and response message in bytes. */
  readonly maxMessageBytes: number;
}

/** A running native gRPC server. */
export interface GrpcServer {
  /** The bound port. */
  readonly port: number;
  /** Marks every service NOT_SERVING (health) and stops accepting new calls. */
  drain(): void;
  /** Waits for in-flight calls up to `graceMs`, then cancels the rest and closes. */
  close(graceMs: number): Promise<void>;
}

/** The context handlers get from this transport: only what services use. */
interface BridgeContext {
  /** Aborts on client cancel, deadline, and when the call ends. */
  readonly signal: AbortSignal;
  /** Server streams: end the stream now with `err`, without waiting for the client to drain. */
  readonly interrupt?: (err: unknown) => void;
}

function serializer(desc: DescMessage) {
  // Plain objects are accepted too (clients built from this definition pass message inits), and a response
  // that carries its own encoding is sent as is.
  return (msg: unknown) => {
    const bytes = (msg as PreEncoded<object>)[preEncoded] ?? toBinary(desc, isMessage(msg, desc) ? msg : create(desc, msg as never));
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}
function deserializer(desc: DescMessage) {
  return (buf: Buffer) => fromBinary(desc, buf);
}

/**
 * The context of one unary call. Most unary handlers never look at the signal, so its AbortController is made on
 * first use (Route is the hottest call). A class, not an object literal with a getter: a literal's getter is a new
 * closure per call held by a new hidden class, which kept every finished call reachable until the next full GC.
 */
class UnaryContext implements BridgeContext {
  #ac: AbortController | undefined;
  readonly #call: grpc.ServerUnaryCall<unknown, unknown>;
  constructor(call: grpc.ServerUnaryCall<unknown, unknown>) {
    this.#call = call;
  }
  get signal(): AbortSignal {
    if (this.#ac === undefined) {
      const controller = (this.#ac = new AbortController());
      if (this.#call.cancelled) controller.abort();
      else this.#call.on("cancelled", () => controller.abort());
    }
    return this.#ac.signal;
  }
}

// A unary call's ending: the response is handed to grpc-js first; the observation (metrics, a log line) after it.
const succeeded: CallOutcome = { code: OK };

function answerUnary(callback: grpc.sendUnaryData<unknown>, obs: CallObservation, res: unknown): void {
  callback(null, res);
  obs.end(succeeded);
}

function failUnary(callback: grpc.sendUnaryData<unknown>, obs: CallObservation, err: unknown): void {
  callback(toGrpcStatus(err));
  const w = toWireError(err);
  obs.end({ code: w.code, error: w });
}

/** Waits until the stream can take more data, or the call ends. */
function drained(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.on("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The grpc-js definition of a protobuf-es service: paths, stream flags and binary (de)serialization. */
export function grpcServiceDefinition(service: DescService, decoders: ServiceBinding["decoders"] = {}): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const decode = decoders[method.localName];
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: decode ?? deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  return definition as grpc.ServiceDefinition;
}

/**
 * Bridges protobuf-es service descriptors to grpc-js: per method a path `/<service>/<method>`, binary
 * (de)serialization, and a handler that calls the shared implementation with an AbortSignal that fires on
 * client cancel and deadline. Server streams are written with flow control (write → wait for drain).
 */
function addBinding(server: grpc.Server, { service, impl, decoders }: ServiceBinding, calls: CallCounter): void {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const fn = (impl as Record<string, unknown>)[method.localName] as
      | ((req: unknown, ctx: BridgeContext) => unknown)
      | undefined;
    const name = `${service.typeName}/${method.name}`;
    if (method.methodKind === "unary") {
      handlers[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const obs = calls.start(name, call.request);
        if (fn === undefined) {
          obs.end({ code: Code.Unimplemented });
          callback({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented yet` });
          return;
        }
        // Called directly: a handler that throws synchronously fails the call the same way as a rejection, and a
        // synchronous result (Route) is answered without a promise or a closure.
        let out: unknown;
        try {
          out = fn(call.request, new UnaryContext(call));
        } catch (err) {
          failUnary(callback, obs, err);
          return;
        }
        if (out instanceof Promise) {
          out.then(
            (res: unknown) => answerUnary(callback, obs, res),
            (err: unknown) => failUnary(callback, obs, err),
          );
        } else answerUnary(callback, obs, out);
      };
    } else if (method.methodKind === "server_streaming") {
      handlers[method.localName] = async (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const obs = calls.start(name, call.request);
        const ac = new AbortController();
        call.on("cancelled", () => ac.abort());
        if (fn === undefined) {
          obs.end({ code: Code.Unimplemented });
          call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented yet` });
          return;
        }
        // A handler calls ctx.interrupt(err) to end the stream now, even while the client's flow-control window
        // is full (a subscription cut for lagging, or shutdown): waiting for the client to read first could take
        // forever.
        let interrupt!: (err: unknown) => void;
        const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
        interrupted.catch(() => {});
        const ctx: BridgeContext = { signal: ac.signal, interrupt };
        const it = (fn(call.request, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        try {
          for (;;) {
            const r = await it.next();
            if (r.done === true || ac.signal.aborted) break;
            if (!call.write(r.value)) await Promise.race([drained(call, ac.signal), interrupted]);
          }
          if (ac.signal.aborted) {
            obs.end({ code: Code.Canceled });
          } else {
            obs.end({ code: OK });
            call.end();
          }
        } catch (err) {
          const w = toWireError(err);
          obs.end({ code: ac.signal.aborted ? Code.Canceled : w.code, error: w });
          if (!ac.signal.aborted) call.emit("error", toGrpcStatus(err));
        } finally {
          ac.abort();
          await it.return?.();
        }
      };
    }
  }
  server.addService(grpcServiceDefinition(service, decoders), handlers);
}

/** Counts Consort calls in flight, so shutdown can close as soon as the last one ends. */
interface CallCounter {
  readonly active: number;
  /** Starts observing a gRPC call and counts it until the observation's first `end`. */
  start(method: string, request: unknown): CallObservation;
}

/** An observation that also counts its call in flight (a class: no closure per call). */
class CountedCall implements CallObservation {
  #ended = false;
  constructor(
    private readonly inner: CallObservation,
    private readonly counter: { active: number },
  ) {}
  end(outcome: CallOutcome): void {
    if (!this.#ended) {
      this.#ended = true;
      this.counter.active--;
    }
    this.inner.end(outcome);
  }
}

/** A {@link CallCounter} whose calls are observed by `observer`. */
function createCallCounter(observer: CallObserver): CallCounter {
  const counter = { active: 0 };
  return {
    get active() {
      return counter.active;
    },
    start(method, request) {
      counter.active++;
      return new CountedCall(observer.start(method, "grpc", request), counter);
    },
  };
}

/** Every file a service needs, dependencies first, each once. */
function filesOf(services: readonly DescService[]): DescFile[] {
  const out: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    f.dependencies.forEach(visit);
    out.push(f);
  };
  services.forEach((s) => visit(s.file));
  return out;
}

/** Starts grpc-js with the services, server reflection (v1, v1alpha) and grpc.health.v1. */
export async function startGrpcServer(o: GrpcServerOptions): Promise<GrpcServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": o.maxMessageBytes,
    "grpc.max_send_message_length": o.maxMessageBytes,
  });
  const calls = createCallCounter(o.observer);
  for (const b of o.services) addBinding(server, b, calls);

  const protos: FileDescriptorProto[] = filesOf(o.services.map((b) => b.service)).map((f) => f.proto);
  const fileDescriptorProtos = protos.map((p) => Buffer.from(toBinary(FileDescriptorProtoSchema, p)));
  // Reflection describes Consort's services (grpc.health.v1 is served but not described: health clients such as
  // grpc_health_probe carry its schema).
  new ReflectionService({ consort: { fileDescriptorProtos } } as never).addToServer(server);

  const health = new HealthImplementation({ "": "SERVING" });
  for (const b of o.services) health.setStatus(b.service.typeName, "SERVING");
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${o.host}:${o.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port,
    drain() {
      health.setStatus("", "NOT_SERVING");
      for (const b of o.services) health.setStatus(b.service.typeName, "NOT_SERVING");
    },
    close(graceMs) {
      // grpc-js's tryShutdown can wait on a connection the client already closed; once every Consort call has
      // ended (or the grace period is over) the remaining connections and health watches are cut.
      return new Promise<void>((resolve) => {
        let done = false;
        const finish = (force: boolean) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          clearInterval(poll);
          if (force) server.forceShutdown();
          resolve();
        };
        const timer = setTimeout(() => finish(true), graceMs);
        // Idle for 100 ms: the last responses and trailers have had time to reach the socket.
        let idleSince: number | undefined;
        const poll = setInterval(() => {
          if (calls.active > 0) idleSince = undefined;
          else if (idleSince === undefined) idleSince = Date.now();
          else if (Date.now() - idleSince >= 100) finish(true);
        }, 10);
        server.tryShutdown(() => finish(false));
      });
    },
  };
}
