import { toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { PublishStreamResponseSchema, SignalSchema } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import type { JsonObject, JsonValue } from "../../src/core/json.js";
import { signalTypes, type SignalRecord } from "../../src/core/signals/types.js";
import { encodePublishStreamResponse, encodeSignal, type OutcomeFields } from "../../src/service/signal-codec.js";
import { toSignalMessage } from "../../src/service/signal-service.js";
import { fuzzRuns } from "../fuzz-runs.js";

/**
 * The Signal encoder against protobuf-es, the library it replaces on the fan-out path: for any record, exactly
 * `toBinary`'s bytes. `CONSORT_FUZZ_RUNS` raises the number of cases (npm test uses a quick default).
 */

const runs = fuzzRuns(300);
/** Any string: ASCII, multi-byte, astral and lone surrogates (written as U+FFFD by both). */
const anyString = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom("", "__proto__", "\ufeff", "\ud800", "a\udc00b", "😀"));
const anyNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1, 2 ** 53, NaN, Infinity, -Infinity, 5e-324));
const json = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.constant(null), fc.boolean(), anyNumber, anyString, fc.array(tie("value"), { maxLength: 4 }), tie("object")),
  object: fc.dictionary(anyString, tie("value"), { maxKeys: 4 }) as fc.Arbitrary<JsonObject>,
}));
const record: fc.Arbitrary<SignalRecord> = fc.record({
  signalId: anyString,
  coordinationId: anyString,
  sequence: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 31 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  type: fc.constantFrom(...signalTypes),
  senderAgentId: anyString,
  recipientAgentIds: fc.array(anyString, { maxLength: 3 }),
  // Whole milliseconds, as the engine's clock (Date.now) gives them; before 1970 too.
  createdAt: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: -100_000_000, max: 0 }), fc.constantFrom(0, 999, 1000, 1001, -1, -999, -1000, -1001)),
  data: json.object,
  metadata: json.object,
  idempotencyKey: anyString,
  epoch: anyString,
});

describe("the Signal encoder writes exactly what toBinary writes", () => {
  it("property: byte for byte, for any record", () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(Buffer.from(encodeSignal(r))).toEqual(Buffer.from(toBinary(SignalSchema, toSignalMessage(r))));
      }),
      { numRuns: runs },
    );
  });
});

const status = fc
  .record({ code: fc.integer({ min: 0, max: 16 }), message: anyString, reason: anyString })
  .map(({ code, message, reason }) => create(StatusSchema, { code, message, details: reason === "" ? [] : [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason }))] }));
const outcome = fc.oneof(
  fc.record({ signalId: anyString, sequence: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), epoch: anyString, duplicate: fc.boolean() }).map((ack) => ({ ack, st: undefined })),
  status.map((st) => ({ ack: undefined, st })),
);

describe("the PublishStream response encoder writes exactly what toBinary writes", () => {
  it("property: byte for byte, for any acks and refusals", () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 5 }), (list) => {
        const fields: OutcomeFields[] = list.map((o) => (o.ack !== undefined ? { ack: o.ack } : { errorBytes: toBinary(StatusSchema, o.st!) }));
        const message = create(PublishStreamResponseSchema, {
          outcomes: list.map((o) =>
            o.ack !== undefined ? { outcome: { case: "ack" as const, value: { ...o.ack, sequence: BigInt(o.ack.sequence) } } } : { outcome: { case: "error" as const, value: o.st! } },
          ),
        });
        expect(Buffer.from(encodePublishStreamResponse(fields))).toEqual(Buffer.from(toBinary(PublishStreamResponseSchema, message)));
      }),
      { numRuns: runs },
    );
  });
});
