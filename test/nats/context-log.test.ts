import { headers } from "nats";
import { describe, expect, it } from "vitest";
import { type ContextDocument, createJetStreamContextLog, type FollowEnd, type JetStreamContextLog, type JetStreamContextLogOptions } from "../../src/backend/nats/context-log.js";
import { until, useNatsServer } from "./fixture.js";

/**
 * The JetStream context log against a real nats-server: one document per change, revisions without gap across
 * racing writers, whole documents to a follower on another connection, a 1,000-agent distribution, forged and
 * trimmed history. Each test has a stream and subject prefix of its own.
 */

const nats = useNatsServer();
const connection = nats.connection;
let streams = 0;


async function options(extra: Partial<JetStreamContextLogOptions> = {}): Promise<JetStreamContextLogOptions> {
  streams++;
  return { connection: await connection(), streamName: `CONTEXTS_${streams}`, subjectPrefix: `t${streams}.ctx`, storage: "memory", ...extra };
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decode = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;

function collect(log: JetStreamContextLog, id: string, after: number | "retained") {
  const documents: ContextDocument[] = [];
  const follow = log.follow(id, after, (d) => documents.push(d));
  let end: FollowEnd | undefined;
  void follow.ended.then((e) => (end = e));
  return { documents, follow, revisions: () => documents.map((d) => d.revision), ended: () => end };
}

/** Appends `make(revision)` as the next revision, computing it again after each conflict, as an engine would. */
async function appendNext(log: JetStreamContextLog, id: string, make: (revision: number) => Uint8Array) {
  let expected = log.knownHead(id)?.consortSequence ?? 0;
  for (let i = 0; i < 500; i++) {
    const r = await log.append(id, make(expected + 1), { expectedRevision: expected });
    if (r.ok) return { ...r, conflicts: i };
    if (r.reason !== "conflict" || r.headRevision === undefined) throw new Error(`append failed: ${r.reason}: ${r.message}`);
    expected = r.headRevision;
  }
  throw new Error("append kept conflicting");
}

/** A distribution to `agents` agents of ~500 B of JSON each, as one document. */
function distribution(agents: number, revision: number) {
  const assignments = Array.from({ length: agents }, (_, i) => ({
    agentId: `agent-${i}`,
    agentRole: "implementer",
    tasks: [`implement-module-${i}`, `write-tests-${i}`],
    dependencies: i > 0 ? [`agent-${i - 1}`] : [],
    inputData: { module: `models.m${i}`, spec: `docs/spec/m${i}.md`, priority: i % 5 },
    outputRequirements: { format: "python", path: `src/models/m${i}.py` },
    allocation: { maxExecutionTimeMs: 300000, maxRetryAttempts: 3, maxMemoryMb: 512, qualityThreshold: 0.8, timeoutMs: 30000, concurrencyLimit: 2 },
    version: 1,
    revision,
  }));
  return { kind: "distribution", revision, assignments };
}

describe("JetStream context log", () => {
  it("numbers two writers racing on one coordination 1..N without gap, and a follower on another connection sees every document whole and in order", async () => {
    const base = await options();
    const writers = await Promise.all([0, 1].map(async () => createJetStreamContextLog({ ...base, connection: await connection() })));
    const reader = await createJetStreamContextLog({ ...base, connection: await connection() });
    const seen = collect(reader, "race", 0);
    const perWriter = 60;
    let conflicts = 0;
    await Promise.all(
      writers.map(async (log, w) => {
        for (let i = 0; i < perWriter; i++) {
          const r = await appendNext(log, "race", (revision) => encode({ writer: w, i, revision, body: "x".repeat(2_000) }));
          conflicts += r.conflicts;
        }
      }),
    );
    const n = 2 * perWriter;
    await until(() => seen.documents.length >= n, "the follower to see every document");
    expect(seen.revisions()).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const d of seen.documents) {
      const doc = decode(d.document);
      expect(doc["revision"]).toBe(d.revision); // the document was computed for the revision it was stored as
      expect((doc["body"] as string).length).toBe(2_000);
    }
    // Every writer's appends are there, each once.
    const keys = seen.documents.map((d) => `${decode(d.document)["writer"]}:${decode(d.document)["i"]}`);
    expect(new Set(keys).size).toBe(n);
    expect(conflicts).toBeGreaterThan(0); // they did race
    expect(seen.ended()).toBeUndefined();
    await seen.follow.stop();
  });

  it("refuses a change computed against a stale revision and writes nothing", async () => {
    const log = await createJetStreamContextLog(await options());
    const other = await createJetStreamContextLog({ ...(await options()), streamName: `CONTEXTS_${streams - 1}`, subjectPrefix: `t${streams - 1}.ctx` });
    expect(await log.append("stale", encode({ a: 1 }), { expectedRevision: 0 })).toMatchObject({ ok: true, revision: 1 });
    expect(await other.append("stale", encode({ a: 2 }), { expectedRevision: 1 })).toMatchObject({ ok: true, revision: 2 });
    // `log` still believes the head is 1: the server refuses and the head is read back.
    expect(await log.append("stale", encode({ a: 3 }), { expectedRevision: 1 })).toMatchObject({ ok: false, reason: "conflict", headRevision: 2 });
    // Now it knows the head is 2: refused at once.
    expect(await log.append("stale", encode({ a: 4 }), { expectedRevision: 1 })).toMatchObject({ ok: false, reason: "conflict", headRevision: 2 });
    // Expecting a revision beyond the head is a conflict too.
    expect(await log.append("stale", encode({ a: 5 }), { expectedRevision: 7 })).toMatchObject({ ok: false, reason: "conflict", headRevision: 2 });
    const seen = collect(log, "stale", 0);
    await until(() => seen.documents.length >= 2, "two documents");
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.documents.map((d) => decode(d.document)["a"])).toEqual([1, 2]);
    await seen.follow.stop();
  });

  it("round-trips a 1,000-agent distribution intact in one message, and refuses one over max_payload before sending", async () => {
    const base = await options();
    const writer = await createJetStreamContextLog(base);
    const reader = await createJetStreamContextLog({ ...base, connection: await connection() });
    const seen = collect(reader, "big", 0);
    const doc = encode(distribution(1_000, 1));
    expect(doc.length).toBeGreaterThan(400_000);
    expect(doc.length).toBeLessThan(writer.maxDocumentBytes);
    const r = await writer.append("big", doc, { expectedRevision: 0 });
    expect(r).toMatchObject({ ok: true, revision: 1 });
    await until(() => seen.documents.length >= 1, "the distribution");
    expect(Buffer.from(seen.documents[0]?.document ?? []).equals(Buffer.from(doc))).toBe(true);
    expect((decode(seen.documents[0]?.document ?? new Uint8Array())["assignments"] as unknown[]).length).toBe(1_000);

    const tooBig = encode(distribution(3_000, 2));
    expect(tooBig.length).toBeGreaterThan(writer.maxDocumentBytes);
    expect(await writer.append("big", tooBig, { expectedRevision: 1 })).toMatchObject({ ok: false, reason: "too_large" });
    expect(await writer.append("big", encode({ small: true }), { expectedRevision: 1 })).toMatchObject({ ok: true, revision: 2 });
    await until(() => seen.documents.length >= 2, "the next document");
    expect(seen.revisions()).toEqual([1, 2]);
    await seen.follow.stop();
  });

  it("does not apply a forged message: one skipping a revision ends the follow, one without a revision stops appends", async () => {
    const base = await options();
    const log = await createJetStreamContextLog(base);
    const nc = await connection();
    const js = nc.jetstream();
    await log.append("forged", encode({ n: 1 }), { expectedRevision: 0 });
    const subject = log.subjectOf("forged");
    // Published bypassing Consort, claiming revision 5: the server stores it (it never reads the header).
    const h = headers();
    h.set("Consort-Sequence", "5");
    await js.publish(subject, encode({ n: 5, forged: true }), { headers: h });
    const reader = await createJetStreamContextLog({ ...base, connection: await connection() });
    const seen = collect(reader, "forged", 0);
    await until(() => seen.ended() !== undefined, "the follow to end");
    expect(seen.revisions()).toEqual([1]);
    expect(seen.ended()).toMatchObject({ reason: "invalid_record", expected: 2, found: "5" });

    // Without any revision: the appender cannot number after it.
    await js.publish(log.subjectOf("bare"), encode({ bare: true }));
    expect(await log.append("bare", encode({ n: 1 }), { expectedRevision: 0 })).toMatchObject({ ok: false, reason: "head_invalid" });
  });

  it("ends a follow out_of_range after a revision no longer retained or beyond the head, and follows from what is retained", async () => {
    const base = await options({ historyLimit: 3 });
    const log = await createJetStreamContextLog(base);
    for (let r = 0; r < 6; r++) expect(await log.append("trimmed", encode({ r: r + 1 }), { expectedRevision: r })).toMatchObject({ ok: true });
    const reader = await createJetStreamContextLog({ ...base, connection: await connection() });
    const old = collect(reader, "trimmed", 1);
    await until(() => old.ended() !== undefined, "the follow after 1 to end");
    expect(old.documents).toEqual([]);
    expect(old.ended()).toMatchObject({ reason: "out_of_range", requestedAfter: 1, oldest: 4 });
    const ahead = collect(reader, "trimmed", 7);
    await until(() => ahead.ended() !== undefined, "the follow after 7 to end");
    expect(ahead.ended()).toMatchObject({ reason: "out_of_range", head: 6 });
    const retained = collect(reader, "trimmed", "retained");
    await until(() => retained.documents.length >= 3, "the retained documents");
    expect(retained.revisions()).toEqual([4, 5, 6]);
    const live = collect(await createJetStreamContextLog({ ...base, connection: await connection() }), "trimmed", 6);
    expect(await log.append("trimmed", encode({ r: 7 }), { expectedRevision: 6 })).toMatchObject({ ok: true, revision: 7 });
    await until(() => live.documents.length >= 1, "the live document");
    expect(live.revisions()).toEqual([7]);
    await Promise.all([retained.follow.stop(), live.follow.stop()]);
  });

  it("reads the head revision from the server, and purges through a stream sequence keeping what came after", async () => {
    const base = await options();
    const log = await createJetStreamContextLog(base);
    const other = await createJetStreamContextLog({ ...base, connection: await connection() });
    expect(await log.readHead("x")).toBe(0);
    const first = await appendNext(log, "x", (revision) => encode({ revision }));
    await appendNext(log, "x", (revision) => encode({ revision }));
    expect(await other.readHead("x")).toBe(2);
    await log.purge("x", first.streamSequence);
    expect(await log.readHead("x")).toBe(2);
    const kept = collect(log, "x", "retained");
    await until(() => kept.documents.length === 1, "the document kept");
    expect(kept.revisions()).toEqual([2]);
    await kept.follow.stop();
    await log.purge("x", (log.knownHead("x") ?? { streamSequence: 0 }).streamSequence);
    // Emptied: numbering starts again, as after a DeleteCoordination.
    expect(await log.readHead("x")).toBe(0);
    expect(await log.append("x", encode({ revision: 1 }), { expectedRevision: 0 })).toMatchObject({ ok: true, revision: 1 });
  });

  it("answers an append retried with the same msg id and expected revision with the original, not a conflict", async () => {
    const base = await options();
    const log = await createJetStreamContextLog(base);
    const first = await log.append("dup", encode({ d: 1 }), { expectedRevision: 0, msgId: "distribution-1" });
    expect(first).toMatchObject({ ok: true, revision: 1, duplicate: false });
    // A retry after an unknown outcome, on this log and on a fresh one (a replica that took over).
    const other = await createJetStreamContextLog({ ...base, connection: await connection() });
    for (const l of [log, other]) {
      const retried = await l.append("dup", encode({ d: 1 }), { expectedRevision: 0, msgId: "distribution-1" });
      expect(retried).toMatchObject({ ok: true, revision: 1, duplicate: true, streamSequence: first.ok ? first.streamSequence : -1 });
    }
    // Another change against the same stale revision is a conflict.
    expect(await other.append("dup", encode({ d: 2 }), { expectedRevision: 0, msgId: "distribution-2" })).toMatchObject({ ok: false, reason: "conflict", headRevision: 1 });
    expect(await other.append("dup", encode({ d: 2 }), { expectedRevision: 1, msgId: "distribution-2" })).toMatchObject({ ok: true, revision: 2, duplicate: false });
  });
});
