import type { DependencyChange, SharedDependencyRecord } from "../../core/dependencies/dependency-backend.js";
import { dependencyStatuses, type DependencyTarget } from "../../core/dependencies/types.js";
import { coordinationToken } from "./subject.js";

/**
 * The dependency engine's shared changes as JetStream KV keeps them (`dependency-backend.ts`): the key each change
 * is put under, and its value — the change, the coordination's epoch, and the id of the write. Plain JSON, checked
 * field by field when read: a value Consort did not write is reported, never applied.
 *
 * Keys (each id escaped by `subject.ts`'s {@link coordinationToken}, so a key is dot-separated `[A-Za-z0-9_-]`
 * tokens and two ids never share one):
 * - `<coordination>.g.<gate>`: a gate's latest score;
 * - `<coordination>.r.<resource>`: a resource's latest availability;
 * - `<coordination>.w.<agent>.<dependency>`: a wait's latest record (its start, then its final status);
 * - `<coordination>.clear`: the latest ClearDependencies — applied in revision order, it clears what came before it.
 * One watch per coordination follows `<coordination>.>`.
 */

/** A decoded value: the change, the epoch it was made in, and the id of the write (for read-your-writes). */
export interface DependencyValue {
  readonly epoch: string;
  readonly writeId: string;
  readonly change: DependencyChange;
}

/** The key filter of every change to one coordination: `<token>.>`. */
export function dependencyKeyFilter(coordinationId: string): string {
  return `${coordinationToken(coordinationId)}.>`;
}

/**
 * The key `change` is put under (see the module comment). Throws a `RangeError` for an id that cannot be escaped
 * (not well-formed UTF-16).
 */
export function dependencyKey(change: DependencyChange): string {
  const c = coordinationToken(change.coordinationId);
  switch (change.kind) {
    case "gate":
      return `${c}.g.${coordinationToken(change.gateId)}`;
    case "resource":
      return `${c}.r.${coordinationToken(change.resourceId)}`;
    case "record":
      return `${c}.w.${coordinationToken(change.record.agentId)}.${coordinationToken(change.record.dependencyId)}`;
    case "clear":
      return `${c}.clear`;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a change made in `epoch` by the write `writeId` (the coordination id is the key's, not repeated). */
export function encodeDependencyValue(value: DependencyValue): Uint8Array {
  const { coordinationId: _, ...change } = value.change;
  return encoder.encode(JSON.stringify({ epoch: value.epoch, write: value.writeId, change }));
}

type Loose = Record<string, unknown>;
const isString = (x: unknown): x is string => typeof x === "string";
const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

function targetOf(t: unknown): DependencyTarget | undefined {
  if (typeof t !== "object" || t === null) return undefined;
  const o = t as Loose;
  if (o["type"] === "agent_completion" && isString(o["agentId"]) && typeof o["requireSuccess"] === "boolean") {
    return { type: "agent_completion", agentId: o["agentId"], requireSuccess: o["requireSuccess"] };
  }
  if (o["type"] === "resource_availability" && isString(o["resourceId"])) return { type: "resource_availability", resourceId: o["resourceId"] };
  if (o["type"] === "quality_gate" && isString(o["gateId"]) && isNumber(o["threshold"])) return { type: "quality_gate", gateId: o["gateId"], threshold: o["threshold"] };
  return undefined;
}

function recordOf(r: unknown): SharedDependencyRecord | undefined {
  if (typeof r !== "object" || r === null) return undefined;
  const o = r as Loose;
  const target = targetOf(o["target"]);
  const status = o["status"];
  const finishedAt = o["finishedAt"];
  if (
    target === undefined ||
    !isString(o["waitId"]) ||
    !isString(o["owner"]) ||
    !isString(o["agentId"]) ||
    !isString(o["dependencyId"]) ||
    !isNumber(o["timeoutMs"]) ||
    !isString(status) ||
    !(dependencyStatuses as readonly string[]).includes(status) ||
    !isString(o["message"]) ||
    !isNumber(o["startedAt"]) ||
    !(finishedAt === undefined || isNumber(finishedAt)) ||
    !isNumber(o["durationMs"]) ||
    typeof o["abandoned"] !== "boolean" ||
    !isString(o["afterClear"])
  ) {
    return undefined;
  }
  return {
    waitId: o["waitId"],
    owner: o["owner"],
    agentId: o["agentId"],
    dependencyId: o["dependencyId"],
    timeoutMs: o["timeoutMs"],
    target,
    status: status as SharedDependencyRecord["status"],
    message: o["message"],
    startedAt: o["startedAt"],
    finishedAt,
    durationMs: o["durationMs"],
    abandoned: o["abandoned"],
    afterClear: o["afterClear"],
  };
}

/** Decodes a stored value of `coordinationId`'s keys, or says what is wrong with it. */
export function decodeDependencyValue(coordinationId: string, bytes: Uint8Array): DependencyValue | string {
  let o: unknown;
  try {
    o = JSON.parse(decoder.decode(bytes));
  } catch {
    return "it is not JSON in UTF-8";
  }
  if (typeof o !== "object" || o === null) return "it is not a JSON object";
  const { epoch, write, change } = o as Loose;
  if (!isString(epoch) || epoch === "") return "its epoch is not a non-empty string";
  if (!isString(write)) return "its write id is not a string";
  if (typeof change !== "object" || change === null) return "it holds no change";
  const c = change as Loose;
  const done = (ch: DependencyChange): DependencyValue => ({ epoch, writeId: write, change: ch });
  switch (c["kind"]) {
    case "gate":
      return isString(c["gateId"]) && isNumber(c["score"]) ? done({ kind: "gate", coordinationId, gateId: c["gateId"], score: c["score"] }) : "its gate change is malformed";
    case "resource":
      return isString(c["resourceId"]) && typeof c["available"] === "boolean"
        ? done({ kind: "resource", coordinationId, resourceId: c["resourceId"], available: c["available"] })
        : "its resource change is malformed";
    case "clear":
      return isString(c["clearId"]) ? done({ kind: "clear", coordinationId, clearId: c["clearId"] }) : "its clear change is malformed";
    case "record": {
      const record = recordOf(c["record"]);
      return record === undefined ? "its record is malformed" : done({ kind: "record", coordinationId, record });
    }
    default:
      return "its change kind is unknown";
  }
}
