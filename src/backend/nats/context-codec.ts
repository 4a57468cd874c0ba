import type { ContextCommit, ContextSnapshot } from "../../core/context/context-backend.js";
import type { AgentContextRecord, SharedIntelligence } from "../../core/context/types.js";

/**
 * The context document of the JetStream backend: one JSON object per message of `consort.ctx.<token>`
 * (`context-log.ts`), holding one {@link ContextCommit} as the writer planned it — records with their versions,
 * revisions and timestamps — so every replica applies the very same change. Each distinct shared intelligence is
 * written once and referred to by index, so a distribution to 1,000 agents carries its shared intelligence once.
 *
 * `base`, when present, is the coordination's whole state just before the change: what a replica loads from when
 * the documents before it are no longer retained (see `context-backend.ts` in this folder).
 */
export interface ContextDocumentBody {
  /** The coordination's epoch the change was made in (coordination meta): a document of another epoch is not applied. */
  readonly epoch: string;
  /** The append's id, unique per append: how the writer recognises its own document when it comes back. */
  readonly id: string;
  readonly change: ContextCommit;
  readonly base?: ContextSnapshot;
}

/** A record as written: its shared intelligence by index, its coordination id implied. */
interface WireRecord {
  readonly s: number;
  readonly sessionId: string;
  readonly parentWorkflowId: string;
  readonly assignment: AgentContextRecord["assignment"];
  readonly protocols: AgentContextRecord["protocols"];
  readonly allocation: AgentContextRecord["allocation"];
  readonly version: number;
  readonly revision: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface WireRecords {
  readonly shared: SharedIntelligence[];
  readonly records: WireRecord[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function toWire(records: readonly AgentContextRecord[]): WireRecords {
  const index = new Map<SharedIntelligence, number>();
  const shared: SharedIntelligence[] = [];
  const out = records.map((r): WireRecord => {
    let s = index.get(r.shared);
    if (s === undefined) {
      index.set(r.shared, (s = shared.length));
      shared.push(r.shared);
    }
    return { s, sessionId: r.sessionId, parentWorkflowId: r.parentWorkflowId, assignment: r.assignment, protocols: r.protocols, allocation: r.allocation, version: r.version, revision: r.revision, createdAt: r.createdAt, updatedAt: r.updatedAt };
  });
  return { shared, records: out };
}

/** Encodes a document (deterministically: the same body gives the same bytes). */
export function encodeContextDocument(body: ContextDocumentBody): Uint8Array {
  const { change, base } = body;
  const wireChange = change.kind === "clear" ? change : { ...change, records: toWire(change.records) };
  const wireBase = base === undefined ? undefined : { revision: base.revision, distribution: base.distribution, records: toWire(base.records) };
  return encoder.encode(JSON.stringify({ v: 1, epoch: body.epoch, id: body.id, change: wireChange, ...(wireBase === undefined ? {} : { base: wireBase }) }));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function fromWire(coordinationId: string, w: unknown): AgentContextRecord[] | string {
  if (!isObject(w) || !Array.isArray(w["shared"]) || !Array.isArray(w["records"])) return "records must hold `shared` and `records` lists";
  const shared = (w["shared"] as unknown[]).map((s) => (isObject(s) ? (Object.freeze(s) as unknown as SharedIntelligence) : undefined));
  const out: AgentContextRecord[] = [];
  for (const [i, r] of (w["records"] as unknown[]).entries()) {
    if (!isObject(r)) return `record ${i} is not an object`;
    const s = typeof r["s"] === "number" ? shared[r["s"]] : undefined;
    const a = r["assignment"];
    if (s === undefined) return `record ${i} names no shared intelligence`;
    if (!isObject(a) || typeof a["agentId"] !== "string" || !Array.isArray(a["dependencies"])) return `record ${i} has no valid assignment`;
    if (typeof r["sessionId"] !== "string" || typeof r["parentWorkflowId"] !== "string" || !isObject(r["protocols"]) || !isObject(r["allocation"])) return `record ${i} is incomplete`;
    if (!isCount(r["version"]) || !isCount(r["revision"]) || !isTime(r["createdAt"]) || !isTime(r["updatedAt"])) return `record ${i} has invalid numbers`;
    const protocols = r["protocols"] as unknown as AgentContextRecord["protocols"];
    out.push({
      coordinationId,
      sessionId: r["sessionId"],
      parentWorkflowId: r["parentWorkflowId"],
      assignment: a as unknown as AgentContextRecord["assignment"],
      shared: s,
      // JSON drops an unset endpoint: it is put back as the engine keeps it.
      protocols: { ...protocols, coordinationEndpoint: protocols.coordinationEndpoint },
      allocation: r["allocation"] as unknown as AgentContextRecord["allocation"],
      version: r["version"],
      revision: r["revision"],
      createdAt: r["createdAt"],
      updatedAt: r["updatedAt"],
    });
  }
  return out;
}

function changeOf(coordinationId: string, c: unknown): ContextCommit | string {
  if (!isObject(c) || !isCount(c["revision"]) || !isTime(c["at"])) return "the change has no valid revision or time";
  const { revision, at } = c as { revision: number; at: number };
  if (c["kind"] === "clear") return { kind: "clear", revision, at };
  if (c["kind"] !== "distribute" && c["kind"] !== "update") return `unknown change kind ${JSON.stringify(c["kind"])}`;
  const records = fromWire(coordinationId, c["records"]);
  if (typeof records === "string") return records;
  return { kind: c["kind"], revision, at, records };
}

/**
 * Decodes a document of `coordinationId`; a string saying why when it is not one Consort wrote. JSON values inside
 * the records (input data, shared intelligence) are taken as they are: they were checked when the writer planned.
 */
export function decodeContextDocument(coordinationId: string, bytes: Uint8Array): ContextDocumentBody | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes)) as unknown;
  } catch (err) {
    return `not JSON: ${String(err)}`;
  }
  if (!isObject(parsed) || parsed["v"] !== 1 || typeof parsed["epoch"] !== "string" || typeof parsed["id"] !== "string") return "not a version 1 context document";
  const change = changeOf(coordinationId, parsed["change"]);
  if (typeof change === "string") return change;
  const b = parsed["base"];
  if (b === undefined) return { epoch: parsed["epoch"], id: parsed["id"], change };
  if (!isObject(b) || !isCount(b["revision"]) || !isCount(b["distribution"])) return "the base has no valid revision";
  const records = fromWire(coordinationId, b["records"]);
  if (typeof records === "string") return `base: ${records}`;
  return { epoch: parsed["epoch"], id: parsed["id"], change, base: { revision: b["revision"], distribution: b["distribution"], records } };
}
