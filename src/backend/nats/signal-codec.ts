import type { JsonObject } from "../../core/json.js";
import { signalTypes, type SignalRecord, type SignalType } from "../../core/signals/types.js";

/**
 * A signal as the JetStream signal log stores it: the payload is the JSON of its record without the sequence (the
 * log numbers it, in the `Consort-Sequence` header). Read back, the sequence comes from the verified header and the
 * epoch from the coordination's meta, never from the payload: the payload says what the appending replica believed,
 * the log and the meta what is.
 */

/** The stored form: every field of a {@link SignalRecord} but its sequence. */
type StoredSignal = Omit<SignalRecord, "sequence">;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const typeSet: ReadonlySet<string> = new Set(signalTypes);
const emptyJson: JsonObject = Object.freeze({});
const noRecipients: readonly string[] = Object.freeze([]);

/** The payload of `signal`. */
export function encodeSignal(signal: SignalRecord): Uint8Array {
  const stored: StoredSignal = {
    signalId: signal.signalId,
    coordinationId: signal.coordinationId,
    type: signal.type,
    senderAgentId: signal.senderAgentId,
    recipientAgentIds: signal.recipientAgentIds,
    createdAt: signal.createdAt,
    data: signal.data,
    metadata: signal.metadata,
    idempotencyKey: signal.idempotencyKey,
    epoch: signal.epoch,
  };
  return encoder.encode(JSON.stringify(stored));
}

/** Where a decoded record sits: its coordination, its verified sequence and the epoch the meta gives. */
export interface SignalPlace {
  readonly coordinationId: string;
  readonly sequence: number;
  readonly epoch: string;
}

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
/** `{}` shared, as the engine shares it (most metadata is empty). */
const compact = (json: JsonObject): JsonObject => {
  for (const _ in json) return json;
  return emptyJson;
};

/**
 * The record a payload holds at `place`, or what is wrong with it (not JSON, a field missing or of the wrong type,
 * another coordination's signal): a payload Consort did not write is never applied.
 */
export function decodeSignal(payload: Uint8Array, place: SignalPlace): SignalRecord | string {
  let o: unknown;
  try {
    o = JSON.parse(decoder.decode(payload));
  } catch {
    return "it is not JSON in UTF-8";
  }
  if (!isObject(o)) return "it is not a JSON object";
  const s = o as Partial<Record<keyof StoredSignal, unknown>>;
  if (typeof s.signalId !== "string" || s.signalId.length === 0) return "its signalId is not a non-empty string";
  if (s.coordinationId !== place.coordinationId) return `it is a signal of coordination ${JSON.stringify(s.coordinationId)}, not ${JSON.stringify(place.coordinationId)}`;
  if (typeof s.type !== "string" || !typeSet.has(s.type)) return `its type ${JSON.stringify(s.type)} is not a signal type`;
  if (typeof s.senderAgentId !== "string" || s.senderAgentId.length === 0) return "its senderAgentId is not a non-empty string";
  if (!Array.isArray(s.recipientAgentIds) || !s.recipientAgentIds.every((r) => typeof r === "string")) return "its recipientAgentIds is not a list of strings";
  if (typeof s.createdAt !== "number" || !Number.isFinite(s.createdAt)) return "its createdAt is not a number";
  if (!isObject(s.data) || !isObject(s.metadata)) return "its data or metadata is not a JSON object";
  if (typeof s.idempotencyKey !== "string") return "its idempotencyKey is not a string";
  return {
    signalId: s.signalId,
    coordinationId: place.coordinationId,
    sequence: place.sequence,
    type: s.type as SignalType,
    senderAgentId: s.senderAgentId,
    recipientAgentIds: s.recipientAgentIds.length === 0 ? noRecipients : (s.recipientAgentIds as string[]),
    createdAt: s.createdAt,
    data: compact(s.data),
    metadata: compact(s.metadata),
    idempotencyKey: s.idempotencyKey,
    epoch: place.epoch,
  };
}
