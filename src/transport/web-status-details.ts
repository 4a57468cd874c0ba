import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { Code } from "@connectrpc/connect";
import {
  encodeEnvelope,
  readAllBytes,
  transformSplitEnvelope,
  type EnvelopedMessage,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { codeFromString, codeToHttpStatus, codeToString, endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import { anyHasErrorInfo, errorInfo, statusDetailsBin, transportCondition, type WireError } from "./errors.js";

/**
 * connect answers some calls itself, before or after Consort's interceptor sees them: an undecodable request, a
 * request or response over the message limit, an unsupported compression, a missing request message. Their
 * errors carry no details. This gives each of them an ErrorInfo (reason from {@link transportCondition}) in the
 * form of its protocol — the Connect unary error body, the Connect end-of-stream message, the gRPC-Web trailer —
 * so every error on the HTTP port carries one. Errors that already have one (all of Consort's) pass unchanged.
 */

/** Hears about each error connect raised on its own (the interceptor did not see it). */
export type WebTransportErrorListener = (error: WireError) => void;

/** A Connect JSON error with an ErrorInfo added (and its code corrected), or `undefined` when it has one. */
function connectErrorJson(error: { code?: unknown; message?: unknown; details?: unknown }, onError: WebTransportErrorListener): { code: string; [k: string]: unknown } | undefined {
  const details = Array.isArray(error.details) ? (error.details as { type?: unknown }[]) : [];
  if (details.some((d) => d.type === ErrorInfoSchema.typeName)) return undefined;
  const code = (typeof error.code === "string" ? codeFromString(error.code) : undefined) ?? Code.Unknown;
  const message = typeof error.message === "string" ? error.message : "";
  const c = transportCondition(code, message);
  const info = errorInfo(c.reason, c.metadata);
  onError({ code: c.code, message, details: [info], unexpected: c.code === Code.Internal, cause: undefined });
  return {
    ...error,
    code: codeToString(c.code),
    details: [...details, { type: ErrorInfoSchema.typeName, value: base64Encode(toBinary(ErrorInfoSchema, info.value as never), "std_raw") }],
  };
}

/** A gRPC-Web trailer with `grpc-status-details-bin` added to an error status that has no ErrorInfo. */
function grpcWebTrailer(data: Uint8Array, onError: WebTransportErrorListener): Uint8Array {
  const trailer = trailerParse(data);
  const status = Number(trailer.get("grpc-status") ?? "0");
  if (status === 0) return data;
  const existing = trailer.get("grpc-status-details-bin");
  if (existing !== null && anyHasErrorInfo(fromBinary(StatusSchema, base64Decode(existing)).details)) return data;
  let message = trailer.get("grpc-message") ?? "";
  try {
    message = decodeURIComponent(message);
  } catch {
    // Not percent-encoded: kept as is.
  }
  const c = transportCondition(status as Code, message);
  const w: WireError = { code: c.code, message, details: [errorInfo(c.reason, c.metadata)], unexpected: c.code === Code.Internal, cause: undefined };
  onError(w);
  trailer.set("grpc-status", String(c.code));
  trailer.set("grpc-status-details-bin", statusDetailsBin(w).toString("base64").replace(/=+$/, ""));
  return trailerSerialize(trailer);
}

/**
 * A streamed body with its status envelope — the first whose flags `isStatus` accepts; protocols send it last —
 * passed through `rewrite`. Every envelope before it passes as the chunks it came in, uncopied: a stream's
 * messages cost nothing here, only its end is read. Envelope boundaries are followed across any chunking.
 */
export async function* rewriteStatusEnvelope(
  body: AsyncIterable<Uint8Array>,
  isStatus: (flags: number) => boolean,
  rewrite: (e: EnvelopedMessage) => EnvelopedMessage,
): AsyncIterable<Uint8Array> {
  let header = 0; // header bytes of the current envelope read so far (0 to 5)
  let length = 0; // its payload length, as its header gives it
  let payloadLeft = 0;
  let tail: Uint8Array[] | undefined; // from the status envelope's first byte on
  for await (const chunk of body) {
    if (tail !== undefined) {
      tail.push(chunk);
      continue;
    }
    for (let pos = 0; pos < chunk.length; ) {
      if (header === 5) {
        const n = Math.min(payloadLeft, chunk.length - pos);
        pos += n;
        payloadLeft -= n;
        if (payloadLeft === 0) header = 0;
      } else if (header === 0 && isStatus(chunk[pos] as number)) {
        if (pos > 0) yield chunk.subarray(0, pos);
        tail = [chunk.subarray(pos)];
        break;
      } else {
        if (header > 0) length = length * 256 + (chunk[pos] as number);
        else length = 0;
        header++;
        pos++;
        if (header === 5) {
          payloadLeft = length;
          if (payloadLeft === 0) header = 0;
        }
      }
    }
    if (tail === undefined) yield chunk;
  }
  if (tail === undefined) return;
  yield* encodeAll(transformSplitEnvelope(0x7fffffff)(once(Buffer.concat(tail))), rewrite);
}

/** Envelopes encoded again, the first one rewritten. */
async function* encodeAll(envelopes: AsyncIterable<EnvelopedMessage>, rewrite: (e: EnvelopedMessage) => EnvelopedMessage): AsyncIterable<Uint8Array> {
  let first = true;
  for await (const e of envelopes) {
    const out = first ? rewrite(e) : e;
    first = false;
    yield encodeEnvelope(out.flags, out.data);
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** A Connect unary error response with an ErrorInfo in its JSON body, and the HTTP status of its code. */
async function connectUnaryError(res: UniversalServerResponse, body: AsyncIterable<Uint8Array>, onError: WebTransportErrorListener): Promise<UniversalServerResponse> {
  const bytes = await readAllBytes(body, 0x7fffffff);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { ...res, body: once(bytes) };
  }
  const enriched = typeof json === "object" && json !== null ? connectErrorJson(json, onError) : undefined;
  if (enriched === undefined) return { ...res, body: once(bytes) };
  const out = new TextEncoder().encode(JSON.stringify(enriched));
  const header = new Headers(res.header);
  header.set("content-length", String(out.byteLength));
  return { ...res, status: codeToHttpStatus(codeFromString(enriched.code) ?? Code.Unknown), header, body: once(out) };
}

/**
 * `res` with an ErrorInfo in every error it carries, and a code that names the client's mistake where connect
 * calls it INTERNAL (an undecodable binary request). Reads only what it must: a Connect unary error body, and
 * the last envelope of a Connect or gRPC-Web stream (which holds the status).
 */
export async function withErrorDetails(res: UniversalServerResponse, onError: WebTransportErrorListener): Promise<UniversalServerResponse> {
  const type = res.header?.get("content-type") ?? "";
  const body = res.body;
  if (body === undefined) return res;
  const stream = body instanceof Uint8Array ? once(body) : body;
  if (res.status !== 200 && type.startsWith("application/json")) return connectUnaryError(res, stream, onError);
  if (type.startsWith("application/connect+")) {
    return {
      ...res,
      body: rewriteStatusEnvelope(stream, (flags) => (flags & endStreamFlag) === endStreamFlag, (e) => {
        const end = JSON.parse(new TextDecoder().decode(e.data)) as { error?: object };
        const error = end.error === undefined ? undefined : connectErrorJson(end.error, onError);
        return error === undefined ? e : { flags: e.flags, data: new TextEncoder().encode(JSON.stringify({ ...end, error })) };
      }),
    };
  }
  if (type.startsWith("application/grpc-web")) {
    return {
      ...res,
      body: rewriteStatusEnvelope(stream, (flags) => (flags & trailerFlag) === trailerFlag, (e) => ({ flags: e.flags, data: grpcWebTrailer(e.data, onError) })),
    };
  }
  return res;
}
