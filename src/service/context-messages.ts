import { create, toBinary } from "@bufbuild/protobuf";
import type { WireFormat } from "../binding/call-context.js";
import { varintSize, writeVarint } from "../binding/pre-encoded.js";
import type {
  AgentContextRecord,
  CoordinationProtocols as CoordinationProtocolsRecord,
  DistributeInput,
  ResourceAllocation as ResourceAllocationRecord,
  SharedIntelligence,
} from "../core/context/types.js";
import {
  AgentContextSchema,
  CoordinationProtocolsSchema,
  ResourceAllocationSchema,
  SharedIntelligenceSchema,
  type AgentContext,
  type CoordinationProtocols,
  type DistributeContextRequest,
  type ResourceAllocation,
  type SharedIntelligence as SharedIntelligenceMessage,
} from "../../gen/ts/consort/v1/context_pb.js";
import { encodeAgentFields, encodeChangeFields } from "./context-codec.js";
import { toTimestamp } from "./convert.js";
import { binaryElementSize, jsonBytes, jsonElementSize } from "./encoded-size.js";

/** Proto `map<string, StringList>` ⇄ the core's lists. */
const listsOf = (m: { [k: string]: { values: string[] } }): Record<string, readonly string[]> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.values]));
const stringListsOf = (m: Readonly<Record<string, readonly string[]>>) =>
  Object.fromEntries(Object.entries(m).map(([k, values]) => [k, { values: values as string[] }]));

/** A request's shared intelligence as the core's input (unset parts left out). */
export function sharedIntelligenceInput(si: SharedIntelligenceMessage | undefined): DistributeInput["sharedIntelligence"] {
  if (si === undefined) return undefined;
  return {
    ...(si.typeRegistry !== undefined && { type_registry: si.typeRegistry }),
    pattern_library: listsOf(si.patternLibrary),
    ...(si.validationRules !== undefined && { validation_rules: si.validationRules }),
    naming_conventions: si.namingConventions,
    dependency_graph: listsOf(si.dependencyGraph),
  };
}

/** A DistributeContext request as the core's input. */
export function distributeInput(req: DistributeContextRequest): DistributeInput {
  const sharedIntelligence = sharedIntelligenceInput(req.sharedIntelligence);
  return {
    coordinationId: req.coordinationId,
    sessionId: req.sessionId,
    parentWorkflowId: req.parentWorkflowId,
    ...(sharedIntelligence !== undefined && { sharedIntelligence }),
    assignments: req.assignments.map((a) => ({
      agentId: a.agentId,
      agentRole: a.agentRole,
      objective: a.objective,
      tasks: a.tasks,
      ...(a.inputData !== undefined && { inputData: a.inputData }),
      dependencies: a.dependencies,
      ...(a.outputRequirements !== undefined && { outputRequirements: a.outputRequirements }),
      ...(a.successCriteria !== undefined && { successCriteria: a.successCriteria }),
      ...(a.coordinationProtocols !== undefined && { protocols: a.coordinationProtocols }),
      ...(a.resourceAllocation !== undefined && { allocation: a.resourceAllocation }),
    })),
  };
}

// Each shared intelligence is converted, encoded and measured once, however many agents share it.
interface SharedBuilt {
  readonly message: SharedIntelligenceMessage;
  /** Field 2 of an AgentContext as encoded: tag, length, the message's bytes. */
  readonly field: Uint8Array;
  json: number | undefined;
}
const sharedBuilt = new WeakMap<SharedIntelligence, SharedBuilt>();

function sharedOf(si: SharedIntelligence): SharedBuilt {
  let m = sharedBuilt.get(si);
  if (m === undefined) {
    const message = create(SharedIntelligenceSchema, {
      typeRegistry: si.type_registry,
      patternLibrary: stringListsOf(si.pattern_library),
      validationRules: si.validation_rules,
      namingConventions: si.naming_conventions as Record<string, string>,
      dependencyGraph: stringListsOf(si.dependency_graph),
    });
    m = { message, field: fieldBytes(2, toBinary(SharedIntelligenceSchema, message)), json: undefined };
    sharedBuilt.set(si, m);
  }
  return m;
}

