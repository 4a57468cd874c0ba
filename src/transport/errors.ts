import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Metadata, status as GrpcStatus, type StatusObject } from "@grpc/grpc-js";
import { type ErrorKind, isConsortError } from "../core/errors.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
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
  internal: Code.Internal,
};

/** A transport-neutral failed status: code, message, and the details to attach. */
export interface WireError {
  readonly code: Code;
  readonly message: string;
  readonly details: ReadonlyArray<
    | { readonly desc: typeof ErrorInfoSchema; readonly value: ReturnType<typeof create<typeof ErrorInfoSchema>> }
    | { readonly desc: typeof BadRequestSchema; readonly value: ReturnType<typeof create<typeof BadRequestSchema>> }
  >;
  /** True when the error is not the caller's doing (log it as an error). */
  readonly unexpected: boolean;
}

/** Maps anything a handler threw to a {@link WireError}; unknown errors become INTERNAL without their text. */
export function toWireError(err: unknown): WireError {
  if (isConsortError(err)) {
    const details: WireError["details"][number][] = [
      {
        desc: ErrorInfoSchema,
        value: create(ErrorInfoSchema, { reason: err.reason, domain: errorDomain, metadata: { ...err.metadata } }),
      },
    ];
    if (err.violations.length > 0) {
      details.push({
        desc: BadRequestSchema,
        value: create(BadRequestSchema, { fieldViolations: err.violations.map((v) => ({ ...v })) }),
      });
    }
    return { code: codeByKind[err.kind], message: err.message, details, unexpected: err.kind === "internal" };
  }
  if (err instanceof ConnectError) return { code: err.code, message: err.rawMessage, details: [], unexpected: false };
  return { code: Code.Internal, message: "internal error", details: [], unexpected: true };
}

/** The error as a ConnectError (Connect and gRPC-Web), details included. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const w = toWireError(err);
  return new ConnectError(w.message, w.code, undefined, w.details.map((d) => ({ desc: d.desc, value: d.value }) as never), err);
}

/** The error as a grpc-js status, with google.rpc.Status in the `grpc-status-details-bin` trailer. */
export function toGrpcStatus(err: unknown): Partial<StatusObject> & { code: GrpcStatus } {
  const w = toWireError(err);
  const metadata = new Metadata();
  if (w.details.length > 0) {
    const st = create(StatusSchema, {
      code: w.code,
      message: w.message,
      details: w.details.map((d) => anyPack(d.desc as typeof ErrorInfoSchema, d.value as never)),
    });
    metadata.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, st)));
  }
  return { code: w.code as number as GrpcStatus, details: w.message, metadata };
}
