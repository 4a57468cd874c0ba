import { invalidField } from "./errors.js";
import { defaultPageSize } from "./limits.js";

/** Throws `invalid` unless `value` is 1 to `max` characters. Returns the value. */
export function requireId(field: string, value: string, max: number): string {
  if (value.length === 0) throw invalidField(field, `must not be empty (1 to ${max} characters)`);
  if (value.length > max) throw invalidField(field, `must be at most ${max} characters, got ${value.length}`);
  return value;
}

/** Throws `invalid` when `value` is longer than `max` characters (empty is allowed). Returns the value. */
export function optionalId(field: string, value: string, max: number): string {
  if (value.length > max) throw invalidField(field, `must be at most ${max} characters, got ${value.length}`);
  return value;
}

/** Resolves a requested page size: 0 → the default, 1..max as is, anything else `invalid`. */
export function pageSize(value: number, max: number, field = "page_size"): number {
  if (value === 0) return Math.min(defaultPageSize, max);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw invalidField(field, `must be between 1 and ${max} (0 means ${Math.min(defaultPageSize, max)}), got ${value}`);
  }
  return value;
}
