import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { coordinationOfToken, coordinationToken, isSubjectPrefix, signalSubject } from "../../../src/backend/nats/subject.js";
import { fuzzRuns } from "../../fuzz-runs.js";

/**
 * The escape of coordination ids into subject tokens: valid, injective, reversible. No server needed (the tests
 * against nats-server are in test/nats).
 */

const runs = fuzzRuns(500);
// Any well-formed id of 1 to 100 UTF-16 units, with the characters subjects forbid well represented.
const id = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 100 }),
    fc.string({ unit: "binary", minLength: 1, maxLength: 100 }),
    fc.string({ unit: fc.constantFrom(".", "*", ">", " ", "\t", "\n", "\r", "\0", "/", "=", "+", "é", "😀", "\ufffd"), minLength: 1, maxLength: 100 }),
  )
  .filter((s) => s.isWellFormed());

describe("coordination subject tokens", () => {
  it("are one valid token of [A-Za-z0-9_-]", () => {
    fc.assert(
      fc.property(id, (s) => {
        expect(coordinationToken(s)).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(coordinationToken(s).length).toBeLessThanOrEqual(400);
      }),
      { numRuns: runs },
    );
  });

  it("round-trip", () => {
    fc.assert(
      fc.property(id, (s) => {
        expect(coordinationOfToken(coordinationToken(s))).toBe(s);
      }),
      { numRuns: runs },
    );
  });

  it("are injective: two ids never share a token", () => {
    fc.assert(
      fc.property(id, id, (a, b) => {
        fc.pre(a !== b);
        expect(coordinationToken(a)).not.toBe(coordinationToken(b));
      }),
      { numRuns: runs },
    );
    // Ids that differ only where a lenient escape would merge them.
    const near = ["a.b", "a_b", "a-b", "a b", "a*b", "a>b", "\ufffd", "é", "e\u0301"];
    expect(new Set(near.map(coordinationToken)).size).toBe(near.length);
  });

  it("refuse the empty id and lone surrogates, which no escape could keep apart", () => {
    expect(() => coordinationToken("")).toThrow(RangeError);
    expect(() => coordinationToken("a\ud800")).toThrow(RangeError);
    expect(() => coordinationToken("\udc00")).toThrow(RangeError);
  });

  it("decode only canonical tokens", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."ABCxyz019_-=.+/ "), maxLength: 12 }), (t) => {
        const s = coordinationOfToken(t);
        if (s !== undefined) expect(coordinationToken(s)).toBe(t);
      }),
      { numRuns: runs },
    );
    expect(coordinationOfToken("")).toBeUndefined();
    expect(coordinationOfToken("YQ==")).toBeUndefined(); // padded
    expect(coordinationOfToken("YR")).toBeUndefined(); // "a" with stray trailing bits
    expect(coordinationOfToken("_w")).toBeUndefined(); // 0xff: not UTF-8
    expect(coordinationOfToken("YQ")).toBe("a");
  });

  it("make subjects under a prefix", () => {
    expect(signalSubject("consort.sig", "review/42")).toBe("consort.sig.cmV2aWV3LzQy");
    expect(isSubjectPrefix("consort.sig")).toBe(true);
    for (const bad of ["", "consort.", ".sig", "consort.*", "consort.>", "a b"]) expect(isSubjectPrefix(bad)).toBe(false);
  });
});
