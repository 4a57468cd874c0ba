import { invalidField } from "./errors.js";

/**
 * Opaque page tokens: base64url of `{"k": <cursor>, "f": <filter fingerprint>}`. A token is valid only with
 * the filters it was issued for, so a client cannot silently mix pages of two different queries.
 */

/** Encodes a cursor and the fingerprint of the query's filters into a page token. */
export function encodePageToken(cursor: number | string, filterFingerprint: string): string {
  return Buffer.from(JSON.stringify({ k: cursor, f: filterFingerprint }), "utf8").toString("base64url");
}

/**
 * Decodes a page token; `undefined` for the empty token (first page). Throws `invalid` naming `page_token`
 * for a malformed token or one issued for other filters.
 */
export function decodePageToken<T extends number | string>(
  token: string,
  filterFingerprint: string,
  kind: "number" | "string",
): T | undefined {
  if (token === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidField("page_token", "is malformed: pass the next_page_token of a previous page");
  }
  if (typeof parsed !== "object" || parsed === null) {
    throw invalidField("page_token", "is malformed: pass the next_page_token of a previous page");
  }
  const { k, f } = parsed as { k?: unknown; f?: unknown };
  if (typeof k !== kind || (kind === "number" && !Number.isSafeInteger(k))) {
    throw invalidField("page_token", "is malformed: pass the next_page_token of a previous page");
  }
  if (f !== filterFingerprint) {
    throw invalidField("page_token", "was issued for different filters: repeat the same filters with a page token");
  }
  return k as T;
}
