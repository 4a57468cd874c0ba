import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PublishRequestSchema, PublishStreamRequestSchema } from "../../gen/ts/consort/v1/signal_pb.js";
import type { JsonObject, JsonValue } from "../../src/core/json.js";
import { decodePublishCanonical, decodePublishRequest, decodePublishStreamCanonical, decodePublishStreamRequest } from "../../src/service/publish-codec.js";
import { fuzzRuns } from "../fuzz-runs.js";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { clientBytes, concat, outcome } from "./wire-arbitraries.js";

/**
 * Publish's and PublishStream's hand-written request decoders against protobuf-es, the library they replace on the
 * hot path: for any bytes, exactly `fromBinary`'s result or its error. `CONSORT_FUZZ_RUNS` raises the number of
 * cases (npm test uses a quick default).
 */

const runs = fuzzRuns(300);
const anyString = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom("", "__proto__", "\ufeff", "😀", "\ud800"));
// (No "constructor" key: toStrictEqual compares `constructor` properties by identity, which two equal objects with
// that key fail.)
const wellFormed = anyString.filter((s) => s.isWellFormed());
const anyNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1, 2 ** 53, NaN, Infinity, -Infinity, 5e-324));
const json = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.constant(null), fc.boolean(), anyNumber, wellFormed, fc.array(tie("value"), { maxLength: 4 }), tie("object")),
  object: fc.dictionary(wellFormed, tie("value"), { maxKeys: 4 }) as fc.Arbitrary<JsonObject>,
}));
const publishInit = fc.record(
  {
    coordinationId: wellFormed,
    type: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    senderAgentId: wellFormed,
    recipientAgentIds: fc.array(wellFormed, { maxLength: 3 }),
    data: json.object,
    metadata: json.object,
    idempotencyKey: wellFormed,
  },
  { requiredKeys: [] },
);
const publishBytes = publishInit.map((init) => toBinary(PublishRequestSchema, create(PublishRequestSchema, init as never)));
const streamBytes = fc.option(publishInit, { nil: undefined }).map((p) => toBinary(PublishStreamRequestSchema, create(PublishStreamRequestSchema, p === undefined ? {} : { publish: p as never })));

describe("Publish's and PublishStream's request decoders agree with fromBinary on every input", () => {
  it("property: PublishRequest — same result or the same error, for valid, merged, extended, truncated, corrupted and random bytes", () => {
    fc.assert(
      fc.property(clientBytes(publishBytes, 12), (bytes) => {
        expect(outcome(decodePublishRequest, bytes)).toStrictEqual(outcome((b) => fromBinary(PublishRequestSchema, b), bytes));
      }),
      { numRuns: runs },
    );
  });

  it("property: PublishStreamRequest — the same", () => {
    fc.assert(
      fc.property(clientBytes(streamBytes, 4), (bytes) => {
        expect(outcome(decodePublishStreamRequest, bytes)).toStrictEqual(outcome((b) => fromBinary(PublishStreamRequestSchema, b), bytes));
      }),
      { numRuns: runs },
    );
  });

  it("takes the fast path for what encoders write", () => {
    fc.assert(
      fc.property(publishBytes, streamBytes, (p, s) => {
        expect(decodePublishCanonical(p)).toStrictEqual(fromBinary(PublishRequestSchema, p));
        expect(decodePublishStreamCanonical(s)).toStrictEqual(fromBinary(PublishStreamRequestSchema, s));
      }),
      { numRuns: runs },
    );
  });
});

/** A length-delimited field `no` around `body`. */
const lenField = (no: number, body: Uint8Array) => new BinaryWriter().tag(no, WireType.LengthDelimited).bytes(body).finish();
const text = (s: string) => new TextEncoder().encode(s);

/**
 * PublishStreamRequest bytes whose `data` nests messages `depth` deep (the request is depth 1, `publish` 2, `data`
 * 3), built from the inside out: each object level adds a Value and a Struct, each list level a Value and a
 * ListValue.
 */
function nestedData(depth: number, viaList: boolean): Uint8Array {
  let value = lenField(3, text("leaf")); // Value{string_value}, at depth 4
  for (let d = 4; d + 2 <= depth; d += 2) {
    const inner = viaList ? lenField(1, value) : lenField(1, concat(lenField(1, text("k")), lenField(2, value)));
    value = lenField(viaList ? 6 : 5, inner);
  }
  const data = lenField(1, concat(lenField(1, text("k")), lenField(2, value)));
  return lenField(1, concat(lenField(1, text("c")), lenField(5, data)));
}

describe("nesting at protobuf-es's recursion limit", () => {
  it("decodes or refuses exactly as fromBinary, around the limit, through objects and lists", () => {
    for (let depth = 94; depth <= 106; depth++) {
      for (const viaList of [false, true]) {
        const bytes = nestedData(depth, viaList);
        expect(outcome(decodePublishStreamRequest, bytes), `depth ${depth}${viaList ? " (lists)" : ""}`).toStrictEqual(
          outcome((b) => fromBinary(PublishStreamRequestSchema, b), bytes),
        );
      }
    }
  });
});
