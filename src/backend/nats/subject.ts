/**
 * Subjects of the JetStream backend (DESIGN.md §8). A coordination's signals go to `<prefix>.<token>`, where the
 * token is the coordination id escaped into one subject token.
 *
 * The escape is unpadded base64url of the id's UTF-8: its alphabet is `[A-Za-z0-9_-]`, so the token never holds
 * `.`, `*`, `>`, whitespace or anything else a subject forbids; and it is injective, because UTF-8 is injective on
 * well-formed strings and unpadded base64url is injective on bytes — two coordinations never share a subject. An
 * id of 100 characters becomes at most 400 characters (3 UTF-8 bytes per UTF-16 unit at most).
 */

/** The subject prefix of signals, DESIGN.md §8's `consort.sig`. */
export const defaultSignalSubjectPrefix = "consort.sig";

const token = /^[A-Za-z0-9_-]+$/;

/**
 * The subject token of a coordination id: unpadded base64url of its UTF-8.
 *
 * Throws a `RangeError` for an empty id or one that is not well-formed UTF-16 (a lone surrogate would encode as
 * U+FFFD and collide with the id holding U+FFFD itself); Consort's validated ids are neither.
 *
 * @example coordinationToken("review/42") === "cmV2aWV3LzQy"
 */
export function coordinationToken(coordinationId: string): string {
  if (coordinationId.length === 0) throw new RangeError("a coordination id is not empty");
  if (!coordinationId.isWellFormed()) throw new RangeError("a coordination id is well-formed UTF-16 (no lone surrogate)");
  return Buffer.from(coordinationId, "utf8").toString("base64url");
}

/**
 * The coordination id a subject token stands for, or `undefined` when no id escapes to it (not base64url, padded,
 * non-canonical trailing bits, or bytes that are not UTF-8): the inverse of {@link coordinationToken}.
 */
export function coordinationOfToken(subjectToken: string): string | undefined {
  if (!token.test(subjectToken)) return undefined;
  const bytes = Buffer.from(subjectToken, "base64url");
  // Buffer's decoder is lenient (ignores stray trailing bits); only the canonical spelling is an escape.
  if (bytes.toString("base64url") !== subjectToken) return undefined;
  let id: string;
  try {
    id = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  return id.length > 0 ? id : undefined;
}

/** The subject of a coordination's signals: `<prefix>.<token>`. */
export function signalSubject(prefix: string, coordinationId: string): string {
  return `${prefix}.${coordinationToken(coordinationId)}`;
}

/**
 * Whether `prefix` is a valid literal subject prefix: dot-separated tokens, none empty, none a wildcard, no
 * whitespace.
 */
export function isSubjectPrefix(prefix: string): boolean {
  return prefix.split(".").every((t) => t.length > 0 && t !== "*" && t !== ">" && !/[\s*>]/.test(t));
}
