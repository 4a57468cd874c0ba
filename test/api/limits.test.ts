import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PublishRequestSchema,
  SignalService,
  SignalType,
  type ListSignalsResponse,
  type PublishResponse,
  type SubscribeResponse,
} from "../../gen/ts/consort/v1/signal_pb.js";
import { ConditionOperator, RoutingDecision, RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { create } from "@bufbuild/protobuf";
import type { JsonObject } from "../../src/core/json.js";
import { structSize } from "../../src/service/struct-codec.js";
import { frame } from "./envelopes.js";
import { grpcErrorDetails, startTestServer, unary, type TestServer } from "./harness.js";

/**
 * Responses never exceed the message limit: batches and pages are cut by the bytes they take as sent (binary or
 * JSON), and a signal the server accepts can always be sent. Payloads are measured as encoded.
 */

const limit = 64 * 1024;

/** The largest `make(n)` whose encoded size is at most `bytes`. */
function largest(make: (n: number) => JsonObject, bytes: number): JsonObject {
  let lo = 0;
  let hi = bytes;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (structSize(make(mid)) <= bytes) lo = mid;
    else hi = mid - 1;
  }
  return make(lo);
}

// ~65 KB encoded but only ~12 KB of JSON: small numbers take 11 bytes each as a Struct list, 2 as JSON.
const numbers = largest((n) => ({ nums: Array.from({ length: n }, (_, i) => i % 10) }), limit);
// ~65 KB encoded, ~390 KB as JSON: each control character is one byte, written \u0001 in JSON.
const controls = largest((n) => ({ text: "\u0001".repeat(n) }), limit);

let server: TestServer;
let client: ReturnType<TestServer["grpcClient"]>;
beforeAll(async () => {
  server = await startTestServer();
  client = server.grpcClient(SignalService);
});
afterAll(() => server.close());

const publish = (coordinationId: string, data: JsonObject) =>
  unary<PublishResponse>(client, "publish", create(PublishRequestSchema, { coordinationId, type: SignalType.AGENT_COMPLETED, data }));

/** Reads a gRPC subscription from the start until `count` signals arrived; returns their sequences and batch sizes. */
async function replayAll(coordinationId: string, count: number) {
  const fn = client["subscribe"] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientReadableStream<SubscribeResponse>;
  const stream = fn.call(client, { coordinationId, agentId: "reader", afterSequence: 0n }, new grpc.Metadata(), { deadline: Date.now() + 15_000 });
  const seqs: bigint[] = [];
  const batches: number[] = [];
  for await (const res of stream as AsyncIterable<SubscribeResponse>) {
    if (res.signals.length > 0) batches.push(res.signals.length);
    seqs.push(...res.signals.map((s) => s.sequence));
    if (seqs.length >= count) break;
  }
  stream.cancel();
  return { seqs, batches };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i + 1));

describe("responses never exceed the message limit", () => {
  it("replays 100 signals of 64 KiB (encoded) to a gRPC subscriber in batches that fit, none lost", async () => {
    expect(structSize(numbers)).toBeGreaterThan(limit - 16);
    const c = "replay-numbers";
    for (let i = 0; i < 100; i++) await publish(c, numbers);
    const { seqs, batches } = await replayAll(c, 100);
    expect(seqs).toEqual(range(100));
    // 4 MiB holds at most 63 such signals: the replay took several batches.
    expect(batches.length).toBeGreaterThan(1);
    expect(Math.max(...batches)).toBeLessThanOrEqual(63);
  });

  it("replays signals that grow 6-fold as JSON to a Connect JSON subscriber", async () => {
    const c = "replay-controls-json";
    for (let i = 0; i < 30; i++) await publish(c, controls);
    const seqs: bigint[] = [];
    const ac = new AbortController();
    for await (const res of server.connectJson.signals.subscribe({ coordinationId: c, agentId: "browser", afterSequence: 0n }, { signal: ac.signal, timeoutMs: 15_000 })) {
      for (const s of res.signals) {
        expect(s.data).toEqual(controls);
        seqs.push(s.sequence);
      }
      if (seqs.length >= 30) break;
    }
    ac.abort();
    expect(seqs).toEqual(range(30));
  });

  it("cuts a ListSignals page short with a next_page_token instead of failing it, over gRPC and Connect JSON", async () => {
    for (const [c, data, read] of [
      ["list-numbers", numbers, (token: string) => unary<ListSignalsResponse>(client, "listSignals", { coordinationId: "list-numbers", pageToken: token })],
      ["list-controls", controls, (token: string) => server.connectJson.signals.listSignals({ coordinationId: "list-controls", pageToken: token })],
    ] as const) {
      for (let i = 0; i < 100; i++) await publish(c, data);
      const seen: bigint[] = [];
      const sizes: number[] = [];
      let token = "";
      for (let page = 0; page < 100; page++) {
        const res = await read(token);
        seen.push(...res.signals.map((s) => s.sequence));
        sizes.push(res.signals.length);
        token = res.nextPageToken;
        if (token === "") break;
      }
      expect(seen).toEqual(range(100).reverse());
      expect(sizes[0]).toBeLessThan(100);
    }
  });

  it("accepts data of exactly the payload limit with metadata unset, and refuses one byte more naming data", async () => {
    const exact = largest((n) => ({ s: "x".repeat(n) }), limit);
    expect(structSize(exact)).toBe(limit);
    expect((await publish("payload-limit", exact)).signal?.sequence).toBe(1n);
    const over = { s: `${exact["s"] as string}x` };
    const err = await publish("payload-limit", over).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe(`data: data and metadata must be at most ${limit} bytes together (encoded), got ${limit + 1}`);
    expect(grpcErrorDetails(err as grpc.ServiceError).info?.reason).toBe("FIELD_INVALID");
  });
});

