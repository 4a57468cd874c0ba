import { describe, expect, it } from "vitest";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { encodeReused } from "../../src/service/reused-writer.js";

const writeString = (w: BinaryWriter, s: string) => void w.tag(1, WireType.LengthDelimited).string(s);
const expected = (s: string) => new BinaryWriter().tag(1, WireType.LengthDelimited).string(s).finish();

describe("encodeReused", () => {
  it("gives what a fresh writer gives, call after call, each result its own copy", () => {
    const a = encodeReused(writeString, "x".repeat(300));
    const b = encodeReused(writeString, "short");
    expect(a).toEqual(expected("x".repeat(300)));
    expect(b).toEqual(expected("short"));
    expect(a.buffer).not.toBe(b.buffer);
  });

  it("leaves nothing behind from a write that throws", () => {
    expect(() =>
      encodeReused((w: BinaryWriter) => {
        w.tag(2, WireType.LengthDelimited).fork().string("half");
        throw new Error("boom");
      }, undefined),
    ).toThrow("boom");
    expect(encodeReused(writeString, "after")).toEqual(expected("after"));
  });

  it("gives a call made inside a write its own writer", () => {
    const outer = encodeReused((w: BinaryWriter, s: string) => {
      w.tag(1, WireType.LengthDelimited).string(s);
      const inner = encodeReused(writeString, "inner");
      w.tag(2, WireType.LengthDelimited).bytes(inner);
    }, "outer");
    expect(outer).toEqual(
      new BinaryWriter().tag(1, WireType.LengthDelimited).string("outer").tag(2, WireType.LengthDelimited).bytes(expected("inner")).finish(),
    );
  });

  it("encodes correctly after an output larger than the kept buffer", () => {
    const big = "y".repeat(100_000);
    expect(encodeReused(writeString, big)).toEqual(expected(big));
    expect(encodeReused(writeString, "small")).toEqual(expected("small"));
  });
});
