import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer, type TestServer } from "./harness.js";

/** A server-wide cap on coordinations: a client cannot fill the server's memory by naming new ones. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(["--max-coordinations", "3"]);
});
afterAll(() => server.close());

describe("the coordination limit", () => {
  it("refuses a call that would create one more coordination, on every service, and stores nothing; known ones go on", async () => {
    for (const id of ["a", "b", "c"]) await server.grpc.signals.publish({ coordinationId: id, type: SignalType.AGENT_INITIALIZED });
    const refused = async (call: Promise<unknown>) => {
      const e = ConnectError.from(await call.then(() => new Error("accepted"), (x: unknown) => x));
      return [e.code, e.findDetails(ErrorInfoSchema)[0]?.reason];
    };
    const tooMany = [Code.ResourceExhausted, "TOO_MANY_COORDINATIONS"];
    expect(await refused(server.grpc.signals.publish({ coordinationId: "d", type: SignalType.AGENT_INITIALIZED }))).toEqual(tooMany);
    expect(await refused(server.connectJson.contexts.distributeContext({ coordinationId: "d", sessionId: "s", assignments: [{ agentId: "x" }] }))).toEqual(tooMany);
    expect(await refused(server.grpc.dependencies.setQualityGateScore({ coordinationId: "d", gateId: "g", score: 1 }))).toEqual(tooMany);
    const watch = (async () => {
      for await (const _ of server.grpc.contexts.watchAgentContext({ coordinationId: "d", agentId: "x" })) void _;
    })();
    expect(await refused(watch)).toEqual(tooMany);
    const inline = { case: "policy" as const, value: { policyId: "limit-inline" } };
    expect(await refused(server.grpc.routing.route({ policySource: inline, currentTask: "t", coordinationId: "d" }))).toEqual(tooMany);
    expect((await server.grpc.routing.listRoutingHistory({ policyId: "limit-inline" })).results).toEqual([]);
    expect((await server.grpc.routing.route({ policySource: inline, currentTask: "t", coordinationId: "a" })).result?.coordinationId).toBe("a");
    expect(server.app.store.size).toBe(3);
    expect((await server.grpc.signals.publish({ coordinationId: "a", type: SignalType.AGENT_COMPLETED })).signal?.sequence).toBe(2n);
  });
});

describe("routing policy bounds", () => {
  it("refuses a policy GetRoutingPolicy could not return in one message (measured as JSON too), keeping the one stored", async () => {
    const small = await startTestServer(["--max-message-bytes", "65536", "--max-payload-bytes", "4096", "--max-recipients", "10"]);
    try {
      // 140 rules whose ids are control characters: ~55 KB as protobuf would fit, ~6 times that as JSON would not.
      const rules = (n: number, id: string) =>
        Array.from({ length: n }, (_, i) => ({ ruleId: `${id}${i}`, name: id, conditionKey: id, operator: 1, decision: 2, nextTask: id }));
      const put = (n: number) =>
        small.grpc.routing.putRoutingPolicy({ policy: { policyId: "big", routers: [{ kind: { case: "conditional", value: { rules: rules(n, "\u0001".repeat(90)) } } }] } });
      await put(2);
      const err = ConnectError.from(await put(140).then(() => new Error("accepted"), (e: unknown) => e));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("POLICY_TOO_LARGE");
      for (const c of [small.grpc, small.connectJson]) {
        const got = await c.routing.getRoutingPolicy({ policyId: "big" });
        expect(got.policy?.routers[0]?.kind.case === "conditional" && got.policy.routers[0].kind.value.rules.length).toBe(2);
      }
    } finally {
      await small.close();
    }
  });
});
