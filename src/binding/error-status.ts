import { Code } from "@connectrpc/connect";
import type { ErrorKind } from "../core/errors.js";

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
