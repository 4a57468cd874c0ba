import { create, toBinary } from "@bufbuild/protobuf";
import type { WireFormat } from "../binding/call-context.js";
import { varintSize } from "../binding/pre-encoded.js";
import type { AgentContextRecord, DistributeInput, SharedIntelligence } from "../core/context/types.js";
import {
  AgentContextSchema,
  SharedIntelligenceSchema,
  type AgentContext,
  type DistributeContextRequest,
  type SharedIntelligence as SharedIntelligenceMessage,
} from "../../gen/ts/consort/v1/context_pb.js";
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
const sharedMessages = new WeakMap<SharedIntelligence, { message: SharedIntelligenceMessage; binary: number; json: number }>();

function sharedOf(si: SharedIntelligence) {
  let m = sharedMessages.get(si);
  if (m === undefined) {
    const message = create(SharedIntelligenceSchema, {
      typeRegistry: si.type_registry,
      patternLibrary: stringListsOf(si.pattern_library),
      validationRules: si.validation_rules,
      namingConventions: si.naming_conventions as Record<string, string>,
      dependencyGraph: stringListsOf(si.dependency_graph),
    });
    m = { message, binary: toBinary(SharedIntelligenceSchema, message).byteLength, json: jsonBytes(SharedIntelligenceSchema, message) };
    sharedMessages.set(si, m);
  }
  return m;
}

/** An AgentContext without its shared intelligence. */
function contextWithoutShared(r: AgentContextRecord): AgentContext {
  const a = r.assignment;
  return create(AgentContextSchema, {
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
    coordinationProtocols: {
      updateIntervalMs: r.protocols.updateIntervalMs,
      heartbeatIntervalMs: r.protocols.heartbeatIntervalMs,
      statusChannel: r.protocols.statusChannel,
      resultChannel: r.protocols.resultChannel,
      errorChannel: r.protocols.errorChannel,
      ...(r.protocols.coordinationEndpoint !== undefined && { coordinationEndpoint: r.protocols.coordinationEndpoint }),
    },
    resourceAllocation: { ...r.allocation },
    contextVersion: BigInt(r.version),
    updatedAt: toTimestamp(r.updatedAt),
    revision: BigInt(r.revision),
  });
}

interface Built {
  readonly message: AgentContext;
  readonly binary: number;
  readonly json: number;
}
const built = new WeakMap<AgentContextRecord, Built>();
// `"sharedIntelligence":` and a comma: what the shared intelligence adds to a context's JSON beside its own text.
const sharedJsonFraming = Buffer.byteLength('"sharedIntelligence":,');

function build(r: AgentContextRecord): Built {
  let b = built.get(r);
  if (b === undefined) {
    const rest = contextWithoutShared(r);
    const shared = sharedOf(r.shared);
    const binary = toBinary(AgentContextSchema, rest).byteLength + 1 + varintSize(shared.binary) + shared.binary;
    const json = jsonBytes(AgentContextSchema, rest) + sharedJsonFraming + shared.json;
    rest.sharedIntelligence = shared.message;
    b = { message: rest, binary, json };
    built.set(r, b);
  }
  return b;
}

/** The proto message of a stored context (built once per record; the shared intelligence once per copy). */
export function contextMessage(r: AgentContextRecord): AgentContext {
  return build(r).message;
}

/**
 * Bytes a context takes when sent, in the larger of its two encodings (protobuf, JSON): what must fit in one
 * message for every client to read it back. Computed from the parts, each measured once.
 */
export function contextBytes(r: AgentContextRecord): number {
  const b = build(r);
  return Math.max(b.binary, b.json);
}

/** What a context adds to a response's repeated `contexts` (field 1) in `format`, framing included. */
export function contextElementSize(format: WireFormat): (r: AgentContextRecord) => number {
  return format === "json" ? (r) => jsonElementSize(build(r).json) : (r) => binaryElementSize(build(r).binary);
}
