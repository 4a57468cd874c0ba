import { toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { Code } from "@connectrpc/connect";
import { encodeEnvelope, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, codeToString, endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { errorInfo, statusDetailsBin, type WireError } from "./errors.js";

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/**
 * The answer of the HTTP/1.1 port to a bidirectional method (PublishStream): HTTP/1.1 cannot carry requests and
 * responses at once, so the call is refused UNIMPLEMENTED with ErrorInfo reason HTTP2_REQUIRED, in the form of the
 * call's protocol (gRPC-Web trailer, Connect end-of-stream message), instead of the bare HTTP 505 connect would
 * send. `error` is what was answered, for the log and metrics.
 */
export function http2Required(method: string, contentType: string): { response: UniversalServerResponse; error: WireError } {
  const message = `${method} streams both ways and needs HTTP/2: call it on the gRPC port (or publish one signal at a time with Publish)`;
  const info = errorInfo("HTTP2_REQUIRED", { method });
  const error: WireError = { code: Code.Unimplemented, message, details: [info], unexpected: false, cause: undefined };
  if (contentType.startsWith("application/grpc-web")) {
    const trailer = new Headers({
      "grpc-status": String(Code.Unimplemented),
      "grpc-message": encodeURIComponent(message),
      "grpc-status-details-bin": statusDetailsBin(error).toString("base64").replace(/=+$/, ""),
    });
    let body: Uint8Array = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
    if (contentType.startsWith("application/grpc-web-text")) body = new TextEncoder().encode(base64Encode(body, "std"));
    return { response: { status: 200, header: new Headers({ "content-type": contentType }), body: once(body) }, error };
  }
  const json = {
    code: codeToString(Code.Unimplemented),
    message,
    details: [{ type: ErrorInfoSchema.typeName, value: base64Encode(toBinary(ErrorInfoSchema, info.value as never), "std_raw") }],
  };
  if (contentType.startsWith("application/connect+")) {
    const end = new TextEncoder().encode(JSON.stringify({ error: json }));
    return { response: { status: 200, header: new Headers({ "content-type": contentType }), body: once(encodeEnvelope(endStreamFlag, end)) }, error };
  }
  const body = new TextEncoder().encode(JSON.stringify(json));
  return { response: { status: codeToHttpStatus(Code.Unimplemented), header: new Headers({ "content-type": "application/json" }), body: once(body) }, error };
}
