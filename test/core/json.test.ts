import { describe, expect, it } from "vitest";
import { jsonByteSize, type JsonValue } from "../../src/core/json.js";

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Characters from every class the size walk treats differently.
const alphabet = ["a", "Z", "0", " ", '"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\u0000", "\u001f", "\u007f", "é", "߿", "ࠀ", "✓", "\u2028", "\uffff", "😀", "\ud800", "\udc00"];
const numbers = [0, -0, 1, -1, 7, 10, 99, 100, -12345, 0.5, -0.125, 1e-7, 123456789012345, 999999999999999, 1e15, 1e16, 2 ** 53, 1e21, 1.5e300, -1e-300, NaN, Infinity, -Infinity, 0.87, 1234.5];

function value(next: () => number, depth: number): JsonValue {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T;
  const str = () => Array.from({ length: Math.floor(next() * 8) }, () => pick(alphabet)).join("");
  switch (Math.floor(next() * (depth > 3 ? 4 : 6))) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return pick(numbers);
    case 3:
      return str();
    case 4:
      return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    default: {
      const o: { [k: string]: JsonValue } = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) o[str()] = value(next, depth + 1);
      return o;
    }
  }
}

describe("jsonByteSize", () => {
  it("is exactly the UTF-8 length of JSON.stringify for 5,000 generated values", () => {
    const next = random(20261125);
    for (let i = 0; i < 5000; i++) {
      const v = value(next, 0);
      expect(jsonByteSize(v), JSON.stringify(v)).toBe(Buffer.byteLength(JSON.stringify(v), "utf8"));
    }
  });

  it("counts every number form and the empty containers", () => {
    for (const v of [...numbers, [], {}, "", [[]], { a: {} }]) expect(jsonByteSize(v as JsonValue), String(v)).toBe(Buffer.byteLength(JSON.stringify(v), "utf8"));
    expect(jsonByteSize(undefined)).toBe(0);
  });
});
