import { ConsortError, type ErrorKind } from "../../core/errors.js";
import type { ContextAppendFailure, ContextAppendFailureReason, FollowEnd } from "./context-log.js";

/**
 * The errors of the JetStream context backend (`context-backend.ts`), as the context engine's callers see them:
 * each a `ConsortError` naming the coordination in its metadata (`coordination_id`).
 */

const appendFailures: Readonly<Record<ContextAppendFailureReason, readonly [ErrorKind, string]>> = {
  conflict: ["aborted", "CONTEXT_CONFLICT"],
  unavailable: ["unavailable", "BACKEND_UNAVAILABLE"],
  head_invalid: ["failed_precondition", "CONTEXT_HEAD_INVALID"],
  too_large: ["exhausted", "CONTEXT_DOCUMENT_TOO_LARGE"],
  rejected: ["internal", "APPEND_REJECTED"],
};

/** A failed append as the engine's callers see it, naming the coordination. */
export function contextAppendError(coordinationId: string, f: ContextAppendFailure, attempts = 1): ConsortError {
  const [kind, reason] = appendFailures[f.reason];
  const what = f.reason === "unavailable" ? "may not have been stored" : "was not stored";
  return new ConsortError(kind, `the context change ${what} in coordination ${JSON.stringify(coordinationId)}: ${f.message}`, {
    reason,
    metadata: { coordination_id: coordinationId, attempts: String(attempts) },
    cause: f.cause ?? f,
  });
}

/** A change to, or a catch-up of, a coordination this replica does not serve (yet, or any more). */
export const notServed = (id: string, why = "its contexts must be loaded (serve) before the engine changes them") =>
  new ConsortError("failed_precondition", `coordination ${JSON.stringify(id)} is not served on this replica: ${why}`, { reason: "COORDINATION_NOT_SERVED", metadata: { coordination_id: id } });

/** What calls still waiting are told when this replica stops following (shutdown). */
export const closedError = (id: string) =>
  new ConsortError("unavailable", `this replica stopped following the contexts of coordination ${JSON.stringify(id)} (shutting down); the change may have been stored`, {
    reason: "SHUTTING_DOWN",
    metadata: { coordination_id: id },
  });

/** A document this replica cannot apply: the follower ends, and the coordination is served again on its next call. */
export const unreadable = (id: string, message: string, reason = "CONTEXT_LOG_UNREADABLE") =>
  new ConsortError("failed_precondition", `the contexts of coordination ${JSON.stringify(id)} cannot be applied here: ${message}`, { reason, metadata: { coordination_id: id } });

/** How a follower's end reads to the calls it leaves waiting and to a load it cuts short. */
export function followError(id: string, end: Exclude<FollowEnd, { reason: "stopped" }>): ConsortError {
  if (end.reason === "failed" && end.cause instanceof ConsortError) return end.cause;
  const [kind, reason]: readonly [ErrorKind, string] = end.reason === "failed" ? ["unavailable", "BACKEND_UNAVAILABLE"] : ["failed_precondition", "CONTEXT_LOG_UNREADABLE"];
  return new ConsortError(kind, `the contexts of coordination ${JSON.stringify(id)} are no longer followed on this replica: ${end.message}`, { reason, metadata: { coordination_id: id }, cause: end });
}
