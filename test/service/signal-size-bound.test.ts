import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SignalSchema, SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { jsonByteSize, type JsonObject, type JsonValue } from "../../src/core/json.js";
import { signalBytesBound } from "../../src/service/signal-size-bound.js";
import { structSize } from "../../src/service/struct-codec.js";
import { fuzzRuns } from "../fuzz-runs.js";

/** Strings that expand most: control characters (6 bytes each in JSON), 3-byte characters, quotes. */
const adversarial = fc.string({ unit: fc.constantFrom("\u0001", "\u001f", "\u0800", "\uffff", '"', "\\", "a", "😀"), maxLength: 12 });
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const json = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: "small" }, fc.constant(null), fc.boolean(), finite, adversarial, fc.array(tie("value"), { maxLength: 4 }), tie("object")),
  object: fc.dictionary(adversarial, tie("value"), { maxKeys: 4 }) as fc.Arbitrary<JsonObject>,
}));

describe("the largest signal the limits allow", () => {
  it("property: a Struct's JSON is at most 6 times its protobuf size, plus its braces", () => {
    fc.assert(
      fc.property(json.object, (obj) => {
        expect(jsonByteSize(obj)).toBeLessThanOrEqual(6 * structSize(obj) + 2);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });

  it("property: no signal within the limits encodes larger than the bound, in binary or JSON", () => {
    const limits = { maxIdLength: 12, maxRecipients: 3, maxPayloadBytes: 600 };
    const bound = signalBytesBound(limits);
    fc.assert(
      fc.property(
        fc.record({
          coordinationId: adversarial,
          senderAgentId: adversarial,
          idempotencyKey: adversarial,
          recipientAgentIds: fc.array(adversarial, { maxLength: limits.maxRecipients }),
          data: json.object,
          metadata: json.object,
          sequence: fc.bigInt({ min: 1n, max: 2n ** 53n }),
          seconds: fc.bigInt({ min: 0n, max: 253_402_300_799n }),
        }),
        (s) => {
          fc.pre(structSize(s.data) + structSize(s.metadata) <= limits.maxPayloadBytes);
          const msg = create(SignalSchema, {
            signalId: "5d0c1f6e-2b7a-4e4c-9d51-0a3f2c9e8b11",
            coordinationId: s.coordinationId,
            sequence: s.sequence,
            type: SignalType.ERROR_RECOVERY_COMPLETED,
            senderAgentId: s.senderAgentId,
            recipientAgentIds: s.recipientAgentIds,
            createdAt: { seconds: s.seconds, nanos: 999_999_999 },
            data: s.data,
            metadata: s.metadata,
            idempotencyKey: s.idempotencyKey,
          });
          expect(toBinary(SignalSchema, msg).byteLength).toBeLessThanOrEqual(bound.binary);
          expect(Buffer.byteLength(toJsonString(SignalSchema, msg))).toBeLessThanOrEqual(bound.json);
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });
});
