import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConditionOperator, RoutingDecision } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer, type Clients, type TestServer } from "./harness.js";

/**
 * One JSON nesting limit (32 levels) on every port and every JSON field, well below what clients can read (protobuf
 * -es stops at ~48, generated Python clients at ~40): what one port accepts, every client reads back.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** An object nested `levels` deep (itself level 1), alternating objects and lists. */
function nest(levels: number): Record<string, unknown> {
  let v: unknown = "leaf";
  for (let i = 1; i < levels; i++) v = i % 2 === 0 ? { k: v } : [v];
  return { k: v };
}

const ports = (): [string, Clients][] => [
  ["gRPC", server.grpc],
  ["Connect", server.connect],
  ["Connect JSON", server.connectJson],
  ["gRPC-Web", server.grpcWeb],
];

const refusal = async (call: Promise<unknown>) => {
  const e = ConnectError.from(await call.then(() => new Error("accepted"), (x: unknown) => x));
  return { code: e.code, reason: e.findDetails(ErrorInfoSchema)[0]?.reason, message: e.rawMessage };
};

describe("JSON nested one level past the limit is refused on every port, naming the field", () => {
  it.each([33, 40])("%i levels", async (levels) => {
    for (const [name, c] of ports()) {
      const invalid = { code: Code.InvalidArgument, reason: "FIELD_INVALID" };
      expect(await refusal(c.signals.publish({ coordinationId: "deep", type: SignalType.AGENT_COMPLETED, data: nest(levels) as never })), name).toMatchObject({
        ...invalid,
        message: expect.stringContaining("data: must nest") as unknown as string,
      });
      expect(await refusal(c.signals.publish({ coordinationId: "deep", type: SignalType.AGENT_COMPLETED, metadata: nest(levels) as never })), name).toMatchObject(invalid);
      expect(await refusal(c.routing.route({ currentTask: "t", state: nest(levels) as never })), name).toMatchObject({ ...invalid, message: expect.stringContaining("state") as unknown as string });
      expect(await refusal(c.routing.route({ currentTask: "t", customData: nest(levels) as never })), name).toMatchObject(invalid);
      const rule = { ruleId: "r", conditionKey: "k", operator: ConditionOperator.EQUAL, conditionValue: fromJson(ValueSchema, nest(levels) as never), decision: RoutingDecision.END };
      expect(await refusal(c.routing.putRoutingPolicy({ policy: { policyId: "deep", routers: [{ kind: { case: "conditional", value: { rules: [rule] } } }] } })), name).toMatchObject(invalid);
    }
    // Nothing was stored.
    expect(server.app.signals.headSequence("deep")).toBe(0);
  });
});

describe("JSON at the limit, accepted on one port, is read back on every other", () => {
  it("a signal with data 32 levels deep published over gRPC is listed and replayed over Connect JSON and gRPC-Web", async () => {
    const coordinationId = "deep-ok";
    await server.grpc.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED, data: nest(32) as never });
    for (const [name, c] of ports()) {
      const page = await c.signals.listSignals({ coordinationId });
      expect(page.signals[0]?.data, name).toEqual(nest(32));
    }
    const replay = server.connectJson.signals.subscribe({ coordinationId, agentId: "r", afterSequence: 0n }, { timeoutMs: 5000 })[Symbol.asyncIterator]();
    await replay.next(); // subscribed
    expect((await replay.next()).value?.signals[0]?.data).toEqual(nest(32));
    await replay.return?.();
  });
});
