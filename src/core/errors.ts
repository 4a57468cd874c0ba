/**
 * Domain errors. The core throws only {@link ConsortError}; `src/transport/errors.ts` maps its `kind` to a
 * status code in one table, and carries `reason`, `metadata` and `violations` as error details.
 */

/** What went wrong, independent of any transport. */
export type ErrorKind =
  | "invalid"
  | "not_found"
  | "out_of_range"
  | "exhausted"
  | "failed_precondition"
  | "unavailable"
  | "aborted"
  | "internal";

/** One invalid field of a request and the rule its value broke. */
export interface FieldViolation {
  /** The field's path in the request, e.g. `coordination_id`. */
  readonly field: string;
  /** The rule, e.g. `must be 1 to 100 characters`. */
  readonly description: string;
}

/** Options of {@link ConsortError}. */
export interface ConsortErrorOptions {
  /** A stable UPPER_SNAKE_CASE reason, e.g. `HISTORY_TRIMMED`. @default derived from the kind */
  readonly reason?: string;
  /** Named values clients act on, e.g. `{ oldest_sequence: "5" }`. @default {} */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Invalid fields (kind `invalid`). @default [] */
  readonly violations?: readonly FieldViolation[];
}

/** The one error type of the domain core. */
export class ConsortError extends Error {
  override readonly name = "ConsortError";
  /** The error's kind; decides the status code. */
  readonly kind: ErrorKind;
  /** A stable machine-readable reason. */
  readonly reason: string;
  /** Named values clients act on. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Invalid fields, for kind `invalid`. */
  readonly violations: readonly FieldViolation[];

  constructor(kind: ErrorKind, message: string, options: ConsortErrorOptions = {}) {
    super(message);
    this.kind = kind;
    this.reason = options.reason ?? kind.toUpperCase();
    this.metadata = options.metadata ?? {};
    this.violations = options.violations ?? [];
  }
}

/**
 * An `invalid` error for one field: the message reads `<field>: <rule>` so that the field is named even where
 * a transport carries no details.
 */
export function invalidField(field: string, rule: string): ConsortError {
  return new ConsortError("invalid", `${field}: ${rule}`, {
    reason: "INVALID_ARGUMENT",
    violations: [{ field, description: rule }],
  });
}

/** True when `e` is a {@link ConsortError} (also across module copies). */
export function isConsortError(e: unknown): e is ConsortError {
  return e instanceof ConsortError;
}
