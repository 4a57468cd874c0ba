import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";

/**
 * What the differential tests of the hand-written decoders feed them: a request's valid encodings and what a
 * client could send instead, and how an outcome is recorded.
 */

/** A field of any number and wire type, with a plausible value: what an unknown or misplaced field looks like. */
export const rawField = (maxField: number) =>
  fc
    .record({ no: fc.integer({ min: 1, max: maxField }), wt: fc.constantFrom(WireType.Varint, WireType.Bit64, WireType.LengthDelimited, WireType.Bit32), bytes: fc.uint8Array({ maxLength: 8 }), n: fc.nat() })
    .map(({ no, wt, bytes, n }) => {
      const w = new BinaryWriter().tag(no, wt);
      if (wt === WireType.Varint) w.uint32(n);
      else if (wt === WireType.Bit64) w.double(n);
      else if (wt === WireType.Bit32) w.fixed32(n);
      else w.bytes(bytes);
      return w.finish();
    });

/** The bytes of `parts`, one after the other. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * Bytes a client could send, from valid encodings of a request: the encodings, concatenations (every field
 * repeated: scalars replaced, messages merged), unknown fields and wrong wire types appended, truncations, one
 * byte changed (invalid UTF-8, broken lengths, other tags), and noise.
 */
export function clientBytes(request: fc.Arbitrary<Uint8Array>, maxField: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    request,
    fc.tuple(request, request).map(([a, b]) => concat(a, b)),
    fc.tuple(request, fc.array(rawField(maxField), { maxLength: 3 })).map(([a, fs]) => concat(a, ...fs)),
    fc.tuple(request, fc.nat()).map(([a, n]) => a.subarray(0, a.length === 0 ? 0 : n % a.length)),
    fc.tuple(request, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([a, i, b]) => {
      const c = a.slice();
      if (c.length > 0) c[i % c.length] = b;
      return c;
    }),
    fc.uint8Array({ maxLength: 64 }),
  );
}

/** What a decoder made of some bytes: its result, or the message of what it threw. */
export function outcome(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): { value: unknown } | { error: string } {
  try {
    return { value: decode(bytes) };
  } catch (e) {
    return { error: String((e as Error).message) };
  }
}
