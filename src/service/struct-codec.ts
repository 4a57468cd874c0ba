import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { JsonObject, JsonValue } from "../core/json.js";

/**
 * google.protobuf.Struct straight from and to wire bytes as plain JSON, for the hot calls (Route). protobuf-es
 * decodes a Struct into messages and then converts them to JSON; going directly saves most of that work.
 * Field numbers: Struct{map<string, Value> fields = 1}, map entry {key = 1, value = 2}, Value{null_value = 1,
 * number_value = 2, string_value = 3, bool_value = 4, struct_value = 5, list_value = 6},
 * ListValue{repeated Value values = 1}.
 */

/**
 * The Struct between the reader's position and `end`. One reader walks the whole tree (nested messages are
 * bounded by their end offsets): a reader per nested message would allocate a DataView each.
 */
export function structAt(r: BinaryReader, end: number): JsonObject {
  const out: JsonObject = {};
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no !== 1 || wt !== WireType.LengthDelimited) {
      r.skip(wt, no);
      continue;
    }
    const entryEnd = r.uint32() + r.pos;
    let key = "";
    let value: JsonValue = null;
    while (r.pos < entryEnd) {
      const [eno, ewt] = r.tag();
      if (eno === 1 && ewt === WireType.LengthDelimited) key = r.string();
      else if (eno === 2 && ewt === WireType.LengthDelimited) value = valueAt(r, r.uint32() + r.pos);
      else r.skip(ewt, eno);
    }
    out[key] = value;
  }
  return out;
}

/** The Value between the reader's position and `end`; a Value with no kind set is null. */
function valueAt(r: BinaryReader, end: number): JsonValue {
  let value: JsonValue = null;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1:
        r.int32();
        value = null;
        break;
      case 2:
        value = r.double();
        break;
      case 3:
        value = r.string();
        break;
      case 4:
        value = r.bool();
        break;
      case 5:
        value = structAt(r, r.uint32() + r.pos);
        break;
      case 6: {
        const listEnd = r.uint32() + r.pos;
        const items: JsonValue[] = [];
        while (r.pos < listEnd) {
          const [lno, lwt] = r.tag();
          if (lno === 1 && lwt === WireType.LengthDelimited) items.push(valueAt(r, r.uint32() + r.pos));
          else r.skip(lwt, lno);
        }
        value = items;
        break;
      }
      default:
        r.skip(wt, no);
    }
  }
  return value;
}

/** Writes a JSON object as the bytes of a Struct into `w` (the caller frames it). */
export function writeStruct(w: BinaryWriter, obj: JsonObject): BinaryWriter {
  for (const key in obj) {
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
