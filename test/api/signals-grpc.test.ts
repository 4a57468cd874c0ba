import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PublishRequestSchema,
  SignalService,
  SignalType,
  type GetSignalMetricsResponse,
  type ListSignalsResponse,
  type PublishResponse,
  type SubscribeResponse,
} from "../../gen/ts/consort/v1/signal_pb.js";
import { eventually, grpcErrorDetails, startTestServer, unary, type TestServer } from "./harness.js";

let server: TestServer;
let client: ReturnType<TestServer["grpcClient"]>;
let n = 0;
const cid = () => `grpc-${process.pid}-${++n}`;

beforeAll(async () => {
  server = await startTestServer(["--max-history", "5"]);
  client = server.grpcClient(SignalService);
});
afterAll(() => server.close());

const publish = (req: Parameters<typeof create<typeof PublishRequestSchema>>[1]) =>
  unary<PublishResponse>(client, "publish", create(PublishRequestSchema, req));

function subscribe(req: object, deadlineMs = 5000): grpc.ClientReadableStream<SubscribeResponse> {
  const fn = client["subscribe"] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientReadableStream<SubscribeResponse>;
  return fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs });
}

/** Reads until `count` signals (after the `subscribed` message) arrived; returns the first message and the sequences. */
async function read(stream: grpc.ClientReadableStream<SubscribeResponse>, count: number) {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<SubscribeResponse>;
  const first = (await it.next()).value as SubscribeResponse;
  const seqs: number[] = [];
  while (seqs.length < count) {
    const r = await it.next();
    if (r.done === true) break;
    seqs.push(...r.value.signals.map((s) => Number(s.sequence)));
  }
  return { first, seqs, it };
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeDefined();
  return e as grpc.ServiceError;
}

