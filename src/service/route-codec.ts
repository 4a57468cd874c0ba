import { fromBinary } from "@bufbuild/protobuf";
import { WireType, type BinaryWriter } from "@bufbuild/protobuf/wire";
import type { JsonObject } from "../core/json.js";
import { routingDecisions, routingStrategies, type RouterResult, type RoutingRecord } from "../core/routing/types.js";
import { RouteRequestSchema, type RouteRequest } from "../../gen/ts/consort/v1/routing_pb.js";
import { varintSize, writeVarint } from "../binding/pre-encoded.js";
import { encodeReused } from "./reused-writer.js";
import { NotCanonical, readEnd, readString, readTag, structAt, tagOf, utf8Length, WireReader, writeStruct } from "./struct-codec.js";

/**
 * Hand-written wire codecs for Route, the hottest unary call: the request's Structs are decoded straight to JSON,
 * and the response is encoded straight from the core's record, without building messages. Both give exactly what
 * protobuf-es gives — the decoder the result or the error of `fromBinary`, the encoder the bytes of `toBinary` —
 * pinned by property-based differential tests (test/service/route-codec.test.ts).
 */

/**
 * The canonical-form fast path of {@link decodeRouteRequest}; throws (mostly {@link NotCanonical}) on anything
 * else. Exported for tests, which check that it is the path canonical requests take.
 */
export function decodeCanonical(bytes: Uint8Array): RouteRequest {
  const r = new WireReader(bytes);
  let policySource: RouteRequest["policySource"] = { case: undefined };
  let currentTask = "";
  let state: JsonObject | undefined;
  let executionTimeMs = 0;
  let retryCount = 0;
  let customData: JsonObject | undefined;
  let correlationId = "";
  let coordinationId = "";
  while (r.pos < r.len) {
    switch (readTag(r)) {
      case 10: // 1 policy_id
        policySource = { case: "policyId", value: readString(r) };
        break;
      case 26: // 3 current_task
        currentTask = readString(r);
        break;
      case 34: // 4 state (a second one would merge into the first: fromBinary's job)
        if (state !== undefined) throw new NotCanonical("state repeated");
        state = structAt(r, readEnd(r), 2);
        break;
      case 41: // 5 execution_time_ms
        executionTimeMs = r.double();
        break;
      case 48: // 6 retry_count
        retryCount = r.int32();
        break;
      case 58: // 7 custom_data
        if (customData !== undefined) throw new NotCanonical("custom_data repeated");
        customData = structAt(r, readEnd(r), 2);
        break;
      case 66: // 8 correlation_id
        correlationId = readString(r);
        break;
      case 74: // 9 coordination_id
        coordinationId = readString(r);
        break;
      default: // 2 policy (an inline policy is compiled per call anyway), unknown fields, wrong wire types
        throw new NotCanonical("field");
    }
  }
  if (r.pos !== r.len) throw new NotCanonical("end");
  const req = { $typeName: "consort.v1.RouteRequest", policySource, currentTask, executionTimeMs, retryCount, correlationId, coordinationId } as RouteRequest;
  if (state !== undefined) req.state = state;
  if (customData !== undefined) req.customData = customData;
  return req;
}

/**
 * Decodes RouteRequest bytes into exactly what `fromBinary(RouteRequestSchema, bytes)` gives, or throws what it
 * throws: canonical requests (what every protobuf encoder writes) on the fast path, anything else through
 * `fromBinary` itself. The fast result is a plain object of the message's shape (Structs as JSON).
 */
export function decodeRouteRequest(bytes: Uint8Array): RouteRequest {
  try {
    return decodeCanonical(bytes);
  } catch {
    return fromBinary(RouteRequestSchema, bytes);
  }
}

/** The encoding of RoutingResult fields 2–7 (decision … metadata) of one router result, and what it encodes. */
interface ResultBlock {
  readonly result: Omit<RouterResult, "metadata">;
  readonly bytes: Uint8Array;
}

// The routers' fixed results (a conditional rule's match, every "no match") are frozen and shared by every call
// they win, so their part of the response is encoded once, keyed by their frozen metadata object.
const blocks = new WeakMap<JsonObject, ResultBlock>();

const sameResult = (a: Omit<RouterResult, "metadata">, b: RouterResult) =>
  a.decision === b.decision && a.confidence === b.confidence && a.reasoning === b.reasoning && a.strategy === b.strategy && a.nextTask === b.nextTask;

/** RoutingResult fields 2–7 of `r`: decision, confidence, reasoning, strategy, next_task, metadata (always set). */
function resultBlock(r: RouterResult): Uint8Array {
  const frozen = Object.isFrozen(r.metadata);
  if (frozen) {
    const cached = blocks.get(r.metadata);
    if (cached !== undefined && sameResult(cached.result, r)) return cached.bytes;
  }
  const bytes = encodeReused(writeResultBlock, r);
  if (frozen) {
    blocks.set(r.metadata, { result: { decision: r.decision, confidence: r.confidence, reasoning: r.reasoning, strategy: r.strategy, nextTask: r.nextTask }, bytes });
  }
  return bytes;
}

