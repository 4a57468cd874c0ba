import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Metadata, status as GrpcStatus, type StatusObject } from "@grpc/grpc-js";
import { type ErrorKind, isConsortError } from "../core/errors.js";
import { BadRequestSchema, ErrorInfoSchema, type BadRequest, type ErrorInfo } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";

/** The domain of every ErrorInfo Consort sends. */
export const errorDomain = "consort.v1";

/** The one table from domain error kinds to status codes (gRPC and Connect share the numbers). */
export const codeByKind: Readonly<Record<ErrorKind, Code>> = {
  invalid: Code.InvalidArgument,
  not_found: Code.NotFound,
  out_of_range: Code.OutOfRange,
  exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  unavailable: Code.Unavailable,
  aborted: Code.Aborted,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
};

/** The ErrorInfo of an error Consort did not raise itself: its reason and the values a client acts on. */
export interface TransportCondition {
  /** The status code to send: the library's own, except where it misnames the condition (see below). */
  readonly code: Code;
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The condition behind a status that a transport library raised on its own (grpc-js or connect: an unknown
 * method, a message over the size limit, an undecodable request, a deadline), read from its code and message;
 * the table every such status goes through on both ports, so that it too carries an ErrorInfo a client can
 * switch on.
 */
export function transportCondition(code: Code, message: string): TransportCondition {
  const c = condition(code, message);
  return { code: c.code ?? code, reason: c.reason, metadata: c.metadata };
}

function condition(code: Code, message: string): Omit<TransportCondition, "code"> & { code?: Code } {
  const sizes = /(\d+)\D+?(\d+)/.exec(message);
  const limit = sizes?.[2] !== undefined ? { size_bytes: sizes[1] as string, limit_bytes: sizes[2] } : {};
  // connect answers INTERNAL for a binary request it cannot decode (and INVALID_ARGUMENT for bad JSON): it is the
  // client's malformed message either way, as on the gRPC port.
  if (code === Code.Internal && message.startsWith("parse binary:")) return { code: Code.InvalidArgument, reason: "MALFORMED_MESSAGE", metadata: {} };
  switch (code) {
    case Code.ResourceExhausted:
      // grpc-js: "Received message larger than max", "Sent message…"; connect: "…readMaxBytes…", "…writeMaxBytes…".
      if (/received|read/i.test(message)) return { reason: "MESSAGE_TOO_LARGE", metadata: limit };
      if (/sent|write/i.test(message)) return { reason: "RESPONSE_TOO_LARGE", metadata: limit };
      return { reason: "TRANSPORT_LIMIT_REACHED", metadata: {} };
    case Code.Unimplemented:
      if (/compress|encoding/i.test(message)) return { reason: "UNSUPPORTED_COMPRESSION", metadata: {} };
      if (/request message|input message/i.test(message)) return { reason: "PROTOCOL_VIOLATION", metadata: {} };
      return { reason: "METHOD_NOT_FOUND", metadata: {} };
    case Code.InvalidArgument:
      if (/timeout/i.test(message)) return { reason: "INVALID_TIMEOUT", metadata: {} };
      return { reason: "MALFORMED_MESSAGE", metadata: {} };
    case Code.DeadlineExceeded:
      return { reason: "DEADLINE_PASSED", metadata: {} };
    case Code.Canceled:
      return { reason: "CALL_CANCELED", metadata: {} };
    case Code.Unavailable:
      return { reason: "SHUTTING_DOWN", metadata: {} };
    case Code.NotFound:
      return { reason: "SERVICE_UNKNOWN", metadata: {} };
    default:
      return { reason: "UNEXPECTED_ERROR", metadata: {} };
  }
}

/** One error detail: an ErrorInfo or a BadRequest. */
export type WireDetail =
  | { readonly desc: typeof ErrorInfoSchema; readonly value: ErrorInfo }
  | { readonly desc: typeof BadRequestSchema; readonly value: BadRequest };

/** A transport-neutral failed status: code, message, and the details to attach. */
export interface WireError {
  readonly code: Code;
  readonly message: string;
  /** Always an ErrorInfo first; a BadRequest after it for invalid requests. */
  readonly details: readonly WireDetail[];
  /** True when the error is not the caller's doing (log it as an error). */
  readonly unexpected: boolean;
  /** What was thrown, for the log (never sent). */
  readonly cause: unknown;
}

/** An ErrorInfo detail of Consort's domain. */
export const errorInfo = (reason: string, metadata: Readonly<Record<string, string>>): WireDetail => ({
  desc: ErrorInfoSchema,
  value: create(ErrorInfoSchema, { reason, domain: errorDomain, metadata: { ...metadata } }),
});

/** True when `details` (Connect's error details) already hold an ErrorInfo. */
function hasErrorInfo(err: ConnectError): boolean {
  return err.details.some((d) => ("desc" in d ? d.desc.typeName : d.type) === ErrorInfoSchema.typeName);
}

/**
 * Maps anything a handler or transport threw to a {@link WireError} with an ErrorInfo. Unknown errors become
 * INTERNAL "internal error" (reason UNEXPECTED_ERROR) without their text, which only the log gets.
 */
export function toWireError(err: unknown): WireError {
  if (isConsortError(err)) {
    const details: WireDetail[] = [errorInfo(err.reason, err.metadata)];
    if (err.violations.length > 0) {
      details.push({ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: err.violations.map((v) => ({ ...v })) }) });
    }
    return { code: codeByKind[err.kind], message: err.message, details, unexpected: err.kind === "internal", cause: err };
  }
  if (err instanceof ConnectError) {
    if (hasErrorInfo(err)) return { code: err.code, message: err.rawMessage, details: [], unexpected: false, cause: err };
    const c = transportCondition(err.code, err.rawMessage);
    return {
      code: c.code,
      message: err.rawMessage,
      details: [errorInfo(c.reason, c.metadata)],
      unexpected: c.code === Code.Internal || c.code === Code.Unknown,
      cause: err,
    };
  }
  return { code: Code.Internal, message: "internal error", details: [errorInfo("UNEXPECTED_ERROR", {})], unexpected: true, cause: err };
}

