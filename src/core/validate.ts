import { Violations } from "./errors.js";
import { defaultPageSize } from "./limits.js";

/** Records a violation unless `value` is 1 to `max` characters. Returns the value. */
export function requireId(v: Violations, field: string, value: string, max: number): string {
  if (value.length === 0) v.add(field, `must not be empty (1 to ${max} characters)`);
  else if (value.length > max) v.add(field, `must be at most ${max} characters, got ${value.length}`);
  return value;
}

/** Throws `invalid` unless `value` is 1 to `max` characters: for calls whose only input is one id. */
export function checkId(field: string, value: string, max: number): void {
  const v = new Violations();
  requireId(v, field, value, max);
  v.throwIfAny();
}

/** Records a violation when `value` is longer than `max` characters (empty is allowed). Returns the value. */
export function optionalId(v: Violations, field: string, value: string, max: number): string {
  if (value.length > max) v.add(field, `must be at most ${max} characters, got ${value.length}`);
  return value;
}

/** Resolves a requested page size: 0 → the default, 1..max as is; anything else is recorded and gives the default. */
export function pageSize(v: Violations, value: number, max: number, field = "page_size"): number {
  const fallback = Math.min(defaultPageSize, max);
  if (value === 0) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    v.add(field, `must be between 1 and ${max} (0 means ${fallback}), got ${value}`);
    return fallback;
  }
  return value;
}
