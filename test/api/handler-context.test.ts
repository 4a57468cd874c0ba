import { EventEmitter, setMaxListeners } from "node:events";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContextService, type WatchAgentContextResponse } from "../../gen/ts/consort/v1/context_pb.js";
import {
  GetSignalMetricsResponseSchema,
  ListSignalsResponseSchema,
  SignalService,
  SignalType,
  SubscribeResponseSchema,
  type SubscribeResponse,
} from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import type { ServiceBinding } from "../../src/binding/service-binding.js";
import { createServerMetrics } from "../../src/metrics.js";
import { startGrpcServer, type GrpcServer } from "../../src/transport/grpc.js";
import { createCallObserver } from "../../src/transport/observe.js";
import { startWebServer, type WebServer } from "../../src/transport/web.js";
import { eventually, grpcErrorDetails, startTestServer, unary } from "./harness.js";
import { grpcServiceDefinition } from "../../src/transport/grpc.js";

/**
 * Handlers get one real context on both transports (connect's HandlerContext: headers, deadline, cancellation,
 * the server's shutdown), and every way a handler can fail ends its call with a status. Probed with a test
 * service served by the real transports.
 */

const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split("\n")) if (l.trim() !== "") logLines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
});

/** Why each Subscribe call's signal aborted, by agent id. */
const abortCodes = new Map<string, Code>();

const testSignals: ServiceBinding = {
  service: SignalService,
  impl: {
    // Echoes what the context says about the call.
    listSignals(_req: unknown, ctx: HandlerContext) {
      return create(ListSignalsResponseSchema, {
        nextPageToken: JSON.stringify({ header: ctx.requestHeader.get("x-consort-test"), timeoutMs: ctx.timeoutMs(), protocol: ctx.protocolName }),
      });
    },
    // Waits for its signal to abort and records why.
    async *subscribe(req: { agentId: string }, ctx: HandlerContext) {
      yield create(SubscribeResponseSchema, { subscribed: { subscriptionId: req.agentId } });
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      abortCodes.set(req.agentId, ConnectError.from(ctx.signal.reason).code);
    },
    // Answers a response larger than the message limit (no real handler can any longer: each bounds its own).
    getSignalMetrics() {
      return create(GetSignalMetricsResponseSchema, { signalsByType: { ["x".repeat(2_000_000)]: 1n } });
    },
    // Fails unexpectedly, with a cause.
    publish() {
      throw new Error("publish exploded", { cause: new Error("the root cause") });
    },
  },
};
const testContext: ServiceBinding = {
  service: ContextService,
  // A streaming handler that throws before it returns an iterable.
  impl: {
    watchAgentContext() {
      throw new Error("thrown synchronously");
    },
  },
};

let grpcServer: GrpcServer;
let webServer: WebServer;
const shutdown = new AbortController();
setMaxListeners(0, shutdown.signal);
let grpcAddress: string;
let baseUrl: string;

beforeAll(async () => {
  const metrics = createServerMetrics({ coordinations: () => 0, processMetrics: false });
  const observer = createCallObserver(pino({ level: "info" }, sink), metrics);
  const common = { host: "127.0.0.1", port: 0, services: [testSignals, testContext], observer, maxMessageBytes: 1 << 20, shutdownSignal: shutdown.signal };
  grpcServer = await startGrpcServer(common);
  webServer = await startWebServer({ ...common, registry: metrics.registry });
  grpcAddress = `127.0.0.1:${grpcServer.port}`;
  baseUrl = `http://127.0.0.1:${webServer.port}`;
});
afterAll(async () => {
  await Promise.all([grpcServer.close(0), webServer.close(0)]);
});

const grpcClient = <T extends typeof SignalService | typeof ContextService>(service: T) => {
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.typeName);
  return new Ctor(grpcAddress, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
};
const connect = <T extends typeof SignalService | typeof ContextService>(service: T) => createClient(service, createConnectTransport({ baseUrl, httpVersion: "1.1" }));

function grpcStream<T>(client: Record<string, unknown>, method: string, req: object, deadlineMs: number): grpc.ClientReadableStream<T> {
  const fn = client[method] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientReadableStream<T>;
  return fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs });
}

