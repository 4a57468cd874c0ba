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
  | "unimplemented"
  | "internal";

/** One invalid field of a request and the rule its value broke. */
export interface FieldViolation {
  /** The field's path in the request, e.g. `coordination_id` or `policy.routers[0].conditional.rules[2].operator`. */
  readonly field: string;
  /** The rule, e.g. `must be 1 to 100 characters`. */
  readonly description: string;
}

/** Options of {@link ConsortError}. */
export interface ConsortErrorOptions {
  /**
   * A stable UPPER_SNAKE_CASE reason naming the condition a client switches on (`HISTORY_TRIMMED`,
   * `SUBSCRIBER_LAGGING`, `FIELD_INVALID`…), never the status code again (AIP-193).
   */
  readonly reason: string;
  /** Named values clients act on, e.g. `{ oldest_sequence: "5" }`. @default {} */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Invalid fields (kind `invalid`), every one of them. @default [] */
  readonly violations?: readonly FieldViolation[];
  /** The underlying error, for the server's log (never sent to clients). */
  readonly cause?: unknown;
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

  constructor(kind: ErrorKind, message: string, options: ConsortErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.reason = options.reason;
    this.metadata = options.metadata ?? {};
    this.violations = options.violations ?? [];
  }
}

/** The reason of every `invalid` error: a request field broke a rule (the fields are in `violations`). */
const fieldInvalid = "FIELD_INVALID";

/** Violations one error lists at most: an error stays small whatever the request (the message counts the rest). */
export const maxListedViolations = 100;

/**
 * An `invalid` error for every violation (at least one; the first {@link maxListedViolations} are listed): the
 * message reads `<field>: <rule>` for the first, so the field is named even where a transport carries no
 * details, and says how many more there are.
 */
export function invalidFields(violations: readonly FieldViolation[], total = violations.length): ConsortError {
  const [first] = violations;
  if (first === undefined) throw new Error("invalidFields needs at least one violation");
  const more = total > 1 ? ` (and ${total - 1} more invalid field${total > 2 ? "s" : ""})` : "";
  return new ConsortError("invalid", `${first.field}: ${first.description}${more}`, {
    reason: fieldInvalid,
    violations: violations.slice(0, maxListedViolations),
  });
}

/**
 * Collects every broken rule of a request before anything is done with it, so that one error lists them all:
 * `check` records, `throwIfAny` throws them together.
 */
const none: readonly FieldViolation[] = Object.freeze([]);

export class Violations {
  // Made on the first violation: most requests have none, and Route and Publish create one of these per call.
  #list: FieldViolation[] | undefined;
  #fields: Set<string> | undefined;
  #total = 0;

  /** Starts with `found`: violations the caller found while decoding the request (e.g. an unknown enum number). */
  constructor(found?: readonly FieldViolation[]) {
    if (found !== undefined) for (const v of found) this.add(v.field, v.description);
  }

  /**
   * Records that `field` broke `rule`. A field already recorded keeps its first rule; past
   * {@link maxListedViolations} fields are only counted.
   */
  add(field: string, rule: string): void {
    const fields = (this.#fields ??= new Set());
    if (fields.has(field)) return;
    fields.add(field);
    this.#total++;
    const list = (this.#list ??= []);
    if (list.length < maxListedViolations) list.push({ field, description: rule });
  }

  /** The violations recorded so far (at most {@link maxListedViolations}). */
  get list(): readonly FieldViolation[] {
    return this.#list ?? none;
  }

  /** One `invalid` error listing the recorded violations (at least one must be recorded). */
  toError(): ConsortError {
    return invalidFields(this.list, this.#total);
  }

  /** Throws {@link toError} if any violation was recorded. */
  throwIfAny(): void {
    if (this.#total > 0) throw this.toError();
  }
}

/** True when `e` is a {@link ConsortError}. */
export function isConsortError(e: unknown): e is ConsortError {
  return e instanceof ConsortError;
}
