import { Code, ConnectError } from "@connectrpc/connect";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { SignalType, type PublishStreamRequest } from "../../gen/ts/consort/v1/signal_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer } from "./harness.js";

/** An async iterable of requests the test pushes into, and ends. */
function requestQueue() {
  const items: PublishStreamRequest[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  return {
    push(r: Omit<PublishStreamRequest, "$typeName"> | object) {
      items.push(r as PublishStreamRequest);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (items.length > 0) yield items.shift()!;
        if (closed) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
  };
}

describe("PublishStream", () => {
  it("acknowledges every request in order, one outcome each; a refused request gets its status and the stream goes on", async () => {
    const server = await startTestServer();
    try {
      const coordinationId = "stream";
      const q = requestQueue();
      const outcomes: { ack?: { sequence: bigint; duplicate: boolean; epoch: string; signalId: string }; error?: { code: number; reason?: string; fields: string[] } }[] = [];
      const reading = (async () => {
        for await (const res of server.grpc.signals.publishStream(q)) {
          expect(res.outcomes.length).toBeGreaterThan(0);
          for (const o of res.outcomes) {
            if (o.outcome.case === "ack") outcomes.push({ ack: o.outcome.value });
            else if (o.outcome.case === "error") {
              const st = o.outcome.value;
              const info = st.details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((x) => x !== undefined);
              const bad = st.details.map((d) => anyUnpack(d, BadRequestSchema)).find((x) => x !== undefined);
              outcomes.push({ error: { code: st.code, ...(info !== undefined && { reason: info.reason }), fields: bad?.fieldViolations.map((v) => v.field) ?? [] } });
            }
          }
        }
      })();
      for (let i = 1; i <= 500; i++) {
        if (i === 100) q.push({ publish: { coordinationId, type: SignalType.UNSPECIFIED } }); // refused: no type
        if (i === 200) q.push({ publish: { coordinationId, type: SignalType.AGENT_COMPLETED, data: { x: "y".repeat(70_000) } } }); // refused: too large
        q.push({ publish: { coordinationId, type: SignalType.INTER_AGENT_MESSAGE, data: { i }, idempotencyKey: i === 300 ? "k" : "" } });
        if (i === 300) q.push({ publish: { coordinationId, type: SignalType.INTER_AGENT_MESSAGE, idempotencyKey: "k" } }); // duplicate
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      q.push({}); // no `publish` at all: refused like an empty Publish
      q.close();
      await reading;
      expect(outcomes).toHaveLength(504);
      const acks = outcomes.filter((o) => o.ack !== undefined).map((o) => o.ack!);
      expect(acks.filter((a) => !a.duplicate).map((a) => a.sequence)).toEqual(Array.from({ length: 500 }, (_, i) => BigInt(i + 1)));
      // In request order: the refused ones sit where they were sent.
      expect(outcomes[99]?.error).toMatchObject({ code: Code.InvalidArgument, reason: "FIELD_INVALID", fields: ["type"] });
      expect(outcomes[200]?.error).toMatchObject({ code: Code.InvalidArgument, fields: ["data"] });
      expect(outcomes[302]?.ack).toMatchObject({ duplicate: true, sequence: 300n, signalId: outcomes[301]?.ack?.signalId });
      expect(outcomes[503]?.error?.fields).toEqual(expect.arrayContaining(["coordination_id", "type"]));
      const page = await server.grpc.signals.listSignals({ coordinationId, pageSize: 1 });
      expect(page.signals[0]?.sequence).toBe(500n);
      expect(new Set(acks.map((a) => a.epoch)).size).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("ends UNAVAILABLE SHUTTING_DOWN on shutdown, after the outcome of every request it applied; a client that never half-closes does not hold the shutdown", async () => {
    // A grace period far longer than the shutdown should take: the client below never ends its requests.
    const server = await startTestServer(["--shutdown-grace-ms", "60000"]);
    const q = requestQueue();
    const acked: bigint[] = [];
    const ended = (async () => {
      for await (const res of server.grpc.signals.publishStream(q)) {
        for (const o of res.outcomes) if (o.outcome.case === "ack") acked.push(o.outcome.value.sequence);
      }
    })().then(() => undefined, (e: unknown) => ConnectError.from(e));
    for (let i = 0; i < 50; i++) q.push({ publish: { coordinationId: "bye", type: SignalType.INTER_AGENT_MESSAGE } });
    while (acked.length < 50) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await server.close();
    const closeMs = performance.now() - t0;
    const err = await ended;
    // Not a timing goal: waiting out the grace period would take 60 s.
    expect(closeMs).toBeLessThan(20_000);
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SHUTTING_DOWN");
    expect(acked).toHaveLength(50);
  });
});

describe("PublishStream on the HTTP/1.1 port", () => {
  it("is refused UNIMPLEMENTED HTTP2_REQUIRED in every browser protocol, naming the way out", async () => {
    const server = await startTestServer();
    try {
      async function* one() {
        yield { publish: { coordinationId: "web", type: SignalType.INTER_AGENT_MESSAGE } };
      }
      for (const clients of [server.connect, server.connectJson, server.grpcWeb]) {
        const err = await (async () => {
          for await (const _ of clients.signals.publishStream(one())) void _;
        })().then(() => undefined, (e: unknown) => ConnectError.from(e));
        expect(err?.code).toBe(Code.Unimplemented);
        expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("HTTP2_REQUIRED");
        expect(err?.rawMessage).toMatch(/gRPC port.*Publish/);
      }
      expect((await server.connect.signals.listSignals({ coordinationId: "web" })).signals).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
