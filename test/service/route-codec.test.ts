import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  RouteRequestSchema,
  RouteResponseSchema,
  RoutingDecision,
  ConditionOperator,
} from "../../gen/ts/consort/v1/routing_pb.js";
import type { JsonObject, JsonValue } from "../../src/core/json.js";
import { routingDecisions, routingStrategies, type RoutingRecord } from "../../src/core/routing/types.js";
import { decodeCanonical, decodeRouteRequest, encodeRouteResponse } from "../../src/service/route-codec.js";
import { routingResultMessage } from "../../src/service/routing-service.js";
import { structSize, writeStruct } from "../../src/service/struct-codec.js";
import { fuzzRuns } from "../fuzz-runs.js";
import { clientBytes, concat, outcome } from "./wire-arbitraries.js";

/**
 * Route's hand-written codecs against protobuf-es, the library they replace on the hot path: for any bytes, the
 * decoder gives exactly `fromBinary`'s result or its error; for any record, the encoder gives exactly `toBinary`'s
 * bytes. `CONSORT_FUZZ_RUNS` raises the number of cases (npm test uses a quick default).
 */

const runs = fuzzRuns(300);

/** Any string: ASCII, multi-byte, astral and lone surrogates. */
const anyString = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom("", "__proto__", "\ufeff", "\ud800", "a\udc00b", "😀"));
/** A string protobuf can carry (lone surrogates cannot be encoded as UTF-8). */
const wellFormed = anyString.filter((s) => s.isWellFormed());
const anyNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1, 2 ** 53, NaN, Infinity, -Infinity, 5e-324));

/** JSON values up to a few levels deep (numbers include NaN and ±Infinity: binary carries them). */
const json = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    anyNumber,
    wellFormed,
    fc.array(tie("value"), { maxLength: 4 }),
    tie("object"),
  ),
  object: fc.dictionary(wellFormed, tie("value"), { maxKeys: 4 }) as fc.Arbitrary<JsonObject>,
}));

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const inlinePolicy = fc.record({
  policyId: wellFormed,
  routers: fc.array(
    fc.oneof(
      fc.constant({ kind: { case: "priority" as const, value: {} } }),
      fc.record({
        kind: fc.record({
          case: fc.constant("conditional" as const),
          value: fc.record({
            rules: fc.array(
              fc.record({
                ruleId: wellFormed,
                conditionKey: wellFormed,
                operator: fc.constantFrom(ConditionOperator.EQUAL, ConditionOperator.IN, 99),
                conditionValue: json.value.map((v) => create(ValueSchema, { kind: { case: "stringValue", value: JSON.stringify(v) ?? "" } })),
                decision: fc.constantFrom(RoutingDecision.END, RoutingDecision.RETRY),
              }),
              { maxLength: 2 },
            ),
          }),
        }),
      }),
    ),
    { maxLength: 2 },
  ),
});

/** RouteRequest messages: stored or inline policy or none, every field optional. */
const routeRequest = fc
  .record(
    {
      policySource: fc.oneof(
        fc.record({ case: fc.constant("policyId" as const), value: wellFormed }),
        fc.record({ case: fc.constant("policy" as const), value: inlinePolicy }),
        fc.constant({ case: undefined }),
      ),
      currentTask: wellFormed,
      state: json.object,
      executionTimeMs: anyNumber,
      retryCount: int32,
      customData: json.object,
      correlationId: wellFormed,
      coordinationId: wellFormed,
    },
    { requiredKeys: [] },
  )
  .map((init) => toBinary(RouteRequestSchema, create(RouteRequestSchema, init as never)));

/**
 * Bytes a client could send: valid requests, mutated ones, concatenations (merges: a repeated coordination_id
 * replaces the first), unknown fields and wrong wire types (field numbers up to 20, coordination_id's 9 among
 * them), and noise.
 */
const requestBytes = clientBytes(routeRequest, 20);

/** A length-delimited field `no` around `body`. */
const lenField = (no: number, body: Uint8Array) => new BinaryWriter().tag(no, WireType.LengthDelimited).bytes(body).finish();

/**
 * A RouteRequest whose `state` nests `depth` messages deep (the request is depth 1, `state` depth 2), built from
 * the inside out without recursion: each object level adds a Value and a Struct, each list level a Value and a
 * ListValue.
 */
