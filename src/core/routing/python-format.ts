import type { JsonValue } from "../json.js";

/**
 * Formats values the way the original (Python) system's f-strings did, so reasoning strings read the same:
 * `str()` for the top level (strings bare, `True`, `None`, `1`, `0.5`) and `repr()` inside lists and objects
 * (`['a', 1]`, `{'k': 'v'}`).
 */
export function pyStr(v: JsonValue | undefined): string {
  return typeof v === "string" ? v : pyRepr(v);
}

/** Python `repr()` of a JSON value. */
export function pyRepr(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return pyNumber(v);
  if (typeof v === "string") return pyStringRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${pyStringRepr(k)}: ${pyRepr(x)}`)
    .join(", ")}}`;
}

/** A number as Python prints it: integers without a fraction, `inf`, `nan`. */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  return String(n);
}

function pyStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s
    .replaceAll("\\", "\\\\")
    .replaceAll("\n", "\\n")
    .replaceAll("\r", "\\r")
    .replaceAll("\t", "\\t");
  return quote + (quote === "'" ? body.replaceAll("'", "\\'") : body) + quote;
}

/** Python's `f"{x:.2f}"`. */
export function pyFixed2(n: number): string {
  return n.toFixed(2);
}