describe("SignalService over native gRPC (grpc-js client)", () => {
  it("publishes with gap-free sequences and returns the stored signal", async () => {
    const c = cid();
    const a = await publish({ coordinationId: c, type: SignalType.AGENT_INITIALIZED, senderAgentId: "model-gen", data: { ready: true } });
    const b = await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED, data: { agent_id: "model-gen", n: 1.5, tags: ["a"], nested: { x: null } } });
    expect([a.signal?.sequence, b.signal?.sequence]).toEqual([1n, 2n]);
    expect(a.signal?.senderAgentId).toBe("model-gen");
    expect(b.signal?.senderAgentId).toBe("system");
    expect(b.signal?.data).toEqual({ agent_id: "model-gen", n: 1.5, tags: ["a"], nested: { x: null } });
    expect(b.signal?.createdAt?.seconds).toBeGreaterThan(0n);
  });

  it("rejects an unspecified type with INVALID_ARGUMENT naming the field, stores nothing (case 1)", async () => {
    const c = cid();
    const err = await failure(publish({ coordinationId: c, type: SignalType.UNSPECIFIED }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^type: must be one of SIGNAL_TYPE_AGENT_INITIALIZED, .*; got SIGNAL_TYPE_UNSPECIFIED$/);
    expect(grpcErrorDetails(err).info?.reason).toBe("FIELD_INVALID");
    expect(grpcErrorDetails(err).badRequest?.fieldViolations[0]?.field).toBe("type");
    const list = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: c });
    expect(list.signals).toHaveLength(0);
  });

  it("rejects empty and over-long ids, oversized data, bad page size and token", async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => publish({ coordinationId: "", type: SignalType.AGENT_COMPLETED }), "coordination_id"],
      [() => publish({ coordinationId: "x".repeat(101), type: SignalType.AGENT_COMPLETED }), "coordination_id"],
      [() => publish({ coordinationId: cid(), type: SignalType.AGENT_COMPLETED, data: { b: "x".repeat(70_000) } }), "data"],
      [() => publish({ coordinationId: cid(), type: 42 as SignalType }), "type"],
      [() => unary(client, "listSignals", { coordinationId: "c", pageSize: 5000 }), "page_size"],
      [() => unary(client, "listSignals", { coordinationId: "c", pageToken: "nope" }), "page_token"],
      [() => unary(client, "listSignals", { coordinationId: "c", types: [SignalType.UNSPECIFIED] }), "types[0]"],
    ];
    for (const [call, field] of cases) {
      const err = await failure(call());
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details.startsWith(`${field}: `)).toBe(true);
      expect(grpcErrorDetails(err).badRequest?.fieldViolations[0]?.field).toBe(field);
    }
  });

  it("lists newest first, filters by type, keeps the newest 5 (cases 2–4), paginates", async () => {
    const c = cid();
    await publish({ coordinationId: c, type: SignalType.AGENT_INITIALIZED });
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    let list = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: c });
    expect(list.signals.map((s) => s.sequence)).toEqual([2n, 1n]);
    list = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: c, types: [SignalType.AGENT_INITIALIZED] });
    expect(list.signals.map((s) => s.sequence)).toEqual([1n]);
    for (let i = 0; i < 8; i++) await publish({ coordinationId: c, type: SignalType.STAGE_COMPLETED });
    list = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: c, pageSize: 3 });
    expect(list.signals.map((s) => s.sequence)).toEqual([10n, 9n, 8n]);
    const next = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: c, pageSize: 3, pageToken: list.nextPageToken });
    expect(next.signals.map((s) => s.sequence)).toEqual([7n, 6n]);
    expect(next.nextPageToken).toBe("");
  });

  it("delivers only the subscribed type and only to addressed recipients (cases 5, 6)", async () => {
    const c = cid();
    const s1 = subscribe({ coordinationId: c, agentId: "agent-1", types: [SignalType.AGENT_COMPLETED] });
    const s2 = subscribe({ coordinationId: c, agentId: "agent-2" });
    const r1 = read(s1, 2);
    const r2 = read(s2, 2);
    await eventually(() => server.app.signals.subscriptionCount === 2);
    await publish({ coordinationId: c, type: SignalType.AGENT_INITIALIZED, recipientAgentIds: ["agent-2"] }); // 1 → s2
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED, recipientAgentIds: ["agent-1"] }); // 2 → s1
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED }); // 3 → both
    const [a, b] = await Promise.all([r1, r2]);
    expect(a.first.subscribed?.subscriptionId).toMatch(/^sub-/);
    expect(a.seqs).toEqual([2, 3]);
    expect(b.seqs).toEqual([1, 3]);
    s1.cancel();
    s2.cancel();
    await eventually(() => server.app.signals.subscriptionCount === 0);
  });

  it("preserves order for a broadcast to two subscribers and counts metrics (cases 7, 8)", async () => {
    const c = cid();
    const subs = [subscribe({ coordinationId: c, agentId: "a" }), subscribe({ coordinationId: c, agentId: "b" })];
    const reads = subs.map((s) => read(s, 3));
    await eventually(() => server.app.signals.subscriptionCount === 2);
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    await publish({ coordinationId: c, type: SignalType.INTER_AGENT_MESSAGE });
    for (const r of await Promise.all(reads)) expect(r.seqs).toEqual([1, 2, 3]);
    const m = await unary<GetSignalMetricsResponse>(client, "getSignalMetrics", { coordinationId: c });
    expect(m.totalSignalsSent).toBe(3n);
    expect(m.totalSignalsReceived).toBe(6n);
    expect(m.signalsByType).toEqual({ agent_completed: 2n, inter_agent_message: 1n });
    expect(m.activeSubscriptions).toBe(2);
    subs.forEach((s) => s.cancel());
    await eventually(() => server.app.signals.subscriptionCount === 0);
  });

  it("resumes after a sequence: replay then live, no gap, no duplicate", async () => {
    const c = cid();
    for (let i = 0; i < 4; i++) await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    const s = subscribe({ coordinationId: c, agentId: "a", afterSequence: 2n });
    const r = read(s, 4);
    await eventually(() => server.app.signals.subscriptionCount === 1);
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    const got = await r;
    expect(got.first.subscribed?.headSequence).toBe(4n);
    expect(got.first.subscribed?.oldestSequence).toBe(1n);
    expect(got.seqs).toEqual([3, 4, 5, 6]);
    s.cancel();
  });

  it("ends OUT_OF_RANGE with the oldest retained sequence after the history moved on, and after clear", async () => {
    const c = cid();
    for (let i = 0; i < 7; i++) await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    const err = await failure(read(subscribe({ coordinationId: c, agentId: "a", afterSequence: 1n }), 1));
    expect(err.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(grpcErrorDetails(err).info).toMatchObject({ reason: "HISTORY_TRIMMED", domain: "consort.v1", metadata: { oldest_sequence: "3" } });
    const cleared = await unary<{ clearedSignals: bigint; headSequence: bigint }>(client, "clearSignals", { coordinationId: c });
    expect(cleared).toMatchObject({ clearedSignals: 5n, headSequence: 7n });
    const err2 = await failure(read(subscribe({ coordinationId: c, agentId: "a", afterSequence: 6n }), 1));
    expect(err2.code).toBe(grpc.status.OUT_OF_RANGE);
    const again = await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    expect(again.signal?.sequence).toBe(8n);
    const err3 = await failure(read(subscribe({ coordinationId: c, agentId: "a", afterSequence: 99n }), 1));
    expect(grpcErrorDetails(err3).info?.reason).toBe("SEQUENCE_AHEAD");
  });

  it("unregisters a subscription when the client cancels or its deadline passes", async () => {
    const c = cid();
    const s = subscribe({ coordinationId: c, agentId: "a" });
    const r = read(s, 1).catch((e: unknown) => e);
    await eventually(() => server.app.signals.subscriptionCount === 1);
    s.cancel();
    expect(((await r) as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
    await eventually(() => server.app.signals.subscriptionCount === 0);

    const d = subscribe({ coordinationId: c, agentId: "a" }, 300);
    const err = await failure(read(d, 1));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await eventually(() => server.app.signals.subscriptionCount === 0);
  });

  it("answers idempotent retries with the original signal", async () => {
    const c = cid();
    const a = await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED, idempotencyKey: "once" });
    const b = await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED, idempotencyKey: "once" });
    expect(b.duplicate).toBe(true);
    expect(b.signal?.signalId).toBe(a.signal?.signalId);
    const list = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: c });
    expect(list.signals).toHaveLength(1);
  });

  it("sends heartbeats carrying the head sequence", async () => {
    const c = cid();
    await publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED });
    const s = subscribe({ coordinationId: c, agentId: "a", heartbeatInterval: { seconds: 0n, nanos: 100_000_000 } });
    const it = s[Symbol.asyncIterator]() as AsyncIterator<SubscribeResponse>;
    expect((await it.next()).value.subscribed).toBeDefined();
    const hb = (await it.next()).value as SubscribeResponse;
    expect(hb.heartbeat?.headSequence).toBe(1n);
    s.cancel();
    const err = await failure(publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED }).then(() => read(subscribe({ coordinationId: c, agentId: "a", heartbeatInterval: { seconds: 0n, nanos: 1_000_000 } }), 1)));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^heartbeat_interval/);
  });
});