describe("messages over the limit are refused with an ErrorInfo", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer(["--max-message-bytes", "16384", "--max-payload-bytes", "1024", "--max-recipients", "1"]);
  });
  afterAll(() => small.close());

  // A policy whose rules leave `name` empty: the stored policy names each rule after its id, so the response
  // is larger than the request.
  const policy = {
    policyId: "big",
    routers: [
      {
        kind: {
          case: "conditional" as const,
          value: {
            rules: Array.from({ length: 60 }, (_, i) => ({
              ruleId: `${i}`.padStart(100, "r"),
              conditionKey: "k".repeat(90),
              operator: ConditionOperator.EQUAL,
              decision: RoutingDecision.END,
            })),
          },
        },
      },
    ],
  };

  it("a policy whose response would be over the limit is refused at PutRoutingPolicy (POLICY_TOO_LARGE), on both ports", async () => {
    const routing = small.grpcClient(RoutingService);
    const err = await unary(routing, "putRoutingPolicy", { policy }).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const info = grpcErrorDetails(err as grpc.ServiceError).info;
    expect(info?.reason).toBe("POLICY_TOO_LARGE");
    expect(info?.metadata["limit_bytes"]).toBe(String(16384 - 1024));
    expect(Number(info?.metadata["size_bytes"])).toBeGreaterThan(16384 - 1024);
    const web = await small.connect.routing.putRoutingPolicy({ policy }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(web?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("POLICY_TOO_LARGE");
    // Nothing was stored, so nothing can fail to be read back.
    const get = await small.connect.routing.getRoutingPolicy({ policyId: "big" }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(get?.code).toBe(Code.NotFound);
  });

  it("an oversized request refused before it was read does not leave its connection stuck for the next ones", async () => {
    const body = frame(Buffer.alloc(300_000, 0x41));
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${small.baseUrl}/consort.v1.SignalService/Subscribe`, {
        method: "POST",
        headers: { "content-type": "application/connect+json" },
        body,
        signal: AbortSignal.timeout(5000),
      });
      expect(Buffer.from(await res.arrayBuffer()).subarray(5).toString()).toMatch(/"code":"resource_exhausted"/);
    }
  });

  it("a request over the limit: RESOURCE_EXHAUSTED, reason MESSAGE_TOO_LARGE, on both ports", async () => {
    const signals = small.grpcClient(SignalService);
    const big = { coordinationId: "c", type: SignalType.AGENT_COMPLETED, data: { s: "x".repeat(20_000) } };
    const err = await unary(signals, "publish", big).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const info = grpcErrorDetails(err as grpc.ServiceError).info;
    expect(info?.reason).toBe("MESSAGE_TOO_LARGE");
    expect(info?.metadata["limit_bytes"]).toBe("16384");
    for (const web of [small.connect.signals, small.connectJson.signals, small.grpcWeb.signals]) {
      const werr = await web.publish(big).then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(werr?.code).toBe(Code.ResourceExhausted);
      expect(werr?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("MESSAGE_TOO_LARGE");
    }
  });
});
