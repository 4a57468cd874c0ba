/** JSON values as the core sees them: what `google.protobuf.Struct`/`Value` carry. */

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/**
 * The UTF-8 byte size of `value` serialized as JSON, exactly `Buffer.byteLength(JSON.stringify(value))`; 0 for
 * `undefined`. Counted by walking the value, without building the string: Route measures every state this way
 * (the state-analysis router's size), and Publish every payload.
 */
export function jsonByteSize(value: JsonValue | undefined): number {
  return value === undefined ? 0 : sizeOf(value);
}

function sizeOf(v: JsonValue): number {
  if (v === null) return 4;
  switch (typeof v) {
    case "string":
      return stringSize(v);
    case "number":
      return numberSize(v);
    case "boolean":
      return v ? 4 : 5;
  }
  if (Array.isArray(v)) {
    let n = v.length > 0 ? v.length + 1 : 2; // brackets and commas
    for (const item of v) n += sizeOf(item);
    return n;
  }
  let n = 2; // braces
  let count = 0;
  for (const k in v) {
    count++;
    n += stringSize(k) + 1 + sizeOf(v[k] as JsonValue); // "key":value
  }
  return count > 1 ? n + count - 1 : n;
}

/** JSON's form of a number: its shortest round-trip digits (what `String` gives); `null` when not finite. */
function numberSize(v: number): number {
  if (!Number.isFinite(v)) return 4;
  if (Number.isInteger(v) && Math.abs(v) < 1e15) {
    // Integers below 1e21 print as plain digits; counting them avoids making a string.
    let digits = v < 0 ? 2 : 1;
    for (let a = Math.abs(v); a >= 10; a = Math.floor(a / 10)) digits++;
    return Object.is(v, -0) ? 1 : digits;
  }
  return String(v).length;
}

/** Bytes of a string as a JSON string literal in UTF-8: quotes, escapes, multi-byte characters. */
function stringSize(s: string): number {
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) n += c === 0x22 || c === 0x5c ? 2 : 1; // '"' and '\\' are escaped
    else if (c < 0x20) n += c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6; // \b \t \n \f \r, else \u00XX
    else if (c < 0x800) n += c === 0x7f ? 1 : 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4; // a surrogate pair: one 4-byte character
        i++;
      } else n += 6; // a lone surrogate is escaped (\uD8XX)
    } else if (c >= 0xdc00 && c <= 0xdfff) n += 6;
    else n += 3;
  }
  return n;
}

/** Deep structural equality of two JSON values (object key order does not matter). */
export function jsonEquals(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEquals(v, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEquals(a[k], b[k]));
}

/** True when every number in `v` is finite (a walk without allocations: Route checks every state this way). */
/**
 * True when every number in `v` is finite and objects and lists nest at most `room` levels (`v` itself being the
 * first); it descends no deeper than that, so any input is walked in bounded stack. No allocation: the hot paths
 * (Route's state, Publish's data) take this and nothing else.
 */
function wellFormed(v: JsonValue, room: number): boolean {
  if (typeof v === "number") return Number.isFinite(v);
  if (v === null || typeof v !== "object") return true;
  if (room <= 0) return false;
  if (Array.isArray(v)) {
    for (const item of v) if (!wellFormed(item, room - 1)) return false;
    return true;
  }
  for (const k in v) if (!wellFormed(v[k] as JsonValue, room - 1)) return false;
  return true;
}

/**
 * Records violations for what JSON fields must be so that every client can read them back: finite numbers
 * (NaN and ±Infinity cannot be written as JSON: a browser could never read them) and objects and lists nested at
 * most `maxDepth` levels (`value` itself is level 1; generated Python clients cannot read ~40, protobuf-es ~48).
 * Allocation-free when the value is fine; otherwise the paths are spelled out (e.g. `data["k"][2]`, at most `max`
 * of them), or, for a value too deep, the field once.
 */
export function checkJson(v: { add(field: string, rule: string): void }, field: string, value: JsonValue | undefined, maxDepth: number, max = 5): void {
  if (value === undefined || wellFormed(value, maxDepth)) return;
  // Too deep: the field is named once, and its numbers are not walked (there could be any number of levels).
  if (checkDepth(v, field, value, maxDepth)) return;
  let found = 0;
  const walk = (x: JsonValue, path: string): void => {
    if (found >= max) return;
    if (typeof x === "number") {
      if (!Number.isFinite(x)) {
        found++;
        v.add(path, `must be a finite number (JSON has no NaN or Infinity), got ${x}`);
      }
    } else if (Array.isArray(x)) x.forEach((item, i) => walk(item, `${path}[${i}]`));
    else if (x !== null && typeof x === "object") for (const k of Object.keys(x)) walk(x[k] as JsonValue, `${path}[${JSON.stringify(k)}]`);
  };
  walk(value, field);
}

/** Python truthiness of a JSON value (the original's rules): null, false, 0, "", [] and {} are false; `undefined` too. */
export function truthy(v: JsonValue | undefined): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/**
 * Records a violation of `field` when `value` nests objects and lists deeper than `maxDepth` levels (the value
 * itself is level 1, each object or list inside adds one), and says whether it did. Iterative, and it stops at the
 * first value too deep, so any input is checked in bounded stack.
 */
export function checkDepth(v: { add(field: string, rule: string): void }, field: string, value: JsonValue | undefined, maxDepth: number): boolean {
  if (value === undefined || value === null || typeof value !== "object") return false;
  const stack: [JsonValue, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop() as [JsonValue, number];
    if (depth > maxDepth) {
      v.add(field, `must nest objects and lists at most ${maxDepth} levels deep (every client can then read it back)`);
      return true;
    }
    const children = Array.isArray(x) ? x : Object.values(x as JsonObject);
    for (const c of children) if (c !== null && typeof c === "object") stack.push([c, depth + 1]);
  }
  return false;
}
