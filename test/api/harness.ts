import { fromBinary, type DescService } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { pino, type Logger } from "pino";
import { startApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { grpcServiceDefinition } from "../../src/transport/grpc.js";
import { startTestBackend } from "../test-backend.js";
import { ContextService } from "../../gen/ts/consort/v1/context_pb.js";
import { CoordinationService } from "../../gen/ts/consort/v1/coordination_pb.js";
import { DependencyService } from "../../gen/ts/consort/v1/dependency_pb.js";
import { RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalService } from "../../gen/ts/consort/v1/signal_pb.js";
import { BadRequestSchema, ErrorInfoSchema, type BadRequest, type ErrorInfo } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";

/** A server on free ports with a grpc-js client and Connect/gRPC-Web clients. */
export interface TestServer {
  readonly app: App;
  /** The throwaway nats-server the switch put its signals on (CONSORT_TEST_BACKEND=nats); else `undefined`. */
  readonly natsUrl: string | undefined;
  readonly grpcAddress: string;
  readonly baseUrl: string;
  /** A grpc-js client of a service (callback API; see the promisified helpers). `separate` gives it its own connection. */
  grpcClient(service: DescService, separate?: boolean): grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  /** Connect with protobuf binary bodies. */
  readonly connect: Clients;
  /** Connect with JSON bodies (what a browser sends by default). */
  readonly connectJson: Clients;
  readonly grpcWeb: Clients;
  /** Promise clients over the native gRPC port (connect-node's gRPC transport, HTTP/2). */
  readonly grpc: Clients;
  close(): Promise<void>;
}

const clientsOf = (t: Transport) => ({
  signals: createClient(SignalService, t),
  routing: createClient(RoutingService, t),
  contexts: createClient(ContextService, t),
  dependencies: createClient(DependencyService, t),
  coordinations: createClient(CoordinationService, t),
});
/** A client of every service over one transport. */
export type Clients = ReturnType<typeof clientsOf>;

/**
 * Starts Consort on 127.0.0.1 with ports 0; `args` are extra command-line options. Under CONSORT_TEST_BACKEND=nats
 * (test/test-backend.ts) its signals are on a throwaway nats-server of its own, stopped by `close()`.
 */
export async function startTestServer(args: readonly string[] = [], logger: Logger = pino({ level: "silent" })): Promise<TestServer> {
  // A test that names its backend (test/nats) keeps it; the switch sets the others'.
  const ownBackend = args.some((a) => a === "--backend" || a.startsWith("--backend="));
  const backend = ownBackend ? { args: [], stop: async () => {} } : await startTestBackend();
  let app: App;
  try {
    const config = loadConfig(["--grpc-port", "0", "--http-port", "0", "--shutdown-grace-ms", "2000", ...backend.args, ...args], {});
    app = await startApp(config, { logger, processMetrics: false });
  } catch (e) {
    await backend.stop();
    throw e;
  }
  const grpcAddress = `127.0.0.1:${app.grpcPort}`;
  const baseUrl = `http://127.0.0.1:${app.httpPort}`;
  const clients: grpc.Client[] = [];
  return {
    app,
    natsUrl: backend.args[1],
    grpcAddress,
    baseUrl,
    grpcClient(service, separate = false) {
      const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.typeName);
      const c = new Ctor(grpcAddress, grpc.credentials.createInsecure(), separate ? { "grpc.use_local_subchannel_pool": 1 } : {});
      clients.push(c);
      return c as never;
    },
    connect: clientsOf(createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true })),
    connectJson: clientsOf(createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false })),
    grpcWeb: clientsOf(createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })),
    grpc: clientsOf(createGrpcTransport({ baseUrl: `http://${grpcAddress}` })),
    async close() {
      clients.forEach((c) => c.close());
      await app.close();
      await backend.stop();
    },
  };
}

/** Calls a grpc-js unary method and resolves its response. */
export function unary<Res>(client: Record<string, unknown>, method: string, req: unknown, deadlineMs = 5000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => void;
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** The google.rpc details of a grpc-js error. */
export function grpcErrorDetails(err: grpc.ServiceError): { info?: ErrorInfo; badRequest?: BadRequest } {
  const bin = err.metadata?.get("grpc-status-details-bin")[0];
  if (bin === undefined) return {};
  const st = fromBinary(StatusSchema, bin as Buffer);
  const out: { info?: ErrorInfo; badRequest?: BadRequest } = {};
  for (const any of st.details) {
    const info = anyUnpack(any, ErrorInfoSchema);
    if (info) out.info = info;
    const br = anyUnpack(any, BadRequestSchema);
    if (br) out.badRequest = br;
  }
  return out;
}

/** Resolves when `predicate` holds, polling every 5 ms for at most `ms`. */
export async function eventually(predicate: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
