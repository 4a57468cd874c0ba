import { fromBinary } from "@bufbuild/protobuf";
import {
  DistributeContextRequestSchema,
  type AgentAssignment,
  type CoordinationProtocols,
  type DistributeContextRequest,
  type ResourceAllocation,
  type SharedIntelligence,
  type StringList,
} from "../../gen/ts/consort/v1/context_pb.js";
import { NotCanonical, readEnd, readString, readTag, structAt, WireReader } from "./struct-codec.js";

/**
 * A hand-written decoder for DistributeContextRequest, whose 1,000-agent requests carry three Structs per agent:
 * protobuf-es decodes a Struct through reflection into messages, then converts them to JSON; this reads them
 * straight to JSON with struct-codec. Like Route's decoder it reads the canonical form only (every message as
 * protobuf encoders write it: no repeated message fields that would merge, no unknown fields or wire types, map
 * entries with their key then their value) and hands anything else to `fromBinary`, whose result or error is then
 * the answer. Pinned by a property-based differential test (test/service/distribute-codec.test.ts).
 *
 * Depths (the request is 1): shared_intelligence and each assignment 2; their Structs, lists and sub-messages 3.
 */

function notCanonical(what: string): never {
  throw new NotCanonical(what);
}

/** A map key: "__proto__" (an own property protobuf-es defines specially) goes to `fromBinary`. */
function mapKey(r: WireReader): string {
  if (readTag(r) !== 10) notCanonical("map entry key");
  const key = readString(r);
  if (key === "__proto__") notCanonical("__proto__ key");
  return key;
}

/** A StringList message between the reader's position and `end`. */
function stringListAt(r: WireReader, end: number): StringList {
  const values: string[] = [];
  while (r.pos < end) {
    if (readTag(r) !== 10) notCanonical("string list field");
    values.push(readString(r));
  }
  if (r.pos !== end) notCanonical("string list end");
  return { $typeName: "consort.v1.StringList", values };
}

/** One entry of a `map<string, StringList>` into `into`. */
function listEntry(r: WireReader, into: { [key: string]: StringList }): void {
  const end = readEnd(r);
  const key = mapKey(r);
  if (readTag(r) !== 18) notCanonical("map entry value");
  into[key] = stringListAt(r, readEnd(r));
  if (r.pos !== end) notCanonical("map entry end");
}

function sharedAt(r: WireReader, end: number): SharedIntelligence {
  const si = { $typeName: "consort.v1.SharedIntelligence", patternLibrary: {}, namingConventions: {}, dependencyGraph: {} } as SharedIntelligence;
  while (r.pos < end) {
    switch (readTag(r)) {
      case 10: // 1 type_registry
        if (si.typeRegistry !== undefined) notCanonical("type_registry repeated");
        si.typeRegistry = structAt(r, readEnd(r), 3);
        break;
      case 18: // 2 pattern_library
        listEntry(r, si.patternLibrary);
        break;
      case 26: // 3 validation_rules
        if (si.validationRules !== undefined) notCanonical("validation_rules repeated");
        si.validationRules = structAt(r, readEnd(r), 3);
        break;
      case 34: { // 4 naming_conventions
        const entryEnd = readEnd(r);
        const key = mapKey(r);
        if (readTag(r) !== 18) notCanonical("map entry value");
        si.namingConventions[key] = readString(r);
        if (r.pos !== entryEnd) notCanonical("map entry end");
        break;
      }
      case 42: // 5 dependency_graph
        listEntry(r, si.dependencyGraph);
        break;
      default:
        notCanonical("shared intelligence field");
    }
  }
  if (r.pos !== end) notCanonical("shared intelligence end");
  return si;
}

function allocationAt(r: WireReader, end: number): ResourceAllocation {
  const a = { $typeName: "consort.v1.ResourceAllocation" } as ResourceAllocation;
  while (r.pos < end) {
    switch (readTag(r)) {
      case 8:
        a.maxExecutionTimeMs = r.int32();
        break;
      case 16:
        a.maxRetryAttempts = r.int32();
        break;
      case 24:
        a.maxMemoryMb = r.int32();
        break;
      case 33: // 4 quality_threshold, a double
        a.qualityThreshold = r.double();
        break;
      case 40:
        a.timeoutMs = r.int32();
        break;
      case 48:
        a.concurrencyLimit = r.int32();
        break;
      default:
        notCanonical("resource allocation field");
    }
  }
  if (r.pos !== end) notCanonical("resource allocation end");
  return a;
}

