import { create, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Violations } from "../../src/core/errors.js";
import { durationMs, toDuration } from "../../src/service/convert.js";
import { fuzzRuns } from "../fuzz-runs.js";

describe("durations", () => {
  it("property: a Duration up to 10 days (dependency timeouts are at most 1) read as milliseconds is written back as it came", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400 * 10 }), fc.integer({ min: 0, max: 999_999_999 }), (seconds, nanos) => {
        const d = create(DurationSchema, { seconds: BigInt(seconds), nanos });
        const back = toDuration(durationMs(new Violations(), "timeout", d) as number);
        expect(back).toEqual(d);
        expect(() => toBinary(DurationSchema, back)).not.toThrow();
      }),
      { numRuns: fuzzRuns(2000) },
    );
  });

  it("writes a timeout of 1.000000001 s as it came (durationFromMs would write a fractional nano)", () => {
    const d = create(DurationSchema, { seconds: 1n, nanos: 1 });
    expect(toDuration(durationMs(new Violations(), "timeout", d) as number)).toEqual(d);
  });
});

describe("invalid Durations", () => {
  it("refuses nanos outside 0..999,999,999 instead of reading 2e9 nanos as 2 s, and negative durations", () => {
    const fields = (d: { seconds: bigint; nanos: number }) => {
      const v = new Violations();
      const ms = durationMs(v, "heartbeat_interval", create(DurationSchema, d));
      return { ms, fields: v.list.map((x) => x.field) };
    };
    expect(fields({ seconds: 0n, nanos: 2_000_000_000 })).toEqual({ ms: undefined, fields: ["heartbeat_interval"] });
    expect(fields({ seconds: 1n, nanos: -1 })).toEqual({ ms: undefined, fields: ["heartbeat_interval"] });
    expect(fields({ seconds: -1n, nanos: 0 })).toEqual({ ms: undefined, fields: ["heartbeat_interval"] });
    expect(fields({ seconds: 2n, nanos: 999_999_999 }).ms).toBeCloseTo(2999.999999, 6);
  });
});
