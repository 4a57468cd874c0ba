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

/**
 * A number as the original printed it: a whole number below 1e16 as Python prints an int (`3`, `-42`; JSON
 * integers were ints there), anything else as Python's `repr` of a float — the shortest digits that round-trip,
 * in positional form for exponents -4 to 15 and in scientific form outside (`1e-05`, `1.5e+16`), and `nan`, `inf`.
 */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return Object.is(n, -0) ? "0" : String(n);
  // JavaScript and Python both print the shortest round-trip digits; only the layout differs.
  const [mantissa = "", exp = "0"] = n.toExponential().split("e");
  const e = Number(exp);
  if (e >= -4 && e < 16) {
    const digits = mantissa.replace("-", "").replace(".", "");
    const sign = n < 0 ? "-" : "";
    const point = e + 1;
    if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
    if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}.0`;
    return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
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

/**
 * Python's `f"{x:.{digits}f}"`: the exact value of `x` rounded to `digits` decimals, a tie (an exactly
 * representable half, such as 0.125) to the even digit as Python does (`0.12`), where JavaScript's `toFixed`
 * rounds it up (`0.13`); `-0.00` for negative zero and for negatives that round to zero; every digit of a large
 * number (no exponent); `nan`, `inf`.
 */
export function pyFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const a = Math.abs(x);
  // Every double below 1e21 has its exact value within 100 decimals where a tie can occur (a tie at `digits`
  // decimals needs a short binary fraction); larger doubles are integers.
  const exact = a < 1e21 ? a.toFixed(100) : `${BigInt(a)}.${"0".repeat(100)}`;
  const [whole = "0", frac = ""] = exact.split(".");
  let scaled = BigInt(whole + frac.slice(0, digits));
  const rest = frac.slice(digits);
  const tie = /^50*$/.test(rest);
  if ((tie && scaled % 2n === 1n) || (!tie && rest[0] !== undefined && rest[0] >= "5")) scaled += 1n;
  const text = scaled.toString().padStart(digits + 1, "0");
  return digits === 0 ? `${sign}${text}` : `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/** Python's `f"{x:.2f}"` (see {@link pyFixed}). */
export function pyFixed2(n: number): string {
  return pyFixed(n, 2);
}
