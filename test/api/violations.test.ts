import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConditionOperator, RoutingDecision, RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalService, SignalType, type ListSignalsResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { grpcErrorDetails, startTestServer, unary, type TestServer } from "./harness.js";

/** INVALID_ARGUMENT lists every violated field, names enum values as clients write them, and rejects unknown ones. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

const badPublish = {
  coordinationId: "",
  type: SignalType.UNSPECIFIED,
  senderAgentId: "s".repeat(101),
  recipientAgentIds: ["ok", ""],
  idempotencyKey: "k".repeat(101),
};
const badFields = ["type", "coordination_id", "sender_agent_id", "recipient_agent_ids[1]", "idempotency_key"];

describe("INVALID_ARGUMENT lists every violated field", () => {
  it("over gRPC: one BadRequest violation per field, the message naming the first and counting the rest", async () => {
    const err = (await failure(unary(server.grpcClient(SignalService), "publish", badPublish))) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const { info, badRequest } = grpcErrorDetails(err);
    expect(info?.reason).toBe("FIELD_INVALID");
    expect(badRequest?.fieldViolations.map((v) => v.field)).toEqual(badFields);
    expect(err.details).toMatch(/^type: must be one of SIGNAL_TYPE_AGENT_INITIALIZED, .* \(and 4 more invalid fields\)$/);
  });

  it.each(["connect", "connectJson", "grpcWeb"] as const)("over %s: the same violations", async (protocol) => {
    const err = ConnectError.from(await failure(server[protocol].signals.publish(badPublish)));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(badFields);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("FIELD_INVALID");
  });

  it("in a routing policy, every bad rule field of every router", async () => {
    const err = ConnectError.from(
      await failure(
        server.connect.routing.putRoutingPolicy({
          policy: {
            policyId: "",
            routers: [
              { kind: { case: "conditional", value: { rules: [{ ruleId: "r", conditionKey: "", operator: ConditionOperator.UNSPECIFIED, decision: 99 as RoutingDecision }] } } },
              { kind: { case: "priority", value: { config: { highPriorityDecision: 99 as RoutingDecision, lowThreshold: 200 } } } },
            ],
          },
        }),
      ),
    );
    const violations = err.findDetails(BadRequestSchema)[0]?.fieldViolations ?? [];
    const rule = "policy.routers[0].conditional.rules[0]";
    expect(Object.fromEntries(violations.map((v) => [v.field, v.description]))).toEqual({
      [`${rule}.operator`]: expect.stringMatching(/^must be one of CONDITION_OPERATOR_EQUAL, CONDITION_OPERATOR_NOT_EQUAL, .*; got CONDITION_OPERATOR_UNSPECIFIED$/),
      [`${rule}.decision`]: expect.stringMatching(/^must be one of ROUTING_DECISION_ERROR, .*ROUTING_DECISION_CONTINUE; got 99$/),
      "policy.routers[1].priority.config.high_priority_decision": expect.stringMatching(/^must be unset or one of ROUTING_DECISION_ERROR, .*; got 99$/),
      "policy.policy_id": expect.stringMatching(/^must not be empty/),
      [`${rule}.condition_key`]: expect.stringMatching(/^must not be empty/),
      "policy.routers[1].priority.config.low_threshold": expect.stringMatching(/^must be between 0 and 100/),
    });
    expect((await server.connect.routing.listRoutingPolicies({})).policies).toEqual([]);
  });

  it.each([
    ["state_analysis error_handling_decision", { kind: { case: "stateAnalysis" as const, value: { config: { errorHandlingDecision: 99 as RoutingDecision } } } }],
    ["priority default_decision", { kind: { case: "priority" as const, value: { config: { defaultDecision: -1 as RoutingDecision } } } }],
    ["priority low_priority_decision", { kind: { case: "priority" as const, value: { config: { lowPriorityDecision: 42 as RoutingDecision } } } }],
  ])("rejects an unknown enum number instead of storing the default: %s", async (_name, router) => {
    const err = (await failure(unary(server.grpcClient(RoutingService), "putRoutingPolicy", { policy: { policyId: "enum", routers: [router] } }))) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(grpcErrorDetails(err).badRequest?.fieldViolations[0]?.description).toMatch(/^must be unset or one of ROUTING_DECISION_/);
  });
});

describe("values no client could read back are refused", () => {
  it("NaN and ±Infinity in data, metadata, state, custom_data and condition values: INVALID_ARGUMENT naming the place", async () => {
    const signals = server.grpcClient(SignalService);
    const err = (await failure(
      unary(signals, "publish", { coordinationId: "nan", type: SignalType.AGENT_COMPLETED, data: { ok: 1, scores: [1, NaN] }, metadata: { t: Infinity } }),
    )) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(grpcErrorDetails(err).badRequest?.fieldViolations.map((v) => v.field)).toEqual(['data["scores"][1]', 'metadata["t"]']);
    expect(server.app.signals.headSequence("nan")).toBe(0);

    await unary(server.grpcClient(RoutingService), "putRoutingPolicy", { policy: { policyId: "finite", routers: [{ kind: { case: "priority", value: {} } }] } });
    const route = (await failure(
      unary(server.grpcClient(RoutingService), "route", { policySource: { case: "policyId", value: "finite" }, currentTask: "t", state: { x: -Infinity }, customData: { priority: NaN } }),
    )) as grpc.ServiceError;
    expect(grpcErrorDetails(route).badRequest?.fieldViolations.map((v) => v.field)).toEqual(['state["x"]', 'custom_data["priority"]']);
  });

  it("a Subscribe refused OUT_OF_RANGE creates no coordination", async () => {
    const before = server.app.store.size;
    const it = server.connect.signals.subscribe({ coordinationId: "never-created", agentId: "a", afterSequence: 5n })[Symbol.asyncIterator]();
    const err = ConnectError.from(await failure(it.next()));
    expect(err.code).toBe(Code.OutOfRange);
    expect(server.app.store.size).toBe(before);
    expect(server.app.store.peek("never-created")).toBeUndefined();
  });
});

describe("page tokens", () => {
  it("stay valid when the same data_equals filter arrives with its entries in another order", async () => {
    const client = server.grpcClient(SignalService);
    for (let i = 0; i < 3; i++) await unary(client, "publish", { coordinationId: "order", type: SignalType.AGENT_COMPLETED, data: { a: 1, b: "x" } });
    const first = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: "order", dataEquals: { a: 1, b: "x" }, pageSize: 2 });
    const next = await unary<ListSignalsResponse>(client, "listSignals", { coordinationId: "order", dataEquals: { b: "x", a: 1 }, pageSize: 2, pageToken: first.nextPageToken });
    expect(next.signals.map((s) => s.sequence)).toEqual([1n]);
  });
});
