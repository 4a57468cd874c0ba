import { create, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  RouteRequestSchema,
  RouteResponseSchema,
  RoutingDecision,
  ConditionOperator,
} from "../../gen/ts/consort/v1/routing_pb.js";
import type { JsonObject } from "../../src/core/json.js";
import type { RoutingRecord } from "../../src/core/routing/types.js";
import { decodeRouteRequest, encodeRouteResponse } from "../../src/service/route-codec.js";
import { routingResultMessage } from "../../src/service/routing-service.js";

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

  it('keeps a "__proto__" key as an ordinary key', () => {
    const state = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as JsonObject;
    const bytes = toBinary(RouteRequestSchema, create(RouteRequestSchema, { currentTask: "t", state }));
    const decoded = decodeRouteRequest(bytes).state as JsonObject;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(["__proto__", "a"]);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toEqual({ polluted: true });
  });

  it("skips fields it does not know", () => {
    const bytes = toBinary(RouteRequestSchema, create(RouteRequestSchema, { currentTask: "t" }));
    const withUnknown = new Uint8Array([...bytes, 0xa0, 0x06, 0x01]); // field 100, varint 1
    expect(decodeRouteRequest(withUnknown).currentTask).toBe("t");
  });

  const record = (over: Partial<RoutingRecord>): RoutingRecord => ({
    routingId: "5d0c1f6e-2b7a-4e4c-9d51-0a3f2c9e8b11",
    decision: "retry",
    confidence: 0.95,
    reasoning: "State contains errors (key_count=1, complexity=0.03)",
    strategy: "state_analysis",
    nextTask: "",
    metadata: {},
    policyId: "p",
    routingTimeMs: 0.0031,
    routersEvaluated: 4,
    currentTask: "générer ✓",
    correlationId: "",
    createdAt: 1_795_600_000_123,
    ...over,
  });
  const protobufEs = (r: RoutingRecord) => toBinary(RouteResponseSchema, create(RouteResponseSchema, { result: routingResultMessage(r) }));

  it.each([
    ["rich metadata", record({ metadata: rich })],
    ["empty metadata, whole-second timestamp", record({ createdAt: 1_795_600_000_000 })],
    ["every optional field set", record({ nextTask: "fix", correlationId: "wf-42", decision: "branch", strategy: "conditional" })],
    ["a long reasoning (multi-byte length)", record({ reasoning: "x".repeat(300), metadata: { parallel_tasks: ["a", "b"] } })],
  ])("encodes a RouteResponse byte for byte as protobuf-es does: %s", (_name, r) => {
    expect(encodeRouteResponse(r)).toEqual(Buffer.from(protobufEs(r)));
  });

  it("reuses a frozen result's encoding only while the result it encodes is the same", () => {
    const metadata = Object.freeze({ rule_id: "r1" });
    const first = record({ metadata, decision: "end", reasoning: "Conditional rule 'r1' matched: k == v" });
    expect(encodeRouteResponse(first)).toEqual(Buffer.from(protobufEs(first)));
    expect(encodeRouteResponse({ ...first, routingId: "other" })).toEqual(Buffer.from(protobufEs({ ...first, routingId: "other" })));
    const changed = { ...first, reasoning: "another reasoning", confidence: 0.5 };
    expect(encodeRouteResponse(changed)).toEqual(Buffer.from(protobufEs(changed)));
  });
});
