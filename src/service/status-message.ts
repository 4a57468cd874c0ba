import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { codeByKind, errorDomain } from "../binding/error-status.js";
import type { ConsortError } from "../core/errors.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema, type Status } from "../../gen/ts/google/rpc/status_pb.js";

/**
 * A domain error as a google.rpc.Status message: the code, message and details (ErrorInfo, then BadRequest for
 * invalid fields) a call failing with it would end with — what a stream reports in-band for one of its requests.
 */
export function statusOf(err: ConsortError): Status {
  const details = [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: err.reason, domain: errorDomain, metadata: { ...err.metadata } }))];
  if (err.violations.length > 0) {
    details.push(anyPack(BadRequestSchema, create(BadRequestSchema, { fieldViolations: err.violations.map((v) => ({ ...v })) })));
  }
  return create(StatusSchema, { code: codeByKind[err.kind], message: err.message, details });
}
