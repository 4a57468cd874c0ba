import { describe, expect, it } from "vitest";
import { Violations } from "../../src/core/errors.js";
import { checkJson, jsonByteSize, type JsonValue } from "../../src/core/json.js";
import { seededRandom } from "./seeded-delays.js";

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
    const next = seededRandom(20261125);
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

describe("checkJson: what every client can read back", () => {
  const nest = (levels: number, leaf: JsonValue = 1): JsonValue => {
    let v: JsonValue = leaf;
    for (let i = 0; i < levels; i++) v = i % 2 === 0 ? { k: v } : [v];
    return v;
  };
  const fieldsOf = (value: JsonValue | undefined, maxDepth = 32) => {
    const v = new Violations();
    checkJson(v, "data", value, maxDepth);
    return v.list.map((x) => x.field);
  };

  it("accepts nesting up to the limit and refuses one level more, naming the field once", () => {
    expect(fieldsOf(nest(32))).toEqual([]);
    expect(fieldsOf(nest(33))).toEqual(["data"]);
    expect(fieldsOf({ a: nest(31), b: [1, 2] })).toEqual([]);
    expect(fieldsOf({ a: nest(32) })).toEqual(["data"]);
  });

  it("walks any depth in bounded stack (a 200,000-level value is refused, not a stack overflow)", () => {
    expect(fieldsOf(nest(200_000))).toEqual(["data"]);
    expect(fieldsOf(nest(200_000, Number.NaN))).toEqual(["data"]);
  });

  it("names each non-finite number by its path, within the depth limit", () => {
    expect(fieldsOf({ a: [1, Number.NaN], b: { c: Infinity } })).toEqual(['data["a"][1]', 'data["b"]["c"]']);
    expect(fieldsOf(nest(5, -Infinity))).toEqual(['data["k"][0]["k"][0]["k"]']);
  });

  it("agrees with a plain recursive definition on random values", () => {
    const depthOf = (x: JsonValue): number => (x !== null && typeof x === "object" ? 1 + Math.max(0, ...(Array.isArray(x) ? x : Object.values(x)).map(depthOf)) : 0);
    const finite = (x: JsonValue): boolean =>
      typeof x === "number" ? Number.isFinite(x) : x !== null && typeof x === "object" ? (Array.isArray(x) ? x : Object.values(x)).every(finite) : true;
    const next = seededRandom(7);
    for (let i = 0; i < 2000; i++) {
      const x = value(next, 0);
      const max = 1 + Math.floor(next() * 4);
      expect(fieldsOf(x, max).length === 0, JSON.stringify(x)).toBe(depthOf(x) <= max && finite(x));
    }
  });
});