function nestedState(depth: number, viaList: boolean): Uint8Array {
  let value = lenField(3, new TextEncoder().encode("leaf")); // Value{string_value}, at depth 3
  for (let d = 3; d + 2 <= depth; d += 2) {
    const inner = viaList ? lenField(1, value) : concat(lenField(1, concat(lenField(1, new TextEncoder().encode("k")), lenField(2, value))));
    value = lenField(viaList ? 6 : 5, inner);
  }
  const state = lenField(1, concat(lenField(1, new TextEncoder().encode("k")), lenField(2, value)));
  return concat(lenField(3, new TextEncoder().encode("t")), lenField(4, state));
}

describe("Route's request decoder agrees with fromBinary on every input", () => {
  it("property: same result, or the same error, for valid, merged, extended, truncated, corrupted and random bytes", () => {
    fc.assert(
      fc.property(requestBytes, (bytes) => {
        expect(outcome(decodeRouteRequest, bytes)).toStrictEqual(outcome((b) => fromBinary(RouteRequestSchema, b), bytes));
      }),
      { numRuns: runs },
    );
  });

  it("property: decodes what protobuf encoders write on its own fast path (stored policies), not through fromBinary", () => {
    fc.assert(
      fc.property(routeRequest, (bytes) => {
        const slow = fromBinary(RouteRequestSchema, bytes);
        fc.pre(slow.policySource.case !== "policy");
        expect(decodeCanonical(bytes)).toStrictEqual(slow);
      }),
      { numRuns: runs },
    );
  });

  it.each([
    ["invalid UTF-8 in a string field", new Uint8Array([26, 2, 0xc3, 0x28])],
    ["invalid UTF-8 in a Struct key", toBinary(RouteRequestSchema, create(RouteRequestSchema, { state: { ab: 1 } })).map((b) => (b === 0x61 ? 0xff : b))],
    ["a UTF-8-encoded surrogate", new Uint8Array([26, 3, 0xed, 0xa0, 0x80])],
    ["state twice (merged)", concat(toBinary(RouteRequestSchema, create(RouteRequestSchema, { state: { a: 1, b: 2 } })), toBinary(RouteRequestSchema, create(RouteRequestSchema, { state: { b: 3, c: 4 } })))],
    ["an int32 written as a 10-byte varint", concat(new Uint8Array([48]), new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))],
    ["an int32 written as a 7-byte varint", new Uint8Array([48, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])],
    ["a tag spread over 6 bytes", new Uint8Array([0x9a, 0x80, 0x80, 0x80, 0x80, 0x00, 1, 0x61])],
    ["current_task with the varint wire type", new Uint8Array([24, 5])],
    ["retry_count with the length-delimited wire type", new Uint8Array([50, 1, 7])],
    ["coordination_id with the varint wire type", new Uint8Array([72, 5])],
    ["coordination_id with the 64-bit wire type", new Uint8Array([73, 1, 2, 3, 4, 5, 6, 7, 8])],
    ["coordination_id twice (the last wins)", concat(toBinary(RouteRequestSchema, create(RouteRequestSchema, { coordinationId: "first" })), toBinary(RouteRequestSchema, create(RouteRequestSchema, { coordinationId: "second" })))],
    ["coordination_id empty on the wire", new Uint8Array([74, 0, 26, 1, 0x74])],
    ["coordination_id with invalid UTF-8", new Uint8Array([74, 2, 0xc3, 0x28])],
    ["coordination_id beside an unknown field 10", concat(toBinary(RouteRequestSchema, create(RouteRequestSchema, { currentTask: "t", coordinationId: "c" })), new Uint8Array([82, 1, 0x61]))],
    ["a group", new Uint8Array([83, 84])],
    ["a Struct 100 messages deep", nestedState(100, false)],
    ["a Struct 101 messages deep", nestedState(101, false)],
    ["a list 101 messages deep", nestedState(101, true)],
    ["a Struct 4,000 messages deep", nestedState(4000, false)],
  ])("%s", (_name, bytes) => {
    expect(outcome(decodeRouteRequest, bytes)).toStrictEqual(outcome((b) => fromBinary(RouteRequestSchema, b), bytes));
  });

  it("rejects past fromBinary's recursion limit and accepts just below it", () => {
    expect(() => decodeRouteRequest(nestedState(101, false))).toThrow(/maximum recursion depth/);
    expect(() => decodeRouteRequest(nestedState(99, false))).not.toThrow();
  });

  it('keeps a "__proto__" key as an ordinary key', () => {
    const state = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as JsonObject;
    const bytes = toBinary(RouteRequestSchema, create(RouteRequestSchema, { currentTask: "t", state }));
    const decoded = decodeRouteRequest(bytes).state as JsonObject;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(["__proto__", "a"]);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toEqual({ polluted: true });
  });
});

