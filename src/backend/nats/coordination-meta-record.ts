/**
 * A coordination's meta as JetStream KV stores it (`coordination-meta.ts`): one JSON document per coordination,
 * and the body of the delete marker a drop leaves. Plain data, checked field by field when read: a value Consort
 * did not write (or a later version's) is reported, never taken as meta.
 */

/** The shared record of a coordination that every replica agrees on. */
export interface CoordinationMeta {
  /** The coordination's id. */
  readonly coordinationId: string;
  /** The epoch (a UUID): a Consort sequence means something only within it; a dropped coordination's next use starts a new one. */
  readonly epoch: string;
  /**
   * The Consort sequence the last clear reached (0: never cleared): the head of a signal subject found empty, since
   * a purge loses the subject's head. Only ever raised within an epoch.
   */
  readonly clearedThrough: number;
  /** When the epoch began (ms since the Unix epoch, the creating replica's clock). */
  readonly createdAt: number;
  /** The KV revision of this version of the record: increases with every write to the bucket. */
  readonly revision: number;
}

/** Why a coordination's meta was dropped: DeleteCoordination, or idle expiry. */
export type DropReason = "deleted" | "expired";

/** Which write made a stored version: the one that began the epoch, or a later change (a clear). */
export type MetaChange = "created" | "changed";

/** The stored document: the meta without its id (the key) and revision (the server's), plus the write that made it. */
interface StoredMeta {
  readonly epoch: string;
  readonly clearedThrough: number;
  readonly createdAt: number;
  readonly change: MetaChange;
}

/** The body of a drop's delete marker. */
interface StoredDrop {
  readonly reason: DropReason;
  readonly epoch: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a version of the meta, made by `change`. */
export function encodeMeta(meta: Omit<CoordinationMeta, "coordinationId" | "revision">, change: MetaChange): Uint8Array {
  const stored: StoredMeta = { epoch: meta.epoch, clearedThrough: meta.clearedThrough, createdAt: meta.createdAt, change };
  return encoder.encode(JSON.stringify(stored));
}

/** Decodes a stored version, or says what is wrong with it. */
export function decodeMeta(coordinationId: string, revision: number, value: Uint8Array): { meta: CoordinationMeta; change: MetaChange } | string {
  const o = parse(value);
  if (typeof o === "string") return o;
  const { epoch, clearedThrough, createdAt, change } = o as Partial<Record<keyof StoredMeta, unknown>>;
  if (typeof epoch !== "string" || epoch.length === 0) return "its epoch is not a non-empty string";
  if (typeof clearedThrough !== "number" || !Number.isSafeInteger(clearedThrough) || clearedThrough < 0) return "its clearedThrough is not a non-negative integer";
  if (typeof createdAt !== "number" || !Number.isFinite(createdAt)) return "its createdAt is not a number";
  if (change !== "created" && change !== "changed") return "its change is neither created nor changed";
  return { meta: { coordinationId, epoch, clearedThrough, createdAt, revision }, change };
}

/** Encodes the body of a drop's delete marker. */
export function encodeDrop(reason: DropReason, epoch: string): Uint8Array {
  const stored: StoredDrop = { reason, epoch };
  return encoder.encode(JSON.stringify(stored));
}

/** Decodes a delete marker's body; a marker without one (a plain KV delete or purge) gives `undefined` fields. */
export function decodeDrop(value: Uint8Array): { reason: DropReason | undefined; epoch: string | undefined } {
  const o = value.length === 0 ? undefined : parse(value);
  const { reason, epoch } = (typeof o === "object" ? o : {}) as Partial<Record<keyof StoredDrop, unknown>>;
  return { reason: reason === "deleted" || reason === "expired" ? reason : undefined, epoch: typeof epoch === "string" ? epoch : undefined };
}

function parse(value: Uint8Array): object | string {
  try {
    const o: unknown = JSON.parse(decoder.decode(value));
    return typeof o === "object" && o !== null && !Array.isArray(o) ? o : "it is not a JSON object";
  } catch {
    return "it is not JSON in UTF-8";
  }
}
