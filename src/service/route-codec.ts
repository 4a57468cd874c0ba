import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { JsonObject } from "../core/json.js";
import { RouteRequestSchema, RoutingPolicySchema, type RouteRequest, type RoutingResult } from "../../gen/ts/consort/v1/routing_pb.js";
import { structAt, writeStruct } from "./struct-codec.js";

/**
 * Hand-written wire codecs for Route, the hottest unary call: the request's Structs are decoded straight to JSON
 * and the response is encoded without building Struct messages. Both are pinned to protobuf-es's own codec by
 * tests (test/service/route-codec.test.ts); any field this decoder does not know is skipped, as protobuf does.
 */

/** Decodes RouteRequest bytes (equivalent to `fromBinary(RouteRequestSchema, bytes)`). */
export function decodeRouteRequest(bytes: Uint8Array): RouteRequest {
  const r = new BinaryReader(bytes);
  const init: {
    policySource?: RouteRequest["policySource"];
    currentTask?: string;
    state?: JsonObject;
    executionTimeMs?: number;
    retryCount?: number;
    customData?: JsonObject;
    correlationId?: string;
  } = {};
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1:
        init.policySource = { case: "policyId", value: r.string() };
        break;
      case 2:
        init.policySource = { case: "policy", value: fromBinary(RoutingPolicySchema, r.bytes()) };
        break;
      case 3:
        init.currentTask = r.string();
        break;
      case 4:
        init.state = structAt(r, r.uint32() + r.pos);
        break;
      case 5:
        init.executionTimeMs = r.double();
        break;
      case 6:
        init.retryCount = r.int32();
        break;
      case 7:
        init.customData = structAt(r, r.uint32() + r.pos);
        break;
      case 8:
        init.correlationId = r.string();
        break;
      default:
        r.skip(wt, no);
    }
  }
  return create(RouteRequestSchema, init);
}

// A rule's metadata object is the same for every match: its Struct bytes are encoded once.
const metadataBytes = new WeakMap<JsonObject, Uint8Array>();

function structBytes(obj: JsonObject): Uint8Array {
  let b = metadataBytes.get(obj);
  if (b === undefined) {
    b = writeStruct(new BinaryWriter(), obj).finish();
    metadataBytes.set(obj, b);
  }
  return b;
}

/** Encodes RouteResponse{result} (equivalent to `toBinary(RouteResponseSchema, …)`); fields in number order. */
export function encodeRouteResponse(result: RoutingResult, metadata: JsonObject): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork();
  if (result.routingId !== "") w.tag(1, WireType.LengthDelimited).string(result.routingId);
  if (result.decision !== 0) w.tag(2, WireType.Varint).int32(result.decision);
  if (result.confidence !== 0) w.tag(3, WireType.Bit64).double(result.confidence);
  if (result.reasoning !== "") w.tag(4, WireType.LengthDelimited).string(result.reasoning);
  if (result.strategy !== 0) w.tag(5, WireType.Varint).int32(result.strategy);
  if (result.nextTask !== "") w.tag(6, WireType.LengthDelimited).string(result.nextTask);
  w.tag(7, WireType.LengthDelimited).bytes(structBytes(metadata));
  if (result.routingTimeMs !== 0) w.tag(8, WireType.Bit64).double(result.routingTimeMs);
  if (result.routersEvaluated !== 0) w.tag(9, WireType.Varint).int32(result.routersEvaluated);
  if (result.currentTask !== "") w.tag(10, WireType.LengthDelimited).string(result.currentTask);
  if (result.correlationId !== "") w.tag(11, WireType.LengthDelimited).string(result.correlationId);
  const t = result.createdAt;
  if (t !== undefined) {
    w.tag(12, WireType.LengthDelimited).fork();
    if (t.seconds !== 0n) w.tag(1, WireType.Varint).int64(t.seconds);
    if (t.nanos !== 0) w.tag(2, WireType.Varint).int32(t.nanos);
    w.join();
  }
  w.join();
  return w.finish();
}