const record = fc.record({
  routingId: anyString,
  decision: fc.constantFrom(...routingDecisions),
  confidence: anyNumber,
  reasoning: anyString,
  strategy: fc.constantFrom(...routingStrategies),
  nextTask: anyString,
  metadata: json.object,
  policyId: fc.constant("p"),
  routingTimeMs: fc.oneof(fc.double({ min: 0, noNaN: true }), fc.constant(0)),
  routersEvaluated: fc.integer({ min: 0, max: 10 }),
  currentTask: anyString,
  correlationId: anyString,
  createdAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  coordinationId: anyString,
}) as fc.Arbitrary<RoutingRecord>;

const protobufEs = (r: RoutingRecord) => Buffer.from(toBinary(RouteResponseSchema, create(RouteResponseSchema, { result: routingResultMessage(r) })));

describe("Route's response encoder writes exactly what toBinary writes", () => {
  it("property: byte for byte, for any record (any strings, lone surrogates included; any numbers; any metadata)", () => {
    fc.assert(
      fc.property(record, fc.boolean(), (r, frozen) => {
        const rec = frozen ? { ...r, metadata: Object.freeze({ ...r.metadata }) } : r;
        expect(encodeRouteResponse(rec)).toEqual(protobufEs(rec));
        // A frozen result's encoding is cached: the second encoding must still be exact.
        expect(encodeRouteResponse(rec)).toEqual(protobufEs(rec));
      }),
      { numRuns: runs },
    );
  });

  it("writes a lone surrogate as U+FFFD, valid UTF-8 that every client can read", () => {
    const r: RoutingRecord = {
      routingId: "id", decision: "end", confidence: 1, reasoning: "matched: k == \ud800", strategy: "conditional", nextTask: "",
      metadata: { rule_id: "\udfff" }, policyId: "p", routingTimeMs: 0.5, routersEvaluated: 1, currentTask: "t", correlationId: "", createdAt: 1_795_600_000_123, coordinationId: "c\ud800",
    };
    const bytes = encodeRouteResponse(r);
    expect(bytes).toEqual(protobufEs(r));
    expect(fromBinary(RouteResponseSchema, bytes).result?.reasoning).toBe("matched: k == \ufffd");
  });

  it("reuses a frozen result's encoding only while the result it encodes is the same", () => {
    const base: RoutingRecord = {
      routingId: "a", decision: "end", confidence: 1, reasoning: "Conditional rule 'r1' matched: k == v", strategy: "conditional", nextTask: "",
      metadata: Object.freeze({ rule_id: "r1" }), policyId: "p", routingTimeMs: 0.001, routersEvaluated: 4, currentTask: "t", correlationId: "", createdAt: 1_795_600_000_000, coordinationId: "",
    };
    expect(encodeRouteResponse(base)).toEqual(protobufEs(base));
    const changed = { ...base, reasoning: "another reasoning", confidence: 0.5 };
    expect(encodeRouteResponse(changed)).toEqual(protobufEs(changed));
  });
});

describe("Struct sizes and encodings agree with toBinary", () => {
  it("property: structSize and writeStruct of any JSON object (NaN and ±Infinity included)", () => {
    fc.assert(
      fc.property(json.object, (obj) => {
        // toBinary of a request holding the Struct: tag 34, a length, then the Struct's own bytes.
        const framed = toBinary(RouteRequestSchema, create(RouteRequestSchema, { state: obj }));
        const r = new BinaryReader(framed);
        r.tag();
        const expected = r.bytes();
        expect(structSize(obj)).toBe(expected.length);
        expect(writeStruct(new BinaryWriter(), obj).finish()).toEqual(expected);
      }),
      { numRuns: runs },
    );
  });
});
