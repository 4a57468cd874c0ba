import { create, fromBinary, isMessage, toBinary, type DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { isServing, type ServiceBinding } from "../binding/service-binding.js";
import { bridgeService } from "./grpc-bridge.js";
import { addStatusDetails, trackOpenStreams } from "./grpc-status-details.js";
import type { CallObservation, CallObserver, CallOutcome } from "./observe.js";
import { createReflection, healthServiceName, reflectionServiceNames } from "./reflection.js";
import { createShutdownFanout } from "./shutdown-fanout.js";

/** Options of {@link startGrpcServer}. */
export interface GrpcServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly services: readonly ServiceBinding[];
  readonly observer: CallObserver;
  /** Largest request and response message in bytes. */
  readonly maxMessageBytes: number;
  /** Aborted when the server shuts down: every call's context signal aborts with its reason. */
  readonly shutdownSignal: AbortSignal;
  /** Milliseconds between HTTP/2 keepalive pings on each connection. @default 30000 */
  readonly keepaliveMs?: number;
  /** Milliseconds a ping may go unanswered before the connection (and its streams) is closed. @default 10000 */
  readonly keepaliveTimeoutMs?: number;
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

/**
 * The grpc-js client definition of a protobuf-es service (paths, stream flags, protobuf-es binary serialization;
 * message inits are accepted as requests): for tests, benchmarks and Node clients.
 */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const serialize = (desc: typeof method.input) => (msg: unknown) =>
      Buffer.from(toBinary(desc, isMessage(msg, desc) ? msg : create(desc, msg as never)));
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serialize(method.input),
      requestDeserialize: (buf: Buffer) => fromBinary(method.input, buf),
      responseSerialize: serialize(method.output),
      responseDeserialize: (buf: Buffer) => fromBinary(method.output, buf),
    };
  }
  return definition as grpc.ServiceDefinition;
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

/**
 * Starts grpc-js with the services (bridged by grpc-bridge.ts), server reflection (v1, v1alpha) and
 * grpc.health.v1. Health reports SERVING for a service only when it implements at least one method. Every error
 * status carries an ErrorInfo, also those grpc-js sends on its own (grpc-status-details.ts).
 */
export async function startGrpcServer(o: GrpcServerOptions): Promise<GrpcServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": o.maxMessageBytes,
    // Responses are size-checked by the bridge, which answers RESOURCE_EXHAUSTED with an ErrorInfo.
    "grpc.max_send_message_length": -1,
    // A subscriber whose peer vanished without FIN or RST would otherwise keep its stream (and its slot) for as
    // long as TCP takes to notice: ~2 h of grpc-js's default keepalive, days of TCP retransmission.
    "grpc.keepalive_time_ms": o.keepaliveMs ?? 30_000,
    "grpc.keepalive_timeout_ms": o.keepaliveTimeoutMs ?? 10_000,
  });
  const calls = createCallCounter(o.observer);
  const shared = { shutdown: createShutdownFanout(o.shutdownSignal) };
  for (const b of o.services) {
    const { definition, handlers } = bridgeService(b, { shared, calls, maxMessageBytes: o.maxMessageBytes });
    server.addService(definition, handlers);
  }

  createReflection([...o.services.map((b) => b.service.typeName), healthServiceName]).addToServer(server);
  const statusOf = (b: ServiceBinding) => (isServing(b) ? "SERVING" : "NOT_SERVING");
  const health = new HealthImplementation({ "": "SERVING" });
  for (const b of o.services) health.setStatus(b.service.typeName, statusOf(b));
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${o.host}:${o.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  // Statuses grpc-js sent on its own are logged and counted too; under their method's name when it is a served
  // one, else as "unknown" (a client cannot grow the metric's label set).
  const served = new Set([...o.services.map((b) => b.service.typeName), healthServiceName, ...reflectionServiceNames]);
  addStatusDetails(server, (path, error) => {
    const method = served.has(path.slice(1, path.lastIndexOf("/"))) ? path.slice(1) : "unknown";
    o.observer.start(method, "grpc", undefined).end({ code: error.code, error });
  });
  // Consort's own calls only: health watches and reflection streams never end on their own.
  const consort = new Set(o.services.map((b) => b.service.typeName));
  const streams = trackOpenStreams(server, (path) => consort.has(path.slice(1, path.lastIndexOf("/"))));
  return {
    port,
    drain() {
      health.setStatus("", "NOT_SERVING");
      for (const b of o.services) health.setStatus(b.service.typeName, "NOT_SERVING");
    },
    close(graceMs) {
      // grpc-js's tryShutdown can wait on a connection the client already closed; once every Consort call has
      // ended and every stream has closed — its trailers sent, which a slow reader's flow control can hold back
      // after its call ended — (or the grace period is over) the remaining connections and health watches are cut.
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
          // Every call has its answer: a stream still open only because its client never ended its side is reset.
          if (calls.active === 0) streams.endAnswered();
          if (calls.active > 0 || streams.open > 0) idleSince = undefined;
          else if (idleSince === undefined) idleSince = Date.now();
          else if (Date.now() - idleSince >= 100) finish(true);
        }, 10);
        server.tryShutdown(() => finish(false));
      });
    },
  };
}
