import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DistributeContextRequestSchema } from "../../gen/ts/consort/v1/context_pb.js";
import type { JsonObject, JsonValue } from "../../src/core/json.js";
import { decodeDistributeCanonical, decodeDistributeContextRequest } from "../../src/service/distribute-codec.js";
import { fuzzRuns } from "../fuzz-runs.js";
import { clientBytes, outcome } from "./wire-arbitraries.js";

/**
 * DistributeContext's hand-written request decoder against protobuf-es: for any bytes, exactly `fromBinary`'s
 * result (toStrictEqual: same properties, same prototypes) or its error. `CONSORT_FUZZ_RUNS` raises the cases.
 */

const runs = fuzzRuns(300);

const anyString = fc.oneof(fc.string({ maxLength: 10 }), fc.string({ unit: "binary", maxLength: 10 }), fc.constantFrom("", "__proto__", "\ufeff", "😀", "constructor"));
const wellFormed = anyString.filter((s) => s.isWellFormed());
const anyNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1, NaN, Infinity, -Infinity));
const int32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, -1, 100));
const json = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.constant(null), fc.boolean(), anyNumber, wellFormed, fc.array(tie("value"), { maxLength: 3 }), tie("object")),
  object: fc.dictionary(wellFormed, tie("value"), { maxKeys: 3 }) as fc.Arbitrary<JsonObject>,
}));
const lists = fc.dictionary(wellFormed, fc.record({ values: fc.array(wellFormed, { maxLength: 3 }) }), { maxKeys: 3 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const assignment = fc.record(
  {
    agentId: wellFormed,
    agentRole: wellFormed,
    objective: wellFormed,
    tasks: fc.array(wellFormed, { maxLength: 3 }),
    inputData: json.object,
    dependencies: fc.array(wellFormed, { maxLength: 3 }),
    outputRequirements: json.object,
    successCriteria: json.object,
    resourceAllocation: fc.record(
      { maxExecutionTimeMs: opt(int32), maxRetryAttempts: opt(int32), maxMemoryMb: opt(int32), qualityThreshold: opt(anyNumber), timeoutMs: opt(int32), concurrencyLimit: opt(int32) },
      { requiredKeys: [] },
    ),
    coordinationProtocols: fc.record(
      { updateIntervalMs: opt(int32), heartbeatIntervalMs: opt(int32), statusChannel: opt(wellFormed), resultChannel: opt(wellFormed), errorChannel: opt(wellFormed), coordinationEndpoint: opt(wellFormed) },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

const request = fc
  .record(
    {
      coordinationId: wellFormed,
      sessionId: wellFormed,
      sharedIntelligence: fc.record(
        { typeRegistry: json.object, patternLibrary: lists, validationRules: json.object, namingConventions: fc.dictionary(wellFormed, wellFormed, { maxKeys: 3 }), dependencyGraph: lists },
        { requiredKeys: [] },
      ),
      assignments: fc.array(assignment, { maxLength: 3 }),
      parentWorkflowId: wellFormed,
    },
    { requiredKeys: [] },
  )
  .map((init) => toBinary(DistributeContextRequestSchema, create(DistributeContextRequestSchema, init as never)));

/** Bytes a client could send: valid requests, merges, unknown fields, truncations, one changed byte, noise. */
const requestBytes = clientBytes(request, 12);

/**
 * Whether two decoded values are the same: the same prototypes, the same own enumerable keys in the same order
 * (map and Struct entries are encoded again in key order), equal leaves (`Object.is`: NaN equals NaN, -0 differs
 * from 0). Unlike toStrictEqual, an own key named "constructor" (a Struct key clients may send) is compared as
 * data, not taken for the object's class.
 */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

describe("DistributeContext's request decoder agrees with fromBinary on every input", () => {
  it("property: same result, or the same error, for valid, merged, extended, truncated, corrupted and random bytes", () => {
    fc.assert(
      fc.property(requestBytes, (bytes) => {
        const fast = outcome(decodeDistributeContextRequest, bytes);
        const slow = outcome((b) => fromBinary(DistributeContextRequestSchema, b), bytes);
        expect(same(fast, slow), JSON.stringify([fast, slow])).toBe(true);
      }),
      { numRuns: runs },
    );
  });

  it("property: decodes what protobuf encoders write on its own fast path, not through fromBinary", () => {
    fc.assert(
      fc.property(request, (bytes) => {
        const slow = fromBinary(DistributeContextRequestSchema, bytes);
        // A "__proto__" map key is left to fromBinary, which defines it specially.
        fc.pre(!JSON.stringify(slow).includes('"__proto__"'));
        expect(same(decodeDistributeCanonical(bytes), slow)).toBe(true);
      }),
      { numRuns: runs },
    );
  });

  it("leaves a map key named __proto__ to fromBinary, which keeps it an ordinary key", () => {
    const bytes = toBinary(DistributeContextRequestSchema, create(DistributeContextRequestSchema, { sharedIntelligence: { namingConventions: { ["__proto__"]: "x" } } }));
    expect(() => decodeDistributeCanonical(bytes)).toThrow(/__proto__/);
    expect(same(decodeDistributeContextRequest(bytes), fromBinary(DistributeContextRequestSchema, bytes))).toBe(true);
  });

  it("compares what it checks: the comparison tells apart values that differ by a key, a prototype or a -0", () => {
    expect(same({ a: { constructor: {} } }, { a: { constructor: {} } })).toBe(true);
    expect(same({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(same({ a: 0 }, { a: -0 })).toBe(false);
    expect(same({ a: NaN }, { a: NaN })).toBe(true);
    expect(same({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(same(Object.create(null), {})).toBe(false);
  });
});
