import { WireType, type BinaryWriter } from "@bufbuild/protobuf/wire";
import { signalTypes, type SignalRecord } from "../core/signals/types.js";
import { enumValue } from "./convert.js";
import { encodeReused } from "./reused-writer.js";
import { writeStruct } from "./struct-codec.js";

const LD = WireType.LengthDelimited;

/**
 * Encodes a stored signal as a `consort.v1.Signal`, byte for byte what `toBinary(SignalSchema,
 * toSignalMessage(s))` gives (fields in number order, proto3 defaults left out, `created_at`, `data` and
 * `metadata` always present), without building the message: the one encoding every subscriber and history read of
 * the signal is sent.
 */
export function encodeSignal(s: SignalRecord): Uint8Array {
  return encodeReused(writeSignal, s);
}

function writeSignal(w: BinaryWriter, s: SignalRecord): void {
  if (s.signalId !== "") w.tag(1, LD).string(s.signalId);
  if (s.coordinationId !== "") w.tag(2, LD).string(s.coordinationId);
  if (s.sequence !== 0) w.tag(3, WireType.Varint).uint64(s.sequence);
  const type = enumValue(signalTypes, s.type);
  if (type !== 0) w.tag(4, WireType.Varint).int32(type);
  if (s.senderAgentId !== "") w.tag(5, LD).string(s.senderAgentId);
  for (const r of s.recipientAgentIds) w.tag(6, LD).string(r);
  // google.protobuf.Timestamp, as timestampFromMs makes it: whole seconds (floored) and the rest in nanos.
  const seconds = Math.floor(s.createdAt / 1000);
  const nanos = (s.createdAt - seconds * 1000) * 1_000_000;
  w.tag(7, LD).fork();
  if (seconds !== 0) w.tag(1, WireType.Varint).int64(seconds);
  if (nanos !== 0) w.tag(2, WireType.Varint).int32(nanos);
  w.join();
  writeStruct(w.tag(8, LD).fork(), s.data).join();
  writeStruct(w.tag(9, LD).fork(), s.metadata).join();
  if (s.idempotencyKey !== "") w.tag(10, LD).string(s.idempotencyKey);
  if (s.epoch !== "") w.tag(11, LD).string(s.epoch);
}

/** An acknowledged PublishStream request (`consort.v1.PublishAck`). */
export interface AckFields {
  readonly signalId: string;
  readonly sequence: number;
  readonly epoch: string;
  readonly duplicate: boolean;
}

/** One PublishStream outcome: an ack, or the encoded google.rpc.Status of a refused request. */
export type OutcomeFields = { readonly ack: AckFields } | { readonly errorBytes: Uint8Array };

/**
 * Encodes a `consort.v1.PublishStreamResponse` holding `outcomes`, byte for byte what `toBinary` gives for the
 * same response.
 */
export function encodePublishStreamResponse(outcomes: readonly OutcomeFields[]): Uint8Array {
  return encodeReused(writeOutcomes, outcomes);
}

function writeOutcomes(w: BinaryWriter, outcomes: readonly OutcomeFields[]): void {
  for (const o of outcomes) {
    w.tag(1, LD).fork();
    if ("ack" in o) {
      const a = o.ack;
      w.tag(1, LD).fork();
      if (a.signalId !== "") w.tag(1, LD).string(a.signalId);
      if (a.sequence !== 0) w.tag(2, WireType.Varint).uint64(a.sequence);
      if (a.epoch !== "") w.tag(3, LD).string(a.epoch);
      if (a.duplicate) w.tag(4, WireType.Varint).bool(true);
      w.join();
    } else {
      w.tag(2, LD).bytes(o.errorBytes);
    }
    w.join();
  }
}