/** `bytes` (a message's encoding) as message field `field` of its parent: tag, length, bytes. */
function fieldBytes(field: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + varintSize(bytes.length) + bytes.length);
  out[0] = (field << 3) | 2;
  out.set(bytes, writeVarint(out, 1, bytes.length));
  return out;
}

/** A sub-message built and encoded as field `field` once per core object (agents with default protocols share one). */
function sharedPart<T extends object, M>(cache: WeakMap<T, { message: M; field: Uint8Array }>, value: T, make: (v: T) => M, encode: (m: M) => Uint8Array, field: number) {
  let part = cache.get(value);
  if (part === undefined) {
    const message = make(value);
    part = { message, field: fieldBytes(field, encode(message)) };
    cache.set(value, part);
  }
  return part;
}
const protocolParts = new WeakMap<CoordinationProtocolsRecord, { message: CoordinationProtocols; field: Uint8Array }>();
const allocationParts = new WeakMap<ResourceAllocationRecord, { message: ResourceAllocation; field: Uint8Array }>();
const protocolsMessage = (p: CoordinationProtocolsRecord) =>
  create(CoordinationProtocolsSchema, {
    updateIntervalMs: p.updateIntervalMs,
    heartbeatIntervalMs: p.heartbeatIntervalMs,
    statusChannel: p.statusChannel,
    resultChannel: p.resultChannel,
    errorChannel: p.errorChannel,
    ...(p.coordinationEndpoint !== undefined && { coordinationEndpoint: p.coordinationEndpoint }),
  });
const allocationMessage = (a: ResourceAllocationRecord) => create(ResourceAllocationSchema, { ...a });

/**
 * A context as built for sending: its binary encoding as the parts it is the concatenation of, in field order —
 * coordination_metadata (1), shared_intelligence (2: encoded once per copy, shared by the agents holding it),
 * agent_assignment (3), coordination_protocols (4) and resource_allocation (5) (encoded once per distinct
 * object: agents on the defaults share them), then the scalar fields 6–8 — exactly what `toBinary` writes (a
 * property test compares them). The agent's own fields (1, 3, 6–8) are encoded by hand (context-codec.ts). Its
 * message and JSON size are made only when asked (a Connect client, a JSON page).
 */
interface Built {
  readonly record: AgentContextRecord;
  readonly protocols: CoordinationProtocols;
  readonly allocation: ResourceAllocation;
  readonly shared: SharedBuilt;
  readonly parts: readonly Uint8Array[];
  readonly binary: number;
  /** The context without its shared intelligence (what the JSON size is measured on). */
  rest: AgentContext | undefined;
  message: AgentContext | undefined;
  json: number | undefined;
}
const built = new WeakMap<AgentContextRecord, Built>();
const agentFields = new WeakMap<AgentContextRecord["assignment"], { metadata: Uint8Array; assignment: Uint8Array }>();
// `"sharedIntelligence":` and a comma: what the shared intelligence adds to a context's JSON beside its own text.
const sharedJsonFraming = Buffer.byteLength('"sharedIntelligence":,');

function build(r: AgentContextRecord): Built {
  let b = built.get(r);
  if (b !== undefined) return b;
  const protocols = sharedPart(protocolParts, r.protocols, protocolsMessage, (m) => toBinary(CoordinationProtocolsSchema, m), 4);
  const allocation = sharedPart(allocationParts, r.allocation, allocationMessage, (m) => toBinary(ResourceAllocationSchema, m), 5);
  const shared = sharedOf(r.shared);
  // An update keeps the record's assignment object: its agent fields are encoded once per distribution.
  let own = agentFields.get(r.assignment);
  if (own === undefined) agentFields.set(r.assignment, (own = encodeAgentFields(r)));
  const parts = [own.metadata, shared.field, own.assignment, protocols.field, allocation.field, encodeChangeFields(r)];
  let binary = 0;
  for (const part of parts) binary += part.length;
  b = { record: r, protocols: protocols.message, allocation: allocation.message, shared, parts, binary, rest: undefined, message: undefined, json: undefined };
  built.set(r, b);
  return b;
}

