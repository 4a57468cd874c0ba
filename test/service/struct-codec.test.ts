import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { NotCanonical, readString, WireReader } from "../../src/service/struct-codec.js";

const encoded = (strings: readonly string[]) => {
  const w = new BinaryWriter();
  for (const s of strings) w.string(s);
  return w.finish();
};
const readAll = (bytes: Uint8Array, n: number) => {
  const r = new WireReader(bytes);
  return Array.from({ length: n }, () => readString(r));
};

describe("readString", () => {
  it("reads every string right through its cache, with colliding slots and repeats", () => {
    // 5,000 distinct short ASCII strings, read twice: far more than the cache's slots, so slots are shared.
    const strings = Array.from({ length: 5000 }, (_, i) => `k${i.toString(36)}_${"x".repeat(i % 20)}`);
    const bytes = encoded([...strings, ...strings.slice().reverse()]);
    expect(readAll(bytes, strings.length * 2)).toEqual([...strings, ...strings.slice().reverse()]);
  });

  it("reads non-ASCII, long, empty and Buffer-backed strings, and keeps a leading U+FEFF", () => {
    const strings = ["générateur ✓", "😀", "a".repeat(33), "b".repeat(32), "", "\u0000\u007f", "\ufeffbom"];
    const bytes = encoded(strings);
    expect(readAll(bytes, strings.length)).toEqual(strings);
    expect(readAll(Buffer.from(bytes), strings.length)).toEqual(strings);
  });

  it("rejects invalid UTF-8, as fromBinary does", () => {
    expect(() => readString(new WireReader(new Uint8Array([2, 0xc3, 0x28])))).toThrow(TypeError);
    expect(() => readString(new WireReader(new Uint8Array([3, 0xed, 0xa0, 0x80])))).toThrow(TypeError); // a UTF-8 surrogate
  });

  it("throws past the end instead of truncating", () => {
    const bytes = encoded(["hello"]).subarray(0, 4);
    expect(() => readString(new WireReader(bytes))).toThrow(NotCanonical);
  });
});
