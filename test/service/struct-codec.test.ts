import { describe, expect, it } from "vitest";
import { readString, wireReader, wireWriter } from "../../src/service/struct-codec.js";

const encoded = (strings: readonly string[]) => {
  const w = wireWriter();
  for (const s of strings) w.string(s);
  return w.finish();
};
const readAll = (bytes: Uint8Array, n: number) => {
  const r = wireReader(bytes);
  return Array.from({ length: n }, () => readString(r));
};

describe("readString", () => {
  it("reads every string right through its cache, with colliding slots and repeats", () => {
    // 5,000 distinct short ASCII strings, read twice: far more than the cache's slots, so slots are shared.
    const strings = Array.from({ length: 5000 }, (_, i) => `k${i.toString(36)}_${"x".repeat(i % 20)}`);
    const bytes = encoded([...strings, ...strings.slice().reverse()]);
    expect(readAll(bytes, strings.length * 2)).toEqual([...strings, ...strings.slice().reverse()]);
  });

  it("reads non-ASCII, long, empty and Uint8Array-backed strings", () => {
    const strings = ["générateur ✓", "😀", "a".repeat(33), "b".repeat(32), "", "\u0000\u007f"];
    const bytes = encoded(strings);
    expect(readAll(bytes, strings.length)).toEqual(strings);
    expect(readAll(new Uint8Array(bytes), strings.length)).toEqual(strings);
  });

  it("throws past the end instead of truncating", () => {
    const bytes = encoded(["hello"]).subarray(0, 4);
    expect(() => readString(wireReader(bytes))).toThrow(RangeError);
  });
});
