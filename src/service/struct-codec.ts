import protobuf from "protobufjs/minimal.js";
import type { JsonObject, JsonValue } from "../core/json.js";

/**
 * google.protobuf.Struct straight from and to wire bytes as plain JSON, for the hot calls (Route). protobuf-es
 * decodes a Struct into messages and then converts them to JSON; going directly saves most of that work. The
 * wire primitives are protobufjs's Reader and Writer (tags are plain numbers, no array per tag); strings are read
 * by {@link readString}.
 * Field numbers: Struct{map<string, Value> fields = 1}, map entry {key = 1, value = 2}, Value{null_value = 1,
 * number_value = 2, string_value = 3, bool_value = 4, struct_value = 5, list_value = 6},
 * ListValue{repeated Value values = 1}.
 */

/** protobufjs's wire reader. */
export type WireReader = protobuf.Reader;
/** protobufjs's wire writer. */
export type WireWriter = protobuf.Writer;

/** A reader over `bytes`, viewed as a Buffer (protobufjs then picks its Buffer reader; {@link readString} needs it). */
export const wireReader = (bytes: Uint8Array): WireReader =>
  protobuf.Reader.create(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
/** A new writer (protobufjs's Buffer writer on Node: `finish()` returns a Buffer). */
export const wireWriter = (): WireWriter => protobuf.Writer.create();

/** Wire type of varints (int32, bool, enum). */
export const WIRE_VARINT = 0;
/** Wire type of 64-bit fixed values (double). */
export const WIRE_BIT64 = 1;
/** Wire type of length-delimited values (string, bytes, messages). */
export const WIRE_LEN = 2;

/** The tag varint of field `no` with wire type `wt` (the readers below compare tags as literals: 10 is field 1, length-delimited). */
export const tagOf = (no: number, wt: number): number => ((no << 3) | wt) >>> 0;

// Short ASCII strings recur in every request of a workload (keys, statuses, task names): they come from a
// bounded cache of recent strings (1,024 slots of at most 32 characters), matched by their bytes, instead of a
// new string each time. Property stores with a cached key also skip re-interning it.
const cacheSlots = 1024;
const cachedMaxBytes = 32;
const cache: (string | undefined)[] = new Array<string | undefined>(cacheSlots).fill(undefined);

/** Reads a length-delimited UTF-8 string (throws RangeError past the end, as the other reads do). */
export function readString(r: WireReader): string {
  const len = r.uint32();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) throw new RangeError(`index out of range: ${start} + ${len} > ${r.len}`);
  const buf = r.buf as Buffer;
  r.pos = end;
  if (len > cachedMaxBytes) return buf.toString("utf8", start, end);
  let h = len;
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b >= 0x80) return buf.toString("utf8", start, end);
    h = Math.imul(h ^ b, 0x01000193);
  }
  const slot = (h >>> 0) & (cacheSlots - 1);
  const cached = cache[slot];
  if (cached !== undefined && cached.length === len) {
    let same = true;
    for (let i = 0; i < len; i++) {
      if (cached.charCodeAt(i) !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const s = buf.toString("latin1", start, end); // ASCII: latin1 decodes it as UTF-8 would
  cache[slot] = s;
  return s;
}

/**
 * The Struct between the reader's position and `end`. One reader walks the whole tree (nested messages are
 * bounded by their end offsets).
 */
export function structAt(r: WireReader, end: number): JsonObject {
  const out: JsonObject = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag !== 10) {
      r.skipType(tag & 7);
      continue;
    }
    const entryEnd = r.uint32() + r.pos;
    let key = "";
    let value: JsonValue = null;
    while (r.pos < entryEnd) {
      const etag = r.uint32();
      if (etag === 10) key = readString(r);
      else if (etag === 18) value = valueAt(r, r.uint32() + r.pos);
      else r.skipType(etag & 7);
    }
    // "__proto__" is an ordinary key in JSON; assigning it would set the object's prototype instead.
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

/** The Value between the reader's position and `end`; a Value with no kind set is null. */
function valueAt(r: WireReader, end: number): JsonValue {
  let value: JsonValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 8: // null_value
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
        value = structAt(r, r.uint32() + r.pos);
        break;
      case 50: { // list_value
        const listEnd = r.uint32() + r.pos;
        const items: JsonValue[] = [];
        while (r.pos < listEnd) {
          const ltag = r.uint32();
          if (ltag === 10) items.push(valueAt(r, r.uint32() + r.pos));
          else r.skipType(ltag & 7);
        }
        value = items;
        break;
      }
      default:
        r.skipType(tag & 7);
    }
  }
  return value;
}

/** Writes a JSON object as the bytes of a Struct into `w` (the caller frames it). */
export function writeStruct(w: WireWriter, obj: JsonObject): WireWriter {
  for (const key in obj) {
    w.uint32(tagOf(1, WIRE_LEN)).fork();
    w.uint32(tagOf(1, WIRE_LEN)).string(key);
    w.uint32(tagOf(2, WIRE_LEN)).fork();
    writeValue(w, obj[key] as JsonValue);
    w.ldelim();
    w.ldelim();
  }
  return w;
}

function writeValue(w: WireWriter, v: JsonValue): void {
  if (v === null) w.uint32(tagOf(1, WIRE_VARINT)).int32(0);
  else if (typeof v === "number") w.uint32(tagOf(2, WIRE_BIT64)).double(v);
  else if (typeof v === "string") w.uint32(tagOf(3, WIRE_LEN)).string(v);
  else if (typeof v === "boolean") w.uint32(tagOf(4, WIRE_VARINT)).bool(v);
  else if (Array.isArray(v)) {
    w.uint32(tagOf(6, WIRE_LEN)).fork();
    for (const item of v) {
      w.uint32(tagOf(1, WIRE_LEN)).fork();
      writeValue(w, item);
      w.ldelim();
    }
    w.ldelim();
  } else {
    w.uint32(tagOf(5, WIRE_LEN)).fork();
    writeStruct(w, v);
    w.ldelim();
  }
}