describe("a real handler context on both transports", () => {
  it("gives handlers the request headers, the remaining deadline and the protocol", async () => {
    const client = grpcClient(SignalService);
    const md = new grpc.Metadata();
    md.set("x-consort-test", "over-grpc");
    const res = await new Promise<{ nextPageToken: string }>((resolve, reject) =>
      (client["listSignals"] as Function).call(client, {}, md, { deadline: Date.now() + 5000 }, (e: Error | null, r: { nextPageToken: string }) => (e ? reject(e) : resolve(r))),
    );
    client.close();
    const got = JSON.parse(res.nextPageToken) as { header: string; timeoutMs: number; protocol: string };
    expect(got.header).toBe("over-grpc");
    expect(got.protocol).toBe("grpc");
    expect(got.timeoutMs).toBeGreaterThan(4000);
    expect(got.timeoutMs).toBeLessThanOrEqual(5000);

    const web = await connect(SignalService).listSignals({}, { headers: { "x-consort-test": "over-connect" }, timeoutMs: 5000 });
    expect(JSON.parse(web.nextPageToken)).toMatchObject({ header: "over-connect", protocol: "connect" });
  });

  it("lets a handler tell a client cancel from a deadline by its signal's reason", async () => {
    const client = grpcClient(SignalService);
    const cancelled = grpcStream<SubscribeResponse>(client, "subscribe", { agentId: "grpc-cancel" }, 10_000);
    cancelled.on("error", () => {});
    await new Promise((r) => cancelled.once("data", r));
    cancelled.cancel();
    const timed = grpcStream<SubscribeResponse>(client, "subscribe", { agentId: "grpc-deadline" }, 300);
    timed.on("error", () => {});
    await eventually(() => abortCodes.has("grpc-cancel") && abortCodes.has("grpc-deadline"));
    client.close();
    expect(abortCodes.get("grpc-cancel")).toBe(Code.Canceled);
    expect(abortCodes.get("grpc-deadline")).toBe(Code.DeadlineExceeded);

    const ac = new AbortController();
    const web = connect(SignalService).subscribe({ agentId: "web-cancel" }, { signal: ac.signal })[Symbol.asyncIterator]();
    await web.next();
    ac.abort();
    await connect(SignalService).subscribe({ agentId: "web-deadline" }, { timeoutMs: 300 })[Symbol.asyncIterator]().next();
    await eventually(() => abortCodes.has("web-cancel") && abortCodes.has("web-deadline"));
    expect(abortCodes.get("web-cancel")).toBe(Code.Canceled);
    expect(abortCodes.get("web-deadline")).toBe(Code.DeadlineExceeded);
  });

  it("ends a streaming call whose handler throws synchronously with INTERNAL and an ErrorInfo, on both transports", async () => {
    const client = grpcClient(ContextService);
    const stream = grpcStream<WatchAgentContextResponse>(client, "watchAgentContext", {}, 10_000);
    const err = await new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    client.close();
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe("internal error");
    expect(grpcErrorDetails(err).info?.reason).toBe("UNEXPECTED_ERROR");

    const werr = await (async () => {
      for await (const _ of connect(ContextService).watchAgentContext({}, { timeoutMs: 10_000 })) void _;
    })().then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(werr?.code).toBe(Code.Internal);
    expect(werr?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("UNEXPECTED_ERROR");
  });

  it("answers a response over the message limit RESOURCE_EXHAUSTED, reason RESPONSE_TOO_LARGE with the size and limit, on both ports", async () => {
    const client = grpcClient(SignalService);
    const err = await unary(client, "getSignalMetrics", {}).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    client.close();
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const info = grpcErrorDetails(err as grpc.ServiceError).info;
    expect(info?.reason).toBe("RESPONSE_TOO_LARGE");
    expect(info?.metadata["limit_bytes"]).toBe(String(1 << 20));
    expect(Number(info?.metadata["size_bytes"])).toBeGreaterThan(2_000_000);
    const web = await connect(SignalService).getSignalMetrics({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(web?.code).toBe(Code.ResourceExhausted);
    expect(web?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RESPONSE_TOO_LARGE");
  });

  it("answers a method its service binding leaves out UNIMPLEMENTED, reason METHOD_NOT_IMPLEMENTED, on both transports", async () => {
    // The test ContextService binds only WatchAgentContext.
    const client = grpcClient(ContextService);
    const err = await unary(client, "getAgentContext", { coordinationId: "c", agentId: "a" }).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    client.close();
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(grpcErrorDetails(err as grpc.ServiceError).info).toMatchObject({ reason: "METHOD_NOT_IMPLEMENTED", domain: "consort.v1" });
    const werr = await connect(ContextService).getAgentContext({ coordinationId: "c", agentId: "a" }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(werr?.code).toBe(Code.Unimplemented);
    expect(werr?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("METHOD_NOT_IMPLEMENTED");
  });

  it("logs an unexpected error with its message, stack and cause; the client gets a bare INTERNAL", async () => {
    const client = grpcClient(SignalService);
    const err = await unary(client, "publish", {}).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    client.close();
    expect(err?.code).toBe(grpc.status.INTERNAL);
    expect(err?.details).toBe("internal error");
    const line = logLines.find((l) => l["msg"] === "call failed" && l["method"] === "consort.v1.SignalService/Publish");
    const logged = line?.["err"] as { message?: string; stack?: string; cause?: { message?: string } } | undefined;
    expect(logged?.message).toMatch(/^publish exploded/);
    expect(logged?.stack).toMatch(/publish exploded\n\s+at /);
    expect(JSON.stringify(line)).toMatch(/the root cause/);
  });
});

describe("open calls and the shared shutdown signal", () => {
  it("adds no listener to it per call, on either port, so opening a call costs the same however many are open", async () => {
    const before = EventEmitter.getEventListeners(shutdown.signal, "abort").length;
    const client = grpcClient(SignalService);
    const streams = Array.from({ length: 20 }, (_, i) => grpcStream<SubscribeResponse>(client, "subscribe", { agentId: `fan-${i}` }, 10_000));
    streams.forEach((s) => s.on("error", () => {}));
    await Promise.all(streams.map((s) => new Promise((r) => s.once("data", r))));
    const ac = new AbortController();
    const webs = Array.from({ length: 20 }, (_, i) => connect(SignalService).subscribe({ agentId: `web-fan-${i}` }, { signal: ac.signal })[Symbol.asyncIterator]());
    await Promise.all(webs.map((w) => w.next()));
    expect(EventEmitter.getEventListeners(shutdown.signal, "abort").length).toBe(before);
    streams.forEach((s) => s.cancel());
    ac.abort();
    client.close();
  });
});

describe("one shutdown path", () => {
  it("ends open streams on both ports UNAVAILABLE with their resume point when the server shuts down", async () => {
    const server = await startTestServer();
    const c = "shutdown-both";
    const grpcSub = grpcStream<SubscribeResponse>(server.grpcClient(SignalService), "subscribe", { coordinationId: c, agentId: "g" }, 10_000);
    const grpcIt = grpcSub[Symbol.asyncIterator]() as AsyncIterator<SubscribeResponse>;
    await grpcIt.next();
    const webIt = server.connect.signals.subscribe({ coordinationId: c, agentId: "w" })[Symbol.asyncIterator]();
    await webIt.next();
    await server.connect.signals.publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    expect((await grpcIt.next()).value.signals[0].sequence).toBe(1n);
    expect((await webIt.next()).value?.signals[0]?.sequence).toBe(1n);
    const closing = server.close();
    const gerr = await grpcIt.next().then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    const werr = await webIt.next().then(() => undefined, (e: unknown) => ConnectError.from(e));
    await closing;
    expect(gerr?.code).toBe(grpc.status.UNAVAILABLE);
    expect(grpcErrorDetails(gerr as grpc.ServiceError).info).toMatchObject({ reason: "SHUTTING_DOWN", metadata: { last_delivered_sequence: "1" } });
    expect(werr?.code).toBe(Code.Unavailable);
    expect(werr?.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "SHUTTING_DOWN", metadata: { last_delivered_sequence: "1" } });
  });
});

describe("metrics of web streams", () => {
  it("record a stream the client cancelled as canceled, not OK", async () => {
    const server = await startTestServer();
    try {
      const ac = new AbortController();
      const it = server.connect.signals.subscribe({ coordinationId: "cancel-metric", agentId: "a" }, { signal: ac.signal })[Symbol.asyncIterator]();
      await it.next();
      ac.abort();
      await eventually(() => server.app.signals.subscriptionCount === 0);
      const line = async () => (await server.app.metrics.registry.metrics()).split("\n").filter((l) => l.startsWith("consort_rpc_duration_seconds_count") && l.includes("Subscribe"));
      const lines = await line();
      expect(lines.some((l) => l.includes('code="Canceled"') && l.includes('transport="web"'))).toBe(true);
      expect(lines.some((l) => l.includes('code="OK"'))).toBe(false);
    } finally {
      await server.close();
    }
  });
});