/** The context's message without its shared intelligence (made once, when asked). */
function restOf(b: Built): AgentContext {
  const r = b.record;
  const a = r.assignment;
  return (b.rest ??= create(AgentContextSchema, {
    coordinationMetadata: {
      sessionId: r.sessionId,
      coordinationId: r.coordinationId,
      agentId: a.agentId,
      agentRole: a.agentRole,
      parentWorkflowId: r.parentWorkflowId,
      createdAt: toTimestamp(r.createdAt),
    },
    agentAssignment: {
      agentId: a.agentId,
      agentRole: a.agentRole,
      objective: a.objective,
      tasks: a.tasks as string[],
      inputData: a.inputData,
      dependencies: a.dependencies as string[],
      outputRequirements: a.outputRequirements,
      successCriteria: a.successCriteria,
    },
    coordinationProtocols: b.protocols,
    resourceAllocation: b.allocation,
    contextVersion: BigInt(r.version),
    updatedAt: toTimestamp(r.updatedAt),
    revision: BigInt(r.revision),
  }));
}

/** The proto message of a stored context (built once per record; the shared intelligence once per copy). */
export function contextMessage(r: AgentContextRecord): AgentContext {
  const b = build(r);
  return (b.message ??= { ...restOf(b), sharedIntelligence: b.shared.message });
}

/** The exact binary encoding of a context, as the parts it is the concatenation of. */
export function contextEncodingParts(r: AgentContextRecord): readonly Uint8Array[] {
  return build(r).parts;
}

/** Bytes of a context as JSON (as connect writes it), measured once. */
function jsonSize(r: AgentContextRecord): number {
  const b = build(r);
  b.shared.json ??= jsonBytes(SharedIntelligenceSchema, b.shared.message);
  return (b.json ??= jsonBytes(AgentContextSchema, restOf(b)) + sharedJsonFraming + b.shared.json);
}

/**
 * A context's JSON never exceeds this many times its binary encoding plus {@link jsonSlackBytes}: a string takes
 * at most 6 bytes per byte as JSON (`\u0001`), a Struct at most 6 times its encoding, and a field that costs 2
 * bytes as a tag and a small value costs at most 26 as `"heartbeatIntervalMs":100,`. A property test pins it.
 */
export const jsonPerBinaryByte = 16;
/** See {@link jsonPerBinaryByte}: the braces of the outermost object and rounding. */
export const jsonSlackBytes = 64;

/**
 * The check that every stored context can be read back by every client: a function giving the bytes a context
 * would take in the larger of its encodings when that exceeds `maxBytes`, `undefined` when it fits. The binary
 * size is exact and always known; the JSON size is measured only when the binary size cannot rule it out.
 */
export function contextOversize(maxBytes: number): (r: AgentContextRecord) => number | undefined {
  return (r) => {
    const b = build(r);
    if (b.binary * jsonPerBinaryByte + jsonSlackBytes <= maxBytes) return undefined;
    const larger = Math.max(b.binary, jsonSize(r));
    return larger > maxBytes ? larger : undefined;
  };
}

/** Bytes of a context's binary encoding (measured once). */
export function contextBinarySize(r: AgentContextRecord): number {
  return build(r).binary;
}

/** What a context adds to a response's repeated `contexts` (field 1) in `format`, framing included. */
export function contextElementSize(format: WireFormat): (r: AgentContextRecord) => number {
  return format === "json" ? (r) => jsonElementSize(jsonSize(r)) : (r) => binaryElementSize(build(r).binary);
}
