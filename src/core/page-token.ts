import { createHash } from "node:crypto";
import type { Violations } from "./errors.js";
import type { JsonValue } from "./json.js";

/**
 * Opaque page tokens: base64url of `{"k": <cursor>, "f": <query fingerprint>}`. A token is valid only with the
 * query it was issued for, so a client cannot silently mix pages of two different queries; the fingerprint is a
 * short hash of the query's canonical form, so a token stays small whatever the filters.
 */

/** JSON with every object's keys sorted: equal queries give equal text, whatever order their maps arrived in. */
function canonical(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(value[k] as JsonValue)}`)
    .join(",")}}`;
}

/**
 * The fingerprint of a query (its filters as JSON): the same for equal queries, including protobuf maps and
 * Structs whose entries arrived in another order.
 */
export function queryFingerprint(query: JsonValue): string {
  return createHash("sha256").update(canonical(query)).digest("base64url").slice(0, 22);
}

/** Encodes a cursor and the fingerprint of the query's filters into a page token. */
export function encodePageToken(cursor: number | string, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ k: cursor, f: fingerprint }), "utf8").toString("base64url");
}

/**
 * Decodes a page token; `undefined` for the empty token (first page) and for a malformed token or one issued for
 * another query, which is recorded in `v` as a violation of `page_token`.
 */
export function decodePageToken<T extends number | string>(
  v: Violations,
  token: string,
  fingerprint: string,
  kind: "number" | "string",
): T | undefined {
  if (token === "") return undefined;
  const malformed = () => {
    v.add("page_token", "is malformed: pass the next_page_token of a previous page");
    return undefined;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return malformed();
  }
  if (typeof parsed !== "object" || parsed === null) return malformed();
  const { k, f } = parsed as { k?: unknown; f?: unknown };
  if (typeof k !== kind || (kind === "number" && !Number.isSafeInteger(k))) return malformed();
  if (f !== fingerprint) {
    v.add("page_token", "was issued for a different query: repeat the same filters with a page token");
    return undefined;
  }
  return k as T;
}