describe("a subscriber that stops reading", () => {
  it("is cut RESOURCE_EXHAUSTED with its resume point while publishers carry on; resuming loses nothing", async () => {
    const own = await startTestServer(["--subscriber-buffer", "50"]);
    try {
      const cl = own.grpcClient(SignalService);
      const c = "slow-reader";
      const fn = cl["subscribe"] as (r: unknown) => grpc.ClientReadableStream<SubscribeResponse>;
      const s = fn.call(cl, { coordinationId: c, agentId: "slow" });
      await new Promise((r) => s.once("data", r)); // subscribed
      s.pause(); // stop reading: HTTP/2 flow control fills, then the subscription's buffer
      const blob = "x".repeat(16_000);
      const total = 1500; // ~24 MB: more than the client and HTTP/2 buffers hold
      // Every publish completes while the subscriber reads nothing: publishers never wait for subscribers.
      for (let i = 0; i < total; i++) await unary(cl, "publish", { coordinationId: c, type: SignalType.INTER_AGENT_MESSAGE, data: { i, blob } });
      await eventually(() => own.app.signals.subscriptionCount === 0);
      const seqs: number[] = [];
      s.on("data", (m: SubscribeResponse) => seqs.push(...m.signals.map((x) => Number(x.sequence))));
      const ended = new Promise<grpc.ServiceError>((resolve) => s.on("error", resolve));
      s.resume();
      const err = await ended;
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      const last = Number(grpcErrorDetails(err).info?.metadata["last_delivered_sequence"]);
      expect(last).toBeGreaterThan(0);
      expect(last).toBeLessThan(total);
      // Everything delivered before the cut arrived in order, up to the resume point.
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(seqs.length).toBeLessThanOrEqual(last);
      // Resuming from the last processed sequence replays the rest from history.
      const r = fn.call(cl, { coordinationId: c, agentId: "slow", afterSequence: BigInt(seqs.length) });
      const rest: number[] = [];
      for await (const m of r as AsyncIterable<SubscribeResponse>) {
        rest.push(...m.signals.map((x) => Number(x.sequence)));
        if (rest.length >= total - seqs.length) break;
      }
      expect([...seqs, ...rest]).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    } finally {
      await own.close();
    }
  });
});

describe("shutdown", () => {
  it("ends open streams UNAVAILABLE with the resume point and refuses new calls", async () => {
    const own = await startTestServer();
    const cl = own.grpcClient(SignalService);
    const c = "shutdown";
    const fn = cl["subscribe"] as (r: unknown) => grpc.ClientReadableStream<SubscribeResponse>;
    const s = fn.call(cl, { coordinationId: c, agentId: "a" });
    const it = s[Symbol.asyncIterator]() as AsyncIterator<SubscribeResponse>;
    await it.next();
    await unary(cl, "publish", { coordinationId: c, type: SignalType.AGENT_COMPLETED });
    expect((await it.next()).value.signals[0].sequence).toBe(1n);
    const closing = own.close();
    const err = await it.next().then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(grpcErrorDetails(err as grpc.ServiceError).info?.metadata).toEqual({ last_delivered_sequence: "1" });
    await closing;
    const fresh = own.grpcClient(SignalService);
    const after = await failure(unary(fresh, "publish", { coordinationId: c, type: SignalType.AGENT_COMPLETED }, 1000));
    fresh.close();
    expect(after.code).toBe(grpc.status.UNAVAILABLE);
  });
});
