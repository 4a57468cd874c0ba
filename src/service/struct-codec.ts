import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { JsonObject, JsonValue } from "../core/json.js";
import { varintSize } from "../binding/pre-encoded.js";

/**
 * google.protobuf.Struct straight from and to wire bytes as plain JSON, for the hot calls (Route), on protobuf-es's
 * own wire primitives. protobuf-es decodes a Struct into messages and then converts them to JSON; going directly
 * saves most of that work.
 *
 * The decoder reads the canonical form only — every message exactly as protobuf encoders write it — and throws
 * {@link NotCanonical} on anything else (an unknown or repeated field, a field out of its usual order, a wrong wire
 * type, a length that ends inside a value, nesting past protobuf-es's recursion limit). Its caller then decodes the
 * whole request with `fromBinary`, whose result or error is the answer: the fast path never decides an unusual
 * input. Strings are strict UTF-8, as `fromBinary` reads them. Pinned by test/service/route-codec.test.ts.
 *
 * Field numbers: Struct{map<string, Value> fields = 1}, map entry {key = 1, value = 2}, Value{null_value = 1,
 * number_value = 2, string_value = 3, bool_value = 4, struct_value = 5, list_value = 6},
 * ListValue{repeated Value values = 1}.
 */

/** protobuf-es's reader, with the bytes it reads in view (tags and short strings are read from them directly). */
export class WireReader extends BinaryReader {
  readonly data: Uint8Array;
  constructor(bytes: Uint8Array) {
    super(bytes);
    this.data = bytes;
  }
}

/** The input is not in the canonical form this decoder reads: decode it with `fromBinary` instead. */
export class NotCanonical extends Error {
  override readonly name = "NotCanonical";
}

/** protobuf-es's `fromBinary` recursion limit: a message nested deeper fails to decode. */
export const recursionLimit = 100;

const notCanonical = (what: string): never => {
  throw new NotCanonical(what);
};

/** The tag varint of field `no` with wire type `wt`. */
export const tagOf = (no: number, wt: WireType): number => ((no << 3) | wt) >>> 0;

/**
 * Reads a tag: a one-byte varint (field numbers 1–15, as every message here has), or {@link NotCanonical}.
 * `fromBinary` also accepts a tag spread over up to 5 bytes; such input goes to it.
 */
export function readTag(r: WireReader): number {
  const b = r.data[r.pos];
  if (b === undefined || b >= 0x80) return notCanonical("tag");
  r.pos++;
  return b;
}

/** Reads a length prefix and returns where the value ends; {@link NotCanonical} past the end of the buffer. */
export function readEnd(r: WireReader): number {
  const end = r.uint32() + r.pos;
  if (end > r.len) notCanonical("length past the end");
  return end;
}

// `fromBinary` decodes strings with a fatal TextDecoder that keeps a leading U+FEFF: the same here.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// Short ASCII strings recur in every request of a workload (keys, statuses, task names): they come from a
// bounded cache of recent strings (1,024 slots of at most 32 characters), matched by their bytes, instead of a
// new string each time. Property stores with a cached key also skip re-interning it.
const cacheSlots = 1024;
const cachedMaxBytes = 32;
const cache: (string | undefined)[] = new Array<string | undefined>(cacheSlots).fill(undefined);

