import { create, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  RouteRequestSchema,
  RouteResponseSchema,
  RoutingDecision,
  RoutingResultSchema,
  RoutingStrategy,
  ConditionOperator,
} from "../../gen/ts/consort/v1/routing_pb.js";
import type { JsonObject } from "../../src/core/json.js";
import { decodeRouteRequest, encodeRouteResponse } from "../../src/service/route-codec.js";

const rich: JsonObject = {
  error_count: 0,
  ratio: -1.5e-7,
  big: 2 ** 53,
  name: "générateur ✓",
  empty: "",
  flag: false,
  nothing: null,
  completed_tasks: ["parse", "design", ""],
  nested: { a: { b: [1, { c: null }, []], d: {} } },
};

describe("Route's hand-written codecs agree with protobuf-es", () => {
  it.each([
    ["stored policy, rich state", { policySource: { case: "policyId" as const, value: "p" }, currentTask: "t", state: rich, executionTimeMs: 45.2, retryCount: 3, customData: { priority: 0 }, correlationId: "c-1" }],
    ["defaults", { policySource: { case: "policyId" as const, value: "p" }, currentTask: "t" }],
    ["negative retry count (rejected later, decoded faithfully)", { currentTask: "t", retryCount: -2, state: {} }],
    [
      "inline policy",
      {
        policySource: {
          case: "policy" as const,
          value: { policyId: "i", routers: [{ kind: { case: "conditional" as const, value: { rules: [{ ruleId: "r", conditionKey: "k", operator: ConditionOperator.IN, conditionValue: fromJson(ValueSchema, ["a"]), decision: RoutingDecision.END }] } } }] },
        },
        currentTask: "t",
      },
    ],
  ])("decodes a RouteRequest: %s", (_name, init) => {
    const bytes = toBinary(RouteRequestSchema, create(RouteRequestSchema, init as never));
    expect(decodeRouteRequest(bytes)).toEqual(fromBinary(RouteRequestSchema, bytes));
  });

  it("skips fields it does not know", () => {
    const bytes = toBinary(RouteRequestSchema, create(RouteRequestSchema, { currentTask: "t" }));
    const withUnknown = new Uint8Array([...bytes, 0xa0, 0x06, 0x01]); // field 100, varint 1
    expect(decodeRouteRequest(withUnknown).currentTask).toBe("t");
  });

  it.each([
    ["rich metadata", rich],
    ["empty metadata", {}],
  ])("encodes a RouteResponse: %s", (_name, metadata) => {
    const result = create(RoutingResultSchema, {
      routingId: "id",
      decision: RoutingDecision.RETRY,
      confidence: 0.95,
      reasoning: "State contains errors (key_count=1, complexity=0.03)",
      strategy: RoutingStrategy.STATE_ANALYSIS,
      nextTask: "",
      metadata,
      routingTimeMs: 0.0031,
      routersEvaluated: 4,
      currentTask: "t",
      correlationId: "",
      createdAt: timestampFromMs(1_795_600_000_123),
    });
    const mine = encodeRouteResponse(result, metadata);
    expect(fromBinary(RouteResponseSchema, mine)).toEqual(create(RouteResponseSchema, { result }));
    expect(mine).toEqual(toBinary(RouteResponseSchema, create(RouteResponseSchema, { result })));
  });
});
