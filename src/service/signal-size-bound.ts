import { varintSize } from "../binding/pre-encoded.js";
import type { Limits } from "../core/limits.js";

/**
 * The most bytes one signal can take in a response, binary and JSON, under the limits: what the server checks at
 * start-up against the message limit, so that every signal it accepts can be sent to every client (a Subscribe
 * batch and a ListSignals page always hold at least one signal).
 *
 * Binary: ids of `maxIdLength` UTF-16 units take at most 3 UTF-8 bytes per unit; `data` and `metadata` together
 * at most `maxPayloadBytes` (that is how they are measured), plus their framing. JSON: a unit takes at most 6
 * bytes (a control character is written `\u00XX`), and a Struct's JSON at most 6 times its binary size plus its
 * braces (pinned by test/service/signal-size-bound.test.ts); the field names, the timestamp and the type name fit
 * in a fixed allowance.
 */
export function signalBytesBound(l: Pick<Limits, "maxIdLength" | "maxPayloadBytes" | "maxRecipients">): { binary: number; json: number } {
  const idBinary = 1 + varintSize(3 * l.maxIdLength) + 3 * l.maxIdLength;
  const idJson = 6 * l.maxIdLength + 3; // quotes and a comma
  const payloadFraming = 2 * (1 + varintSize(l.maxPayloadBytes));
  // Fixed allowances: the signal id and the epoch (UUIDs), sequence, type, timestamp and framing; as JSON, also
  // the field names.
  const binary = 192 + 3 * idBinary + l.maxRecipients * idBinary + l.maxPayloadBytes + payloadFraming;
  const json = 640 + 3 * idJson + l.maxRecipients * idJson + 6 * l.maxPayloadBytes + 4;
  return { binary, json };
}
