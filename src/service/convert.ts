import { create } from "@bufbuild/protobuf";
import { DurationSchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { DescEnum } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Violations } from "../core/errors.js";

/** Milliseconds since the epoch as a Timestamp. */
export function toTimestamp(ms: number): Timestamp {
  return timestampFromMs(ms);
}

/**
 * Milliseconds (any non-negative number, fractions included) as a Duration with whole nanoseconds: what
 * {@link durationMs} read is written back as it came (`durationFromMs` would write fractional nanos for a
 * timeout of 1.000000001 s, which no encoder accepts).
 */
export function toDuration(ms: number): Duration {
  let seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds++;
    nanos -= 1e9;
  }
  return create(DurationSchema, { seconds: BigInt(seconds), nanos });
}

/** A Duration as milliseconds; `undefined` when unset, or when negative (recorded in `v` as a violation of `field`). */
export function durationMs(v: Violations, field: string, d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  // google.protobuf.Duration: nanos within ±999,999,999 and of the same sign as seconds; here, not negative.
  if (d.nanos > 999_999_999 || d.nanos < 0) {
    v.add(field, `must have nanos from 0 to 999999999 (a valid, non-negative Duration), got ${d.nanos}`);
    return undefined;
  }
  const ms = Number(d.seconds) * 1000 + d.nanos / 1e6;
  if (!Number.isFinite(ms) || ms < 0) {
    v.add(field, "must not be negative");
    return undefined;
  }
  return ms;
}

/** A uint64 sequence as a JS number; beyond 2^53 it is recorded in `v` as a violation of `field` (and gives 0). */
export function sequenceOf(v: Violations, field: string, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    v.add(field, `must be at most ${Number.MAX_SAFE_INTEGER}`);
    return 0;
  }
  return Number(value);
}

/**
 * The core's name of a proto enum value whose values 1..n list `names` in order (0 is UNSPECIFIED): "" for 0 (unset),
 * `undefined` for a number the enum does not have.
 */
function enumName<T extends string>(names: readonly T[], value: number): T | "" | undefined {
  if (value === 0) return "";
  return Number.isInteger(value) && value >= 1 && value <= names.length ? names[value - 1] : undefined;
}

/** The proto enum value of a core name (1-based position in `names`). */
export function enumValue(names: readonly string[], name: string): number {
  return names.indexOf(name) + 1;
}

/**
 * Checks a proto enum field against the core's names (values 1..n of `desc` list them in order; 0 is
 * UNSPECIFIED) and returns the core's name: "" when unset (recorded as a violation when `required`), and for a
 * number the enum does not have (always recorded). Messages name the enum's values as the client writes them.
 */
export function checkedEnum<T extends string>(
  v: Violations,
  field: string,
  desc: DescEnum,
  names: readonly T[],
  value: number,
  required: boolean,
): T | "" {
  const name = enumName(names, value);
  if (name === undefined || (name === "" && required)) {
    const choices = desc.values.filter((e) => e.number !== 0).map((e) => e.name).join(", ");
    const got = desc.values.find((e) => e.number === value)?.name ?? String(value);
    v.add(field, `must be ${required ? "one" : "unset or one"} of ${choices}; got ${got}`);
    return "";
  }
  return name;
}
