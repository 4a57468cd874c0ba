import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { AgentContextRecord } from "../core/context/types.js";
import { writeStruct } from "./struct-codec.js";

/**
 * The agent's own fields of an AgentContext, encoded by hand: what `toBinary` writes for coordination_metadata
 * (field 1), agent_assignment (field 3) and the scalar fields 6–8 of a context made by `context-messages.ts`, byte
 * for byte (proto3: a string or number field only when it is not empty or zero, a set message field always, fields
 * in number order). A property test compares every byte with `toBinary`; the shared parts (2, 4, 5) are encoded
 * once per copy elsewhere. protobuf-es spends most of a context's encoding on reflection over its Structs; this
 * writes them with `writeStruct`, which is exact too (struct-codec's differential tests).
 */

// One writer for every context: `finish` hands out a copy and keeps the buffer, so encoding allocates only what it
// returns.
const w = new BinaryWriter();

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

function stringField(no: number, s: string): void {
  if (s !== "") w.tag(no, LD).string(s);
}

/** A google.protobuf.Timestamp field for `ms` milliseconds since the epoch (as `timestampFromMs` makes it). */
function timestampField(no: number, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  w.tag(no, LD).fork();
  if (seconds !== 0) w.tag(1, VARINT).int64(seconds);
  if (nanos !== 0) w.tag(2, VARINT).int32(nanos);
  w.join();
}

function structField(no: number, obj: AgentContextRecord["assignment"]["inputData"]): void {
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
  const a = r.assignment;
  w.tag(1, LD).fork();
  stringField(1, r.sessionId);
  stringField(2, r.coordinationId);
  stringField(3, a.agentId);
  stringField(4, a.agentRole);
  stringField(5, r.parentWorkflowId);
  timestampField(6, r.createdAt);
  w.join();
  const metadata = w.finish();

  w.tag(3, LD).fork();
  stringField(1, a.agentId);
  stringField(2, a.agentRole);
  stringField(3, a.objective);
  for (const t of a.tasks) w.tag(4, LD).string(t);
  structField(5, a.inputData);
  for (const d of a.dependencies) w.tag(6, LD).string(d);
  structField(7, a.outputRequirements);
  structField(8, a.successCriteria);
  w.join();
  const assignment = w.finish();
  return { metadata, assignment };
}

/** Fields 6–8 of `r`'s context (version, updated_at, revision), as encoded: what every update changes. */
export function encodeChangeFields(r: AgentContextRecord): Uint8Array {
  if (r.version !== 0) w.tag(6, VARINT).uint64(r.version);
  timestampField(7, r.updatedAt);
  if (r.revision !== 0) w.tag(8, VARINT).uint64(r.revision);
  return w.finish();
}