/** The error as a ConnectError (Connect and gRPC-Web), ErrorInfo and BadRequest included. */
export function toConnectError(err: unknown): ConnectError {
  const w = toWireError(err);
  const details = w.details.map((d) => ({ desc: d.desc, value: d.value }) as never);
  if (err instanceof ConnectError) {
    if (w.details.length === 0) return err;
    const merged = new ConnectError(w.message, w.code, err.metadata, details, err.cause);
    merged.details.unshift(...err.details);
    return merged;
  }
  return new ConnectError(w.message, w.code, undefined, details, err);
}

/** The bytes of the google.rpc.Status carrying `w`'s details (the `grpc-status-details-bin` value). */
export function statusDetailsBin(w: Pick<WireError, "code" | "message" | "details">): Buffer {
  const st = create(StatusSchema, {
    code: w.code,
    message: w.message,
    details: w.details.map((d) => anyPack(d.desc as typeof ErrorInfoSchema, d.value as ErrorInfo)),
  });
  return Buffer.from(toBinary(StatusSchema, st));
}

/** The error as a grpc-js status, with google.rpc.Status in the `grpc-status-details-bin` trailer. */
export function toGrpcStatus(w: WireError): Partial<StatusObject> & { code: GrpcStatus } {
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", statusDetailsBin(w));
  return { code: w.code as number as GrpcStatus, details: w.message, metadata };
}

/** True when the packed details of a google.rpc.Status include an ErrorInfo. */
export function anyHasErrorInfo(details: readonly Any[]): boolean {
  return details.some((a) => anyUnpack(a, ErrorInfoSchema) !== undefined);
}
