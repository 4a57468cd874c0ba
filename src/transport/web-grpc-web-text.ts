import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";

/**
 * gRPC-Web's text mode (`application/grpc-web-text`), which Google's grpc-web client uses for server streaming:
 * the same frames as binary gRPC-Web, base64-encoded both ways. connect serves binary gRPC-Web only, so a text
 * request is decoded into a binary one before it, and its binary response encoded back: each chunk of the body
 * base64 on its own, with padding (the protocol lets a client decode a sequence of padded chunks), so a streamed
 * message is never held back waiting for the next one.
 */

const textType = /^application\/grpc-web-text(\+proto)?(;|$)/i;

/** True for a gRPC-Web text request. */
export function isGrpcWebText(req: UniversalServerRequest): boolean {
  return textType.test(req.header.get("content-type") ?? "");
}

const base64Chars = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a base64 body as it arrives; padded groups may appear mid-stream (concatenated padded chunks). */
async function* decodeBase64(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let rest = "";
  for await (const chunk of body) {
    const text = rest + Buffer.from(chunk).toString("latin1").replace(/\s+/g, "");
    const whole = text.length - (text.length % 4);
    rest = text.slice(whole);
    let start = 0;
    for (let i = 0; i < whole; i += 4) {
      const group = text.slice(i, i + 4);
      if (!base64Chars.test(group)) throw new ConnectError("grpc-web-text request body is not valid base64", Code.InvalidArgument);
      if (group.endsWith("=")) {
        yield Buffer.from(text.slice(start, i + 4), "base64");
        start = i + 4;
      }
    }
    if (start < whole) yield Buffer.from(text.slice(start, whole), "base64");
  }
  if (rest !== "") throw new ConnectError("grpc-web-text request body is not valid base64 (truncated)", Code.InvalidArgument);
}

async function* encodeBase64(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    if (chunk.byteLength > 0) yield Buffer.from(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"), "latin1");
  }
}

/** The binary gRPC-Web request a text one stands for. */
export function textRequestToBinary(req: UniversalServerRequest): UniversalServerRequest {
  const header = new Headers(req.header);
  header.set("content-type", "application/grpc-web+proto");
  header.delete("content-length");
  const body = req.body;
  if (typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) return { ...req, header };
  return { ...req, header, body: decodeBase64(body as AsyncIterable<Uint8Array>) };
}

/** The text response a binary gRPC-Web response stands for. */
export function binaryResponseToText(res: UniversalServerResponse): UniversalServerResponse {
  const header = new Headers(res.header);
  const type = header.get("content-type");
  if (type === null || !type.startsWith("application/grpc-web")) return res;
  header.set("content-type", "application/grpc-web-text+proto");
  header.delete("content-length");
  const body = res.body;
  if (body === undefined) return { ...res, header };
  const stream = body instanceof Uint8Array ? (async function* () {
    yield body;
  })() : body;
  return { ...res, header, body: encodeBase64(stream) };
}
