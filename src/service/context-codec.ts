import { WireType, type BinaryWriter } from "@bufbuild/protobuf/wire";
import type { AgentContextRecord } from "../core/context/types.js";
import { encodeReused } from "./reused-writer.js";
import { writeStruct } from "./struct-codec.js";

/**
 * The agent's own fields of an AgentContext, encoded by hand: what `toBinary` writes for coordination_metadata
 * (field 1), agent_assignment (field 3) and the scalar fields 6–8 of a context made by `context-messages.ts`, byte
 * for byte (proto3: a string or number field only when it is not empty or zero, a set message field always, fields
 * in number order). A property test compares every byte with `toBinary`; the shared parts (2, 4, 5) are encoded
 * once per copy elsewhere. protobuf-es spends most of a context's encoding on reflection over its Structs; this
 * writes them with `writeStruct`, which is exact too (struct-codec's differential tests).
 */

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

function stringField(w: BinaryWriter, no: number, s: string): void {
  if (s !== "") w.tag(no, LD).string(s);
}

/** A google.protobuf.Timestamp field for `ms` milliseconds since the epoch (as `timestampFromMs` makes it). */
function timestampField(w: BinaryWriter, no: number, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  w.tag(no, LD).fork();
  if (seconds !== 0) w.tag(1, VARINT).int64(seconds);
  if (nanos !== 0) w.tag(2, VARINT).int32(nanos);
  w.join();
}

function structField(w: BinaryWriter, no: number, obj: AgentContextRecord["assignment"]["inputData"]): void {
  w.tag(no, LD).fork();
  writeStruct(w, obj);
  w.join();
}

/**
 * Field 1 (coordination_metadata) and field 3 (agent_assignment) of `r`'s context, as encoded. Both depend only
 * on what an update keeps (the record's assignment object and its distribution), so callers may cache them by
 * the assignment object.
 */
export function encodeAgentFields(r: AgentContextRecord): { metadata: Uint8Array; assignment: Uint8Array } {
  return { metadata: encodeReused(writeMetadata, r), assignment: encodeReused(writeAssignment, r) };
}

function writeMetadata(w: BinaryWriter, r: AgentContextRecord): void {
  const a = r.assignment;
  w.tag(1, LD).fork();
  stringField(w, 1, r.sessionId);
  stringField(w, 2, r.coordinationId);
  stringField(w, 3, a.agentId);
  stringField(w, 4, a.agentRole);
  stringField(w, 5, r.parentWorkflowId);
  timestampField(w, 6, r.createdAt);
  w.join();
}

function writeAssignment(w: BinaryWriter, r: AgentContextRecord): void {
  const a = r.assignment;
  w.tag(3, LD).fork();
  stringField(w, 1, a.agentId);
  stringField(w, 2, a.agentRole);
  stringField(w, 3, a.objective);
  for (const t of a.tasks) w.tag(4, LD).string(t);
  structField(w, 5, a.inputData);
  for (const d of a.dependencies) w.tag(6, LD).string(d);
  structField(w, 7, a.outputRequirements);
  structField(w, 8, a.successCriteria);
  w.join();
}

/** Fields 6–8 of `r`'s context (version, updated_at, revision), as encoded: what every update changes. */
export function encodeChangeFields(r: AgentContextRecord): Uint8Array {
  return encodeReused(writeChangeFields, r);
}

function writeChangeFields(w: BinaryWriter, r: AgentContextRecord): void {
  if (r.version !== 0) w.tag(6, VARINT).uint64(r.version);
  timestampField(w, 7, r.updatedAt);
  if (r.revision !== 0) w.tag(8, VARINT).uint64(r.revision);
}
