import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, headers } from "nats";
import { describe, expect, it } from "vitest";
import { SignalStreamMismatchError } from "../../src/backend/nats/errors.js";
import type { FollowEnd, SignalLogRecord } from "../../src/backend/nats/signal-follow.js";
import { createJetStreamSignalLog, type JetStreamSignalLog, type JetStreamSignalLogOptions } from "../../src/backend/nats/signal-log.js";
import { coordinationOfToken } from "../../src/backend/nats/subject.js";
import { until, useNatsServer } from "./fixture.js";
import { startNatsServer } from "./nats-server.js";

/**
 * The JetStream signal log against a real nats-server: numbering across writers, duplicates, following with
 * replay, trimmed history and messages that bypass Consort. Each test has a stream and subject prefix of its own.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const nats = useNatsServer();
const connection = nats.connection;
let streams = 0;


/** Options for a stream of the test's own, on a fresh connection. */
async function options(extra: Partial<JetStreamSignalLogOptions> = {}): Promise<JetStreamSignalLogOptions> {
  streams++;
  return { connection: await connection(), streamName: `SIGNALS_${streams}`, subjectPrefix: `t${streams}.sig`, storage: "memory", ...extra };
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Appends, retrying a `conflict` result a bounded number of times; fails the test on anything else. */
async function appendOk(log: JetStreamSignalLog, id: string, payload: string, msgId = payload) {
  for (let i = 0; i < 100; i++) {
    const r = await log.append(id, bytes(payload), { msgId });
    if (r.ok) return r;
    if (r.reason !== "conflict") throw new Error(`append failed: ${r.reason}: ${r.message}`);
  }
  throw new Error("append kept conflicting");
}

function collect(log: JetStreamSignalLog, id: string, after: number | "retained") {
  const records: SignalLogRecord[] = [];
  const follow = log.follow(id, after, (r) => records.push(r));
  let end: FollowEnd | undefined;
  void follow.ended.then((e) => (end = e));
  return { records, follow, sequences: () => records.map((r) => r.consortSequence), ended: () => end };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("JetStream signal log", () => {
  it("numbers concurrent appends from three connections 1..N without gap or duplicate, and a follower sees 1..N in order", async () => {
    const base = await options();
    const writers = await Promise.all([0, 1, 2].map(async () => createJetStreamSignalLog({ ...base, connection: await connection() })));
    const reader = await createJetStreamSignalLog({ ...base, connection: await connection() });
    const perWriter = 100;
    const n = perWriter * writers.length;
    const followed = collect(reader, "review.42 *>", 0);

    const results = await Promise.all(
      writers.map(async (log, w) => {
        const mine = [];
        for (let i = 0; i < perWriter; i++) mine.push(await appendOk(log, "review.42 *>", `w${w}-${i}`));
        return mine;
      }),
    );
    const appended = results.flat();
    expect(appended.map((r) => r.consortSequence).sort((a, b) => a - b)).toEqual(range(1, n));
    expect(appended.some((r) => r.attempts > 1)).toBe(true); // the writers did race

    await until(() => followed.records.length >= n || followed.ended() !== undefined, `${n} records`);
    expect(followed.ended()).toBeUndefined(); // (else it says why the follow ended)
    expect(followed.sequences()).toEqual(range(1, n));
    // Each writer's appends in its own order, each exactly once.
    const payloads = followed.records.map((r) => text(r.payload));
    expect(new Set(payloads).size).toBe(n);
    for (let w = 0; w < writers.length; w++) {
      expect(payloads.filter((p) => p.startsWith(`w${w}-`))).toEqual(range(0, perWriter - 1).map((i) => `w${w}-${i}`));
    }
    expect(reader.knownHead("review.42 *>")?.consortSequence).toBe(n);
    await followed.follow.stop();
  });

  it("returns the original for an append retried with the same msg id, and stores it once", async () => {
    const o = await options();
    const log = await createJetStreamSignalLog(o);
    const first = await log.append("c", bytes("one"), { msgId: "m1" });
    expect(first).toMatchObject({ ok: true, consortSequence: 1, duplicate: false, attempts: 1 });
    const again = await log.append("c", bytes("one"), { msgId: "m1" });
    expect(again).toMatchObject({ ok: true, consortSequence: 1, duplicate: true });
    if (!first.ok || !again.ok) throw new Error("unreachable");
    expect(again.streamSequence).toBe(first.streamSequence);

    // After a later append, and from another replica that never saw it: still the original.
    expect(await log.append("c", bytes("two"), { msgId: "m2" })).toMatchObject({ ok: true, consortSequence: 2, duplicate: false });
    const other = await createJetStreamSignalLog({ ...o, connection: await connection() });
    expect(await other.append("c", bytes("one"), { msgId: "m1" })).toMatchObject({ ok: true, consortSequence: 1, duplicate: true, streamSequence: first.streamSequence });

    // Ids are the coordination's own: another coordination's "m1" is another signal.
    expect(await log.append("d", bytes("one"), { msgId: "m1" })).toMatchObject({ ok: true, consortSequence: 1, duplicate: false });
    expect(await log.append("d", bytes("x"), { msgId: "" })).toMatchObject({ ok: false, reason: "rejected" });

    const jsm = await o.connection.jetstreamManager();
    expect((await jsm.streams.info(log.streamName)).state.messages).toBe(3);
  });

  it("replays after sequence k, then continues live; following from the head is live only", async () => {
    const log = await createJetStreamSignalLog(await options());
    for (let i = 1; i <= 10; i++) await appendOk(log, "c", `s${i}`);
    await appendOk(log, "other", "x"); // another coordination's message between, in the stream

    const fromFour = collect(log, "c", 4);
    await until(() => fromFour.records.length >= 6, "the replay");
    expect(fromFour.sequences()).toEqual(range(5, 10));
    expect(fromFour.records.map((r) => text(r.payload))).toEqual(range(5, 10).map((i) => `s${i}`));
    expect(fromFour.records[0]?.msgId).toBe("s5");

    const other = await createJetStreamSignalLog({ ...(await options()), streamName: log.streamName, subjectPrefix: log.subjectOf("c").split(".").slice(0, -1).join(".") });
    const fromHead = collect(other, "c", 10);
    for (let i = 11; i <= 15; i++) await appendOk(log, "c", `s${i}`);
    await until(() => fromFour.records.length >= 11 && fromHead.records.length >= 5, "the live records");
    expect(fromFour.sequences()).toEqual(range(5, 15));
    expect(fromHead.sequences()).toEqual(range(11, 15));
    await Promise.all([fromFour.follow.stop(), fromHead.follow.stop()]);
  });

  it("tells when a follower caught up with the head it read at start: after replaying it, at once when there is nothing to replay, or how it ended first", async () => {
    const log = await createJetStreamSignalLog(await options());
    const empty = collect(log, "none", "retained");
    expect(await empty.follow.caughtUp).toEqual({ reason: "caught_up", head: 0 });
    await empty.follow.stop();
    for (let i = 1; i <= 20; i++) await appendOk(log, "c", `s${i}`);
    const replay = collect(log, "c", "retained");
    expect(await replay.follow.caughtUp).toEqual({ reason: "caught_up", head: 20 });
    // Handed over before it resolved, not after.
    expect(replay.sequences()).toEqual(range(1, 20));
    await replay.follow.stop();
    const fromHead = collect(log, "c", 20);
    expect(await fromHead.follow.caughtUp).toEqual({ reason: "caught_up", head: 20 });
    await fromHead.follow.stop();
    const beyond = collect(log, "c", 21);
    expect(await beyond.follow.caughtUp).toMatchObject({ reason: "out_of_range", head: 20 });
  });

  it("reports following from before the oldest retained record as out of range, not a silent skip", async () => {
    const o = await options({ historyLimit: 5 });
    const log = await createJetStreamSignalLog(o);
    for (let i = 1; i <= 8; i++) await appendOk(log, "c", `s${i}`); // 4..8 retained

    for (const after of [0, 2]) {
      const f = collect(log, "c", after);
      expect(await f.follow.ended).toMatchObject({ reason: "out_of_range", requestedAfter: after, oldest: 4, head: 8 });
      expect(f.records).toEqual([]);
    }
    const ahead = collect(log, "c", 9);
    expect(await ahead.follow.ended).toMatchObject({ reason: "out_of_range", requestedAfter: 9, head: 8 });

    const fromThree = collect(log, "c", 3);
    await until(() => fromThree.records.length >= 5, "the retained records");
    expect(fromThree.sequences()).toEqual(range(4, 8));
    await fromThree.follow.stop();

    // A replica loading the coordination asks for what is retained, whatever it starts at; then live.
    const retained = collect(log, "c", "retained");
    await until(() => retained.records.length >= 5, "the retained records");
    await appendOk(log, "c", "s9");
    await until(() => retained.records.length >= 6, "the live record");
    expect(retained.sequences()).toEqual(range(4, 9));
    await retained.follow.stop();
    const empty = collect(log, "fresh", "retained");
    await appendOk(log, "fresh", "f1");
    await until(() => empty.records.length >= 1, "the first record");
    expect(empty.sequences()).toEqual([1]);
    await empty.follow.stop();

    // A retry of a trimmed append cannot be answered with its original, nor appended again.
    expect(await log.append("c", bytes("s1"), { msgId: "s1" })).toMatchObject({ ok: false, reason: "rejected" });

    // Every replica must agree on the stream: another history limit fails at start.
    await expect(createJetStreamSignalLog({ ...o, historyLimit: 6 })).rejects.toBeInstanceOf(SignalStreamMismatchError);
  });

  it("reports records trimmed while a follower lagged as out of range, not a gap it applies over", async () => {
    const o = await options({ historyLimit: 3 });
    const log = await createJetStreamSignalLog(o);
    const subject = log.subjectOf("c");
    await appendOk(log, "c", "s1");
    const s2 = await appendOk(log, "c", "s2");
    const followed = collect(log, "c", 0);
    await until(() => followed.records.length >= 1, "record 1");
    // This process is blocked while another appends 3..300 as Consort would: the server sends the follower what
    // its pull request asked for (up to 100), the history limit of 3 drops the rest but 298..300 meanwhile.
    const script = `
      import { connect, headers } from "nats";
      const nc = await connect({ servers: ${JSON.stringify(nats.url)} });
      const js = nc.jetstream();
      let last = ${s2.streamSequence};
      for (let c = 3; c <= 300; c++) {
        const h = headers();
        h.set("Consort-Sequence", String(c));
        last = (await js.publish(${JSON.stringify(subject)}, new Uint8Array(1), { headers: h, expect: { lastSubjectSequence: last } })).seq;
      }
      await nc.close();`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 20_000 });
    expect(child.stderr).toBe("");
    expect(await followed.follow.ended).toMatchObject({ reason: "out_of_range", oldest: 298 });
    const applied = followed.sequences();
    expect(applied).toEqual(range(1, applied.length)); // in order, up to the gap, never across it
    expect(applied.length).toBeLessThan(298);
  });

  it("detects a message published on the subject bypassing Consort, without applying it", async () => {
    const o = await options();
    const log = await createJetStreamSignalLog(o);
    const js = o.connection.jetstream();
    await appendOk(log, "c", "s1");
    await appendOk(log, "c", "s2");
    const followed = collect(log, "c", 0);
    await until(() => followed.records.length >= 2, "two records");

    const rogue = await js.publish(log.subjectOf("c"), bytes("rogue")); // stored: the server reads no header of ours
    expect(await followed.follow.ended).toMatchObject({ reason: "invalid_record", streamSequence: rogue.seq, expected: 3, found: undefined });
    expect(followed.sequences()).toEqual([1, 2]);
    expect(await log.append("c", bytes("s3"), { msgId: "s3" })).toMatchObject({ ok: false, reason: "head_invalid" });

    // A forged sequence is caught by a follower that knows its predecessor.
    await appendOk(log, "d", "d1");
    const forged = headers();
    forged.set("Consort-Sequence", "7");
    await js.publish(log.subjectOf("d"), bytes("forged"), { headers: forged });
    const d = collect(log, "d", 0);
    expect(await d.follow.ended).toMatchObject({ reason: "invalid_record", expected: 2, found: "7" });
    expect(d.sequences()).toEqual([1]);
  });

  it("reads only through JetStream: a publish the stream rejected reaches plain subscribers, never a follower", async () => {
    const o = await options();
    const log = await createJetStreamSignalLog(o);
    const subject = log.subjectOf("c");
    const plain: string[] = [];
    const sub = o.connection.subscribe(subject, { callback: (_err, m) => plain.push(text(m.data)) });
    const followed = collect(log, "c", 0);
    await appendOk(log, "c", "s1");
    const stale = headers();
    stale.set("Consort-Sequence", "1");
    await expect(o.connection.jetstream().publish(subject, bytes("loser"), { headers: stale, expect: { lastSubjectSequence: 0 } })).rejects.toThrow(/wrong last sequence/);
    await appendOk(log, "c", "s2");
    await until(() => followed.records.length >= 2 && plain.length >= 3, "the deliveries");
    expect(plain).toEqual(["s1", "loser", "s2"]);
    expect(followed.records.map((r) => text(r.payload))).toEqual(["s1", "s2"]);
    sub.unsubscribe();
    await followed.follow.stop();
  });

  it("returns a conflict when other writers win every attempt, and head_lost when the subject was purged", async () => {
    const o = await options({ maxAttempts: 1 });
    const a = await createJetStreamSignalLog(o);
    const b = await createJetStreamSignalLog({ ...o, connection: await connection() });
    await appendOk(a, "c", "a1");
    await appendOk(b, "c", "b2"); // a's known head is now stale
    expect(await a.append("c", bytes("a3"), { msgId: "a3" })).toMatchObject({ ok: false, reason: "conflict", attempts: 1 });
    expect(a.knownHead("c")).toMatchObject({ consortSequence: 2 }); // learned on the way: the next attempt can win
    expect(await a.append("c", bytes("a3"), { msgId: "a3" })).toMatchObject({ ok: true, consortSequence: 3 });

    const jsm = await o.connection.jetstreamManager();
    await jsm.streams.purge(a.streamName, { filter: a.subjectOf("c") });
    await appendOk(b, "other", "x"); // b's head of "c" is stale too, but it would read an empty subject as 0
    expect(await a.append("c", bytes("a4"), { msgId: "a4" })).toMatchObject({ ok: false, reason: "head_lost" });
    // Forgetting the coordination numbers from 1 again: what the cleared-through figure in meta will prevent.
    a.forget("c");
    expect(await a.append("c", bytes("a4"), { msgId: "a4" })).toMatchObject({ ok: true, consortSequence: 1 });
  });

  it("returns unavailable, not a throw, when the server is gone; a follow ends failed once its connection closes", async () => {
    const own = await startNatsServer();
    try {
      const nc = await connect({ servers: own.url, reconnectTimeWait: 50 });
      const log = await createJetStreamSignalLog({ connection: nc, storage: "memory", timeoutMs: 300 });
      await appendOk(log, "c", "s1");
      const followed = collect(log, "c", 0);
      await until(() => followed.records.length >= 1, "a record");
      await own.stop();
      expect(await log.append("c", bytes("s2"), { msgId: "s2" })).toMatchObject({ ok: false, reason: "unavailable" });
      await nc.close();
      expect(await followed.follow.ended).toMatchObject({ reason: "failed" });
    } finally {
      await own.stop();
    }
  });

  it("ends a follow whose stream is deleted", async () => {
    const o = await options();
    const log = await createJetStreamSignalLog(o);
    await appendOk(log, "c", "s1");
    const followed = collect(log, "c", 0);
    await until(() => followed.records.length >= 1, "a record");
    await (await o.connection.jetstreamManager()).streams.delete(log.streamName);
    expect(await followed.follow.ended).toMatchObject({ reason: "failed" });
  });

  it("follows a coordination with one consumer, released on stop", async () => {
    const o = await options();
    const log = await createJetStreamSignalLog(o);
    const jsm = await o.connection.jetstreamManager();
    const consumers = async () => (await jsm.consumers.list(log.streamName).next()).length;
    const followed = collect(log, "c", 0);
    expect(() => log.follow("c", 0, () => undefined)).toThrow(/already followed/);
    await appendOk(log, "c", "s1");
    await until(() => followed.records.length >= 1, "a record");
    expect(await consumers()).toBe(1);
    expect(await followed.follow.stop()).toEqual({ reason: "stopped" });
    expect(await consumers()).toBe(0);
    // Stopped at once, before its consumer exists: nothing is left behind either.
    expect(await log.follow("c", 0, () => undefined).stop()).toEqual({ reason: "stopped" });
    expect(await consumers()).toBe(0);
  });

  it("keeps ids that subjects cannot spell apart, each on one subject that decodes back to it", async () => {
    const o = await options();
    const log = await createJetStreamSignalLog(o);
    const ids = ["a.b", "a_b", "a b", "a*", "a>", "é", "😀", "x".repeat(100), "\ufffd"];
    for (const id of ids) await appendOk(log, id, id);
    const jsm = await o.connection.jetstreamManager();
    const state = (await jsm.streams.info(log.streamName, { subjects_filter: ">" })).state;
    const subjects = Object.keys(state.subjects ?? {});
    expect(subjects).toHaveLength(ids.length);
    expect(subjects.map((s) => coordinationOfToken(s.split(".").at(-1) ?? "")).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const f = collect(log, id, 0);
      await until(() => f.records.length >= 1, `the record of ${id}`);
      expect(f.records.map((r) => text(r.payload))).toEqual([id]);
      await f.follow.stop();
    }
  });
});
