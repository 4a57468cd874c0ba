import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { JsonObject, JsonValue } from "../core/json.js";

/**
 * google.protobuf.Struct straight from and to wire bytes as plain JSON, for the hot calls (Route). protobuf-es
 * decodes a Struct into messages and then converts them to JSON; going directly saves most of that work.
 * Field numbers: Struct{map<string, Value> fields = 1}, map entry {key = 1, value = 2}, Value{null_value = 1,
 * number_value = 2, string_value = 3, bool_value = 4, struct_value = 5, list_value = 6},
 * ListValue{repeated Value values = 1}.
 */

/** Decodes the bytes of a Struct into a JSON object. */
export function readStruct(bytes: Uint8Array): JsonObject {
  const r = new BinaryReader(bytes);
  const out: JsonObject = {};
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no !== 1 || wt !== WireType.LengthDelimited) {
      r.skip(wt, no);
      continue;
    }
    const entry = new BinaryReader(r.bytes());
    let key = "";
    let value: JsonValue = null;
    while (entry.pos < entry.len) {
      const [eno, ewt] = entry.tag();
      if (eno === 1 && ewt === WireType.LengthDelimited) key = entry.string();
      else if (eno === 2 && ewt === WireType.LengthDelimited) value = readValue(entry.bytes());
      else entry.skip(ewt, eno);
    }
    out[key] = value;
  }
  return out;
}

/** Decodes the bytes of a Value; a Value with no kind set is null. */
export function readValue(bytes: Uint8Array): JsonValue {
  const r = new BinaryReader(bytes);
  let value: JsonValue = null;
  while (r.pos < r.len) {
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
        value = readStruct(r.bytes());
        break;
      case 6: {
        const list = new BinaryReader(r.bytes());
        const items: JsonValue[] = [];
        while (list.pos < list.len) {
          const [lno, lwt] = list.tag();
          if (lno === 1 && lwt === WireType.LengthDelimited) items.push(readValue(list.bytes()));
          else list.skip(lwt, lno);
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
