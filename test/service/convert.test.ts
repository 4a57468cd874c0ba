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
