import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SignalSchema, SubscribeResponseSchema } from "../../gen/ts/consort/v1/signal_pb.js";
import { encodeRepeatedMessages } from "../../src/binding/pre-encoded.js";

describe("pre-encoded Subscribe responses", () => {
  it("frame signals exactly as protobuf encodes SubscribeResponse.signals", () => {
    const signals = [1, 2, 300].map((n) =>
      create(SignalSchema, { sequence: BigInt(n), coordinationId: "c", data: { blob: "x".repeat(n) } }),
    );
    const framed = encodeRepeatedMessages(1, signals.map((s) => toBinary(SignalSchema, s)));
    expect(framed).toEqual(toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { signals })));
    expect(fromBinary(SubscribeResponseSchema, framed).signals.map((s) => s.sequence)).toEqual([1n, 2n, 300n]);
  });
});