function protocolsAt(r: WireReader, end: number): CoordinationProtocols {
  const p = { $typeName: "consort.v1.CoordinationProtocols" } as CoordinationProtocols;
  while (r.pos < end) {
    switch (readTag(r)) {
      case 8:
        p.updateIntervalMs = r.int32();
        break;
      case 16:
        p.heartbeatIntervalMs = r.int32();
        break;
      case 26:
        p.statusChannel = readString(r);
        break;
      case 34:
        p.resultChannel = readString(r);
        break;
      case 42:
        p.errorChannel = readString(r);
        break;
      case 50:
        p.coordinationEndpoint = readString(r);
        break;
      default:
        notCanonical("coordination protocols field");
    }
  }
  if (r.pos !== end) notCanonical("coordination protocols end");
  return p;
}

function assignmentAt(r: WireReader, end: number): AgentAssignment {
  const a = { $typeName: "consort.v1.AgentAssignment", agentId: "", agentRole: "", objective: "", tasks: [], dependencies: [] } as unknown as AgentAssignment;
  while (r.pos < end) {
    switch (readTag(r)) {
      case 10:
        a.agentId = readString(r);
        break;
      case 18:
        a.agentRole = readString(r);
        break;
      case 26:
        a.objective = readString(r);
        break;
      case 34:
        a.tasks.push(readString(r));
        break;
      case 42: // 5 input_data (a second one would merge: fromBinary's job)
        if (a.inputData !== undefined) notCanonical("input_data repeated");
        a.inputData = structAt(r, readEnd(r), 3);
        break;
      case 50:
        a.dependencies.push(readString(r));
        break;
      case 58:
        if (a.outputRequirements !== undefined) notCanonical("output_requirements repeated");
        a.outputRequirements = structAt(r, readEnd(r), 3);
        break;
      case 66:
        if (a.successCriteria !== undefined) notCanonical("success_criteria repeated");
        a.successCriteria = structAt(r, readEnd(r), 3);
        break;
      case 74:
        if (a.resourceAllocation !== undefined) notCanonical("resource_allocation repeated");
        a.resourceAllocation = allocationAt(r, readEnd(r));
        break;
      case 82:
        if (a.coordinationProtocols !== undefined) notCanonical("coordination_protocols repeated");
        a.coordinationProtocols = protocolsAt(r, readEnd(r));
        break;
      default:
        notCanonical("assignment field");
    }
  }
  if (r.pos !== end) notCanonical("assignment end");
  return a;
}

/**
 * The canonical-form fast path of {@link decodeDistributeContextRequest}; throws (mostly {@link NotCanonical}) on
 * anything else. Exported for tests, which check that it is the path canonical requests take.
 */
export function decodeDistributeCanonical(bytes: Uint8Array): DistributeContextRequest {
  const r = new WireReader(bytes);
  const req = { $typeName: "consort.v1.DistributeContextRequest", coordinationId: "", sessionId: "", assignments: [], parentWorkflowId: "" } as unknown as DistributeContextRequest;
  while (r.pos < r.len) {
    switch (readTag(r)) {
      case 10:
        req.coordinationId = readString(r);
        break;
      case 18:
        req.sessionId = readString(r);
        break;
      case 26:
        if (req.sharedIntelligence !== undefined) notCanonical("shared_intelligence repeated");
        req.sharedIntelligence = sharedAt(r, readEnd(r));
        break;
      case 34:
        req.assignments.push(assignmentAt(r, readEnd(r)));
        break;
      case 42:
        req.parentWorkflowId = readString(r);
        break;
      default:
        notCanonical("field");
    }
  }
  if (r.pos !== r.len) notCanonical("end");
  return req;
}

/**
 * Decodes DistributeContextRequest bytes into exactly what `fromBinary(DistributeContextRequestSchema, bytes)`
 * gives, or throws what it throws: canonical requests on the fast path, anything else through `fromBinary`.
 */
export function decodeDistributeContextRequest(bytes: Uint8Array): DistributeContextRequest {
  try {
    return decodeDistributeCanonical(bytes);
  } catch {
    return fromBinary(DistributeContextRequestSchema, bytes);
  }
}
