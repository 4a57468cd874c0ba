import { fromBinary } from "@bufbuild/protobuf";
import type { JsonObject } from "../core/json.js";
import { PublishRequestSchema, PublishStreamRequestSchema, type PublishRequest, type PublishStreamRequest } from "../../gen/ts/consort/v1/signal_pb.js";
import { NotCanonical, readEnd, readString, readTag, structAt, WireReader } from "./struct-codec.js";

/**
 * Hand-written request decoders for Publish and PublishStream, the calls every agent makes all the time: the
 * Structs are decoded straight to JSON, no message is built by reflection. Each gives exactly what `fromBinary`
 * gives — its result or its error — pinned by a property-based differential test (test/service/publish-codec.test.ts):
 * canonical input (what every protobuf encoder writes) takes the fast path, anything else goes to `fromBinary`.
 */

/** The PublishRequest between the reader's position and `end`, at message depth `depth`; throws on non-canonical input. */
function publishAt(r: WireReader, end: number, depth: number): PublishRequest {
  let coordinationId = "";
  let type = 0;
  let senderAgentId = "";
  const recipientAgentIds: string[] = [];
  let data: JsonObject | undefined;
  let metadata: JsonObject | undefined;
  let idempotencyKey = "";
  while (r.pos < end) {
    switch (readTag(r)) {
      case 10: // 1 coordination_id
        coordinationId = readString(r);
        break;
      case 16: // 2 type (an open enum: any int32)
        type = r.int32();
        break;
      case 26: // 3 sender_agent_id
        senderAgentId = readString(r);
        break;
      case 34: // 4 recipient_agent_ids
        recipientAgentIds.push(readString(r));
        break;
      case 42: // 5 data (a second one would merge into the first: fromBinary's job)
        if (data !== undefined) throw new NotCanonical("data repeated");
        data = structAt(r, readEnd(r), depth + 1);
        break;
      case 50: // 6 metadata
        if (metadata !== undefined) throw new NotCanonical("metadata repeated");
        metadata = structAt(r, readEnd(r), depth + 1);
        break;
      case 58: // 7 idempotency_key
        idempotencyKey = readString(r);
        break;
      default: // unknown fields, wrong wire types, packed or multi-byte tags
        throw new NotCanonical("field");
    }
  }
  if (r.pos !== end) throw new NotCanonical("end");
  const req = { $typeName: "consort.v1.PublishRequest", coordinationId, type, senderAgentId, recipientAgentIds, idempotencyKey } as PublishRequest;
  if (data !== undefined) req.data = data;
  if (metadata !== undefined) req.metadata = metadata;
  return req;
}

/** The canonical-form fast path of {@link decodePublishRequest}. Exported for tests. */
export function decodePublishCanonical(bytes: Uint8Array): PublishRequest {
  const r = new WireReader(bytes);
  return publishAt(r, r.len, 1);
}

/** The canonical-form fast path of {@link decodePublishStreamRequest}. Exported for tests. */
export function decodePublishStreamCanonical(bytes: Uint8Array): PublishStreamRequest {
  const r = new WireReader(bytes);
  let publish: PublishRequest | undefined;
  while (r.pos < r.len) {
    if (readTag(r) !== 10 || publish !== undefined) throw new NotCanonical("field"); // 1 publish, once
    publish = publishAt(r, readEnd(r), 2);
  }
  const req = { $typeName: "consort.v1.PublishStreamRequest" } as PublishStreamRequest;
  if (publish !== undefined) req.publish = publish;
  return req;
}

/** PublishRequest bytes decoded into exactly what `fromBinary(PublishRequestSchema, bytes)` gives, or its error. */
export function decodePublishRequest(bytes: Uint8Array): PublishRequest {
  try {
    return decodePublishCanonical(bytes);
  } catch {
    return fromBinary(PublishRequestSchema, bytes);
  }
}

/** PublishStreamRequest bytes decoded into exactly what `fromBinary(PublishStreamRequestSchema, bytes)` gives, or its error. */
export function decodePublishStreamRequest(bytes: Uint8Array): PublishStreamRequest {
  try {
    return decodePublishStreamCanonical(bytes);
  } catch {
    return fromBinary(PublishStreamRequestSchema, bytes);
  }
}
