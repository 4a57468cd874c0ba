import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { invalidField } from "../core/errors.js";

/** Milliseconds since the epoch as a Timestamp. */
export function toTimestamp(ms: number): Timestamp {
  return timestampFromMs(ms);
}

/** A Duration as milliseconds; `undefined` when unset. Throws `invalid` naming `field` for a negative one. */
export function durationMs(field: string, d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  const ms = Number(d.seconds) * 1000 + d.nanos / 1e6;
  if (!Number.isFinite(ms) || ms < 0 || d.nanos < 0) throw invalidField(field, `must not be negative`);
  return ms;
}

/** A uint64 sequence as a JS number; `invalid` naming `field` beyond 2^53. */
export function sequenceOf(field: string, v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidField(field, `must be at most ${Number.MAX_SAFE_INTEGER}`);
  return Number(v);
}