function writeResultBlock(w: BinaryWriter, r: RouterResult): void {
  const decision = routingDecisions.indexOf(r.decision) + 1;
  const strategy = routingStrategies.indexOf(r.strategy) + 1;
  if (decision !== 0) w.tag(2, WireType.Varint).int32(decision);
  if (!Object.is(r.confidence, 0)) w.tag(3, WireType.Bit64).double(r.confidence);
  if (r.reasoning !== "") w.tag(4, WireType.LengthDelimited).string(r.reasoning);
  if (strategy !== 0) w.tag(5, WireType.Varint).int32(strategy);
  if (r.nextTask !== "") w.tag(6, WireType.LengthDelimited).string(r.nextTask);
  w.tag(7, WireType.LengthDelimited).fork();
  writeStruct(w, r.metadata);
  w.join();
}

/** Bytes of a length-delimited string field: tag, length, UTF-8. 0 for "" (proto3 leaves it out). */
const stringFieldSize = (s: string, bytes: number) => (s === "" ? 0 : 1 + varintSize(bytes) + bytes);

function writeStringField(out: Buffer, pos: number, tag: number, s: string, bytes: number): number {
  if (s === "") return pos;
  out[pos++] = tag;
  pos = writeVarint(out, pos, bytes);
  if (bytes !== s.length) return pos + out.write(s, pos, bytes, "utf8");
  // As many bytes as UTF-16 units: all ASCII.
  for (let i = 0; i < bytes; i++) out[pos + i] = s.charCodeAt(i);
  return pos + bytes;
}

/**
 * Encodes RouteResponse{result: record} into a Buffer, byte for byte what `toBinary(RouteResponseSchema, …)`
 * gives for the same result (fields in declaration order, which is number order; proto3 defaults left out,
 * metadata always present).
 */
export function encodeRouteResponse(record: RoutingRecord): Buffer {
  const block = resultBlock(record);
  const idBytes = utf8Length(record.routingId);
  const taskBytes = utf8Length(record.currentTask);
  const correlationBytes = utf8Length(record.correlationId);
  const coordinationBytes = utf8Length(record.coordinationId);
  const seconds = Math.floor(record.createdAt / 1000);
  const nanos = (record.createdAt - seconds * 1000) * 1_000_000;
  const timestampSize = (seconds !== 0 ? 1 + varintSize(seconds) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
  const resultSize =
    stringFieldSize(record.routingId, idBytes) +
    block.length +
    (Object.is(record.routingTimeMs, 0) ? 0 : 9) +
    (record.routersEvaluated !== 0 ? 1 + varintSize(record.routersEvaluated) : 0) +
    stringFieldSize(record.currentTask, taskBytes) +
    stringFieldSize(record.correlationId, correlationBytes) +
    1 + varintSize(timestampSize) + timestampSize +
    stringFieldSize(record.coordinationId, coordinationBytes);
  const out = Buffer.allocUnsafe(1 + varintSize(resultSize) + resultSize);
  let pos = 0;
  out[pos++] = tagOf(1, WireType.LengthDelimited);
  pos = writeVarint(out, pos, resultSize);
  pos = writeStringField(out, pos, tagOf(1, WireType.LengthDelimited), record.routingId, idBytes);
  out.set(block, pos);
  pos += block.length;
  if (!Object.is(record.routingTimeMs, 0)) {
    out[pos++] = tagOf(8, WireType.Bit64);
    pos = out.writeDoubleLE(record.routingTimeMs, pos);
  }
  if (record.routersEvaluated !== 0) {
    out[pos++] = tagOf(9, WireType.Varint);
    pos = writeVarint(out, pos, record.routersEvaluated);
  }
  pos = writeStringField(out, pos, tagOf(10, WireType.LengthDelimited), record.currentTask, taskBytes);
  pos = writeStringField(out, pos, tagOf(11, WireType.LengthDelimited), record.correlationId, correlationBytes);
  out[pos++] = tagOf(12, WireType.LengthDelimited);
  pos = writeVarint(out, pos, timestampSize);
  if (seconds !== 0) {
    out[pos++] = tagOf(1, WireType.Varint);
    pos = writeVarint(out, pos, seconds);
  }
  if (nanos !== 0) {
    out[pos++] = tagOf(2, WireType.Varint);
    pos = writeVarint(out, pos, nanos);
  }
  pos = writeStringField(out, pos, tagOf(13, WireType.LengthDelimited), record.coordinationId, coordinationBytes);
  if (pos !== out.length) throw new Error(`RouteResponse encoder wrote ${pos} of ${out.length} bytes`);
  return out;
}
