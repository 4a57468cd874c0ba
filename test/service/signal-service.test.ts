import { create, toBinary } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { type ListSignalsResponse, ListSignalsRequestSchema, ListSignalsResponseSchema, type PublishResponse, PublishRequestSchema, PublishResponseSchema, PublishStreamRequestSchema, PublishStreamResponseSchema, type PublishStreamResponse, SignalService, SignalType, SubscribeRequestSchema, SubscribeResponseSchema, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { encodedOf } from "../../src/binding/pre-encoded.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createSignalEngine } from "../../src/core/signals/signal-engine.js";
import { createStore } from "../../src/core/store.js";
import { createSignalService } from "../../src/service/signal-service.js";
import type { ConsortError } from "../../src/core/errors.js";
import { statusDetailsBin, toWireError } from "../../src/transport/errors.js";
import { StatusSchema, type Status } from "../../gen/ts/google/rpc/status_pb.js";
import { structSize } from "../../src/service/struct-codec.js";

/** Responses the service encodes itself for the gRPC bridge are byte for byte what toBinary writes. */

const ctx = (protocolName: string, method: (typeof SignalService.methods)[number]) =>
  createHandlerContext({ service: SignalService, method, protocolName, requestMethod: "POST", url: "http://x/", requestHeader: { "content-type": "application/grpc" } });

describe("pre-encoded SignalService responses", () => {
  const engine = createSignalEngine({ store: createStore(), limits: defaultLimits, payloadBytes: structSize });
  const statusBytes = (err: ConsortError) => statusDetailsBin(toWireError(err));
  const service = createSignalService({ engine, maxMessageBytes: defaultLimits.maxMessageBytes, statusBytes });
  for (let i = 0; i < 7; i++) engine.publish({ coordinationId: "c", type: "agent_completed", data: { i, text: "é".repeat(i * 40) }, recipientAgentIds: ["a"] });

  it("ListSignals: with and without a next page token; none attached for connect", async () => {
    for (const pageSize of [3, 100]) {
      const res = await service.listSignals(create(ListSignalsRequestSchema, { coordinationId: "c", pageSize }), ctx("grpc", SignalService.method.listSignals));
      expect(res.nextPageToken === "").toBe(pageSize === 100);
      // The bytes sent are those of the message a transport would build from what the response exposes.
      const { signals, nextPageToken } = res as ListSignalsResponse;
      const message = create(ListSignalsResponseSchema, { signals, nextPageToken });
      expect(Buffer.from(encodedOf(res)!)).toEqual(Buffer.from(toBinary(ListSignalsResponseSchema, message)));
    }
    const web = await service.listSignals(create(ListSignalsRequestSchema, { coordinationId: "c" }), ctx("connect", SignalService.method.listSignals));
    expect(encodedOf(web)).toBeUndefined();
  });

  it("Publish: a new signal and a duplicate; none attached for connect", async () => {
    const req = create(PublishRequestSchema, { coordinationId: "p", type: SignalType.AGENT_COMPLETED, data: { n: 1 }, idempotencyKey: "k" });
    for (const duplicate of [false, true]) {
      const res = await service.publish(req, ctx("grpc", SignalService.method.publish));
      expect(res.duplicate).toBe(duplicate);
      const { signal, duplicate: dup } = res as PublishResponse;
      const message = create(PublishResponseSchema, { ...(signal !== undefined && { signal }), duplicate: dup });
      expect(Buffer.from(encodedOf(res)!)).toEqual(Buffer.from(toBinary(PublishResponseSchema, message)));
    }
    const web = await service.publish(req, ctx("connect", SignalService.method.publish));
    expect(web.duplicate).toBe(true);
    expect(encodedOf(web)).toBeUndefined();
  });

  it("PublishStream: acks and a refusal in one response, the message built from what it exposes", async () => {
    async function* requests() {
      yield create(PublishStreamRequestSchema, { publish: { coordinationId: "ps", type: SignalType.AGENT_COMPLETED } });
      yield create(PublishStreamRequestSchema, { publish: { coordinationId: "ps" } }); // no type: refused
      yield create(PublishStreamRequestSchema, { publish: { coordinationId: "ps", type: SignalType.AGENT_COMPLETED, idempotencyKey: "k" } });
    }
    const responses: PublishStreamResponse[] = [];
    for await (const r of service.publishStream(requests(), ctx("grpc", SignalService.method.publishStream))) responses.push(r as PublishStreamResponse);
    const outcomes = responses.flatMap((r) => r.outcomes);
    expect(outcomes.map((o) => o.outcome.case)).toEqual(["ack", "error", "ack"]);
    const refused = outcomes[1]?.outcome.value as Status;
    // The in-band status is the one a unary Publish of the same request ends with.
    const unary = await Promise.resolve(service.publish(create(PublishRequestSchema, { coordinationId: "ps" }), ctx("grpc", SignalService.method.publish))).then(
      () => undefined,
      (e: unknown) => e as ConsortError,
    );
    expect(Buffer.from(toBinary(StatusSchema, refused))).toEqual(statusBytes(unary!));
    for (const r of responses) {
      expect(Buffer.from(encodedOf(r)!)).toEqual(Buffer.from(toBinary(PublishStreamResponseSchema, create(PublishStreamResponseSchema, { outcomes: r.outcomes }))));
    }
  });

  it("PublishStream: a request that cannot be read ends the stream after the outcomes of those applied before it", async () => {
    async function* requests() {
      for (let i = 0; i < 3; i++) yield create(PublishStreamRequestSchema, { publish: { coordinationId: "unreadable", type: SignalType.AGENT_COMPLETED } });
      throw new Error("malformed request");
    }
    const acks: number[] = [];
    const ended = await (async () => {
      for await (const r of service.publishStream(requests(), ctx("grpc", SignalService.method.publishStream))) {
        for (const o of (r as PublishStreamResponse).outcomes) if (o.outcome.case === "ack") acks.push(Number(o.outcome.value.sequence));
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((ended as Error | undefined)?.message).toBe("malformed request");
    expect(acks).toEqual([1, 2, 3]);
  });

  it("PublishStream keeps nothing per request while the stream is open", async () => {
    // A gc() of our own: heap use is compared after full collections, with the stream still open.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const used = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const req = create(PublishStreamRequestSchema, { publish: { coordinationId: "long", type: SignalType.INTER_AGENT_MESSAGE } });
    const marks: number[] = [];
    async function* requests() {
      for (let i = 1; i <= 40_000; i++) {
        if (i === 2_000 || i === 40_000) marks.push(used());
        yield req;
      }
    }
    const small = createSignalService({ engine: createSignalEngine({ store: createStore(), limits: { ...defaultLimits, maxHistory: 10 } }), maxMessageBytes: defaultLimits.maxMessageBytes, statusBytes });
    let acks = 0;
    for await (const r of small.publishStream(requests(), ctx("grpc", SignalService.method.publishStream))) acks += (r as PublishStreamResponse).outcomes.length;
    expect(acks).toBe(40_000);
    // Per request retained until the stream ends, 38,000 requests would hold tens of MiB (a Promise.race per
    // request against the stream's pending abort held ~700 bytes each).
    expect(marks[1]! - marks[0]!).toBeLessThan(4 * 2 ** 20);
  });

  it("a signal read after its encoding left the cache is encoded again, the same", async () => {
    // A cache of 1 byte keeps nothing: every read encodes again.
    const small = createSignalService({ engine, maxMessageBytes: defaultLimits.maxMessageBytes, encodingCacheBytes: 1, statusBytes });
    const req = create(ListSignalsRequestSchema, { coordinationId: "c", pageSize: 100 });
    const a = await small.listSignals(req, ctx("grpc", SignalService.method.listSignals));
    const b = await service.listSignals(req, ctx("grpc", SignalService.method.listSignals));
    expect((a as ListSignalsResponse).signals).toHaveLength(7);
    expect(Buffer.from(encodedOf(a)!)).toEqual(Buffer.from(encodedOf(b)!));
  });

  it("Subscribe: a replayed batch", async () => {
    const ac = new AbortController();
    const c = createHandlerContext({ service: SignalService, method: SignalService.method.subscribe, protocolName: "grpc", requestMethod: "POST", url: "http://x/", requestSignal: ac.signal });
    const it = service.subscribe(create(SubscribeRequestSchema, { coordinationId: "c", agentId: "a", afterSequence: 0n }), c)[Symbol.asyncIterator]();
    await it.next(); // subscribed
    const batch = (await it.next()).value as SubscribeResponse;
    expect(batch.signals.map((s) => s.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    expect(Buffer.from(encodedOf(batch)!)).toEqual(Buffer.from(toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { signals: batch.signals }))));
    ac.abort();
    await it.return?.(undefined);
  });
});