/** Reads a length-delimited string as `fromBinary` does (strict UTF-8; invalid UTF-8 throws). */
export function readString(r: WireReader): string {
  const end = readEnd(r);
  const from = r.pos;
  const buf = r.data;
  r.pos = end;
  const len = end - from;
  if (len > cachedMaxBytes) return utf8.decode(buf.subarray(from, end));
  let h = len;
  for (let i = from; i < end; i++) {
    const b = buf[i] as number;
    if (b >= 0x80) return utf8.decode(buf.subarray(from, end));
    h = Math.imul(h ^ b, 0x01000193);
  }
  const slot = (h >>> 0) & (cacheSlots - 1);
  const cached = cache[slot];
  if (cached !== undefined && cached.length === len) {
    let same = true;
    for (let i = 0; i < len; i++) {
      if (cached.charCodeAt(i) !== buf[from + i]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const s = String.fromCharCode.apply(null, buf.subarray(from, end) as unknown as number[]);
  cache[slot] = s;
  return s;
}

/** The Struct between the reader's position and `end`, at message depth `depth` (the request is depth 1). */
export function structAt(r: WireReader, end: number, depth: number): JsonObject {
  if (depth > recursionLimit) notCanonical("depth");
  const out: JsonObject = {};
  while (r.pos < end) {
    if (readTag(r) !== 10) notCanonical("struct field");
    const entryEnd = readEnd(r);
    if (readTag(r) !== 10) notCanonical("map entry key");
    const key = readString(r);
    if (readTag(r) !== 18) notCanonical("map entry value");
    const value = valueAt(r, readEnd(r), depth + 1);
    if (r.pos !== entryEnd) notCanonical("map entry end");
    // A repeated key replaces the earlier value (map semantics). "__proto__" is an ordinary key in JSON:
    // assigning it would set the object's prototype instead.
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  if (r.pos !== end) notCanonical("struct end");
  return out;
}

/** The Value between the reader's position and `end`, at message depth `depth`: exactly one kind set. */
function valueAt(r: WireReader, end: number, depth: number): JsonValue {
  if (depth > recursionLimit) notCanonical("depth");
  let value: JsonValue;
  switch (readTag(r)) {
    case 8: // null_value (any enum number reads as null)
      r.int32();
      value = null;
      break;
    case 17: // number_value
      value = r.double();
      break;
    case 26: // string_value
      value = readString(r);
      break;
    case 32: // bool_value
      value = r.bool();
      break;
    case 42: // struct_value
      value = structAt(r, readEnd(r), depth + 1);
      break;
    case 50: { // list_value
      const listEnd = readEnd(r);
      if (depth + 1 > recursionLimit) notCanonical("depth");
      const items: JsonValue[] = [];
      while (r.pos < listEnd) {
        if (readTag(r) !== 10) notCanonical("list field");
        items.push(valueAt(r, readEnd(r), depth + 2));
      }
      if (r.pos !== listEnd) notCanonical("list end");
      value = items;
      break;
    }
    default:
      return notCanonical("value kind");
  }
  if (r.pos !== end) notCanonical("value end");
  return value;
}

/** Writes a JSON object as the fields of a Struct into `w` (the caller frames it), as `toBinary` does. */
export function writeStruct(w: BinaryWriter, obj: JsonObject): BinaryWriter {
  for (const key of Object.keys(obj)) {
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(key);
    w.tag(2, WireType.LengthDelimited).fork();
    writeValue(w, obj[key] as JsonValue);
    w.join();
    w.join();
  }
  return w;
}

function writeValue(w: BinaryWriter, v: JsonValue): void {
  if (v === null) w.tag(1, WireType.Varint).int32(0);
  else if (typeof v === "number") w.tag(2, WireType.Bit64).double(v);
  else if (typeof v === "string") w.tag(3, WireType.LengthDelimited).string(v);
  else if (typeof v === "boolean") w.tag(4, WireType.Varint).bool(v);
  else if (Array.isArray(v)) {
    w.tag(6, WireType.LengthDelimited).fork();
    for (const item of v) {
      w.tag(1, WireType.LengthDelimited).fork();
      writeValue(w, item);
      w.join();
    }
    w.join();
  } else {
    w.tag(5, WireType.LengthDelimited).fork();
    writeStruct(w, v);
    w.join();
  }
}

/** UTF-8 bytes of `s` as protobuf writes it (a lone surrogate as the 3-byte U+FFFD); short ASCII counted in JS. */
export function utf8Length(s: string): number {
  if (s.length > 64) return Buffer.byteLength(s);
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return s.length;
}

/** Bytes of a length-delimited field (1-byte tag) holding `n` bytes. */
const framed = (n: number) => 1 + varintSize(n) + n;

function valueSize(v: JsonValue): number {
  if (v === null) return 2;
  switch (typeof v) {
    case "number":
      return 9;
    case "string":
      return framed(utf8Length(v));
    case "boolean":
      return 2;
  }
  if (Array.isArray(v)) {
    let n = 0;
    for (const item of v) n += framed(valueSize(item));
    return framed(n);
  }
  return framed(structSize(v));
}

/**
 * The bytes of `obj` encoded as a Struct, exactly `toBinary(StructSchema, …).byteLength`, counted without encoding:
 * how a signal's payload is measured against its limit.
 */
export function structSize(obj: JsonObject): number {
  let n = 0;
  for (const key of Object.keys(obj)) n += framed(framed(utf8Length(key)) + framed(valueSize(obj[key] as JsonValue)));
  return n;
}
