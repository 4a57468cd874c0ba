import { create } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import { headers } from "nats";
import { afterEach, describe, expect, it } from "vitest";
import { createCoordinationMetaStore } from "../../src/backend/nats/coordination-meta.js";
import { appendError, createJetStreamSignalBackend, type JetStreamSignalBackend } from "../../src/backend/nats/signal-backend.js";
import { PublishStreamRequestSchema, type PublishStreamResponse, SignalService, SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { createJetStreamSignalLog } from "../../src/backend/nats/signal-log.js";
import { ConsortError } from "../../src/core/errors.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createSignalEngine, type SignalEngine } from "../../src/core/signals/signal-engine.js";
import { streamSubscription, type SubscriptionEvent } from "../../src/core/signals/subscription-stream.js";
import type { PublishResult, SignalRecord } from "../../src/core/signals/types.js";
import { createStore, type Store } from "../../src/core/store.js";
import { createSignalService } from "../../src/service/signal-service.js";
import { statusDetailsBin, toWireError } from "../../src/transport/errors.js";
import { until, useNatsServer } from "./fixture.js";

/**
 * The JetStream signal backend against a real nats-server: replicas — each a store and a signal engine with this
 * backend on a connection, signal log and meta store of its own — share coordinations' signals. Each test has a
 * stream, subject prefix and meta bucket of its own.
 */

const nats = useNatsServer();
const connection = nats.connection;
const backends: JetStreamSignalBackend[] = [];
let worlds = 0;

// Registered after the fixture's: runs before the connections close.
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

interface Replica {
  readonly store: Store;
  readonly engine: SignalEngine<Promise<PublishResult>>;
  readonly backend: JetStreamSignalBackend;
  readonly errors: ConsortError[];
  /** Holds back what the meta watch hears until {@link release}: a replica that has not yet heard of a change. */
  deafen(): void;
  /** Delivers what was held back, in order, and hears again. */
  release(): void;
}

/** A fresh stream and bucket, and a function making replicas on them. */
function world() {
  const n = ++worlds;
  const names = { streamName: `BACKEND_${n}`, subjectPrefix: `b${n}.sig`, bucket: `BACKEND_META_${n}` };
  const replica = async (historyLimit?: number): Promise<Replica> => {
    const nc = await connection();
    const log = await createJetStreamSignalLog({ connection: nc, streamName: names.streamName, subjectPrefix: names.subjectPrefix, storage: "memory", ...(historyLimit === undefined ? {} : { historyLimit }) });
    const realMeta = await createCoordinationMetaStore({ connection: nc, bucket: names.bucket, storage: "memory" });
    let held: (() => void)[] | undefined;
    const meta: typeof realMeta = {
      ...realMeta,
      watch: (handler, watchOptions) =>
        realMeta.watch((event) => {
          if (held === undefined) handler(event);
          else held.push(() => handler(event));
        }, watchOptions),
    };
    const errors: ConsortError[] = [];
    const backend = createJetStreamSignalBackend({ log, meta, onError: (e) => errors.push(e) });
    backends.push(backend);
    const store = createStore();
    const engine = createSignalEngine({ store, limits: defaultLimits, backend });
    return {
      store,
      engine,
      backend,
      errors,
      deafen: () => (held ??= []),
      release() {
        const events = held ?? [];
        held = undefined;
        for (const e of events) e();
      },
    };
  };
  return { names, replica };
}

/** Pulls signals from a stream until `n` arrived (bounded). */
async function collect(events: AsyncGenerator<SubscriptionEvent>, n: number): Promise<SignalRecord[]> {
  const out: SignalRecord[] = [];
  for (let i = 0; i < 10_000 && out.length < n; i++) {
    const r = await events.next();
    if (r.done === true) break;
    if (r.value.kind === "signals") out.push(...r.value.signals);
  }
  return out;
}

/** A replica's whole retained log of `id`, oldest first, replayed through a subscription. */
function history(engine: SignalEngine<Promise<PublishResult>>, id: string): SignalRecord[] {
  // From the oldest retained: a cleared log no longer holds sequence 1.
  const { oldestSequence, headSequence } = engine.metrics(id);
  const afterSequence = oldestSequence === 0 ? headSequence : oldestSequence - 1;
  const { subscription } = engine.subscribe({ coordinationId: id, agentId: "history", afterSequence, observer: true });
  const out: SignalRecord[] = [];
  for (let batch = subscription.take(1000, Infinity, () => 1); batch.length > 0; batch = subscription.take(1000, Infinity, () => 1)) out.push(...batch);
  subscription.close();
  return out;
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function rejection(p: Promise<unknown>): Promise<ConsortError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConsortError);
  return e as ConsortError;
}

describe("JetStream signal backend", () => {
  it("delivers a signal published on one replica to a subscriber on another, in the coordination's one epoch", async () => {
    const { replica } = world();
    const [a, b] = await Promise.all([replica(), replica()]);
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    expect(a.engine.summary("c")?.epoch).toBe(b.engine.summary("c")?.epoch);
    const events = streamSubscription(b.engine.subscribe({ coordinationId: "c", agentId: "reader" }).subscription, { maxBatchBytes: 1 << 20, sizeOf: () => 1 });
    const published = a.engine.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "writer", data: { n: 1 }, metadata: { m: "x" } });
    expect(published).toBeInstanceOf(Promise);
    const { signal, duplicate } = await published;
    expect(duplicate).toBe(false);
    expect(signal.sequence).toBe(1);
    // Acknowledged means applied on the replica that acknowledged it.
    expect(a.engine.headSequence("c")).toBe(1);
    const [got] = await collect(events, 1);
    await events.return(undefined);
    expect(got).toEqual(signal);
    expect(got?.epoch).toBe(b.engine.summary("c")?.epoch);
  });

  it("numbers two replicas' concurrent publishes 1..200 on both views, identical, each replica's acks in the order made", async () => {
    const { replica } = world();
    const [a, b] = await Promise.all([replica(), replica()]);
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    const acked: [number[], number[]] = [[], []];
    const publishes: Promise<PublishResult>[] = [];
    for (let i = 0; i < 100; i++) {
      [a, b].forEach((r, k) => {
        const p = Promise.resolve(r.engine.publish({ coordinationId: "c", type: "inter_agent_message", senderAgentId: `r${k}`, data: { i } }));
        publishes.push(p.then((x) => (acked[k]!.push(x.signal.sequence), x)));
      });
    }
    const results = await Promise.all(publishes);
    expect(results.map((r) => r.signal.sequence).sort((x, y) => x - y)).toEqual(oneTo(200));
    for (const seqs of acked) expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    await until(() => a.engine.headSequence("c") === 200 && b.engine.headSequence("c") === 200, "both views at 200");
    const [onA, onB] = [history(a.engine, "c"), history(b.engine, "c")];
    expect(onA.map((s) => s.sequence)).toEqual(oneTo(200));
    expect(onB).toEqual(onA);
    // The two replicas' appends interleaved in the log (~55 of 199 neighbours from different replicas here).
    expect(onA.some((s, i) => i > 0 && s.senderAgentId === "r0" && onA[i - 1]!.senderAgentId === "r1")).toBe(true);
    expect(a.engine.metrics("c").totalSignalsSent).toBe(200);
    expect(b.engine.metrics("c").totalSignalsSent).toBe(200);
  });

  it("returns the original to a retry on another replica, whether it raced the original or came after it", async () => {
    const { replica } = world();
    const [a, b] = await Promise.all([replica(), replica()]);
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    // Racing: both replicas append under one key; the log keeps the first, the other is told the original.
    const [onA, onB] = await Promise.all([
      a.engine.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k", data: { from: "a" } }),
      b.engine.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k", data: { from: "b" } }),
    ]);
    expect([onA.duplicate, onB.duplicate].sort()).toEqual([false, true]);
    expect(onB.signal).toEqual(onA.signal);
    expect(onA.signal.sequence).toBe(1);
    // After: answered from B's view.
    await until(() => b.engine.headSequence("c") === 1, "B applied the original");
    const later = await b.engine.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k", data: { from: "later" } });
    expect(later).toEqual({ signal: onA.signal, duplicate: true });
    await a.engine.publish({ coordinationId: "c", type: "agent_completed" });
    await until(() => b.engine.headSequence("c") === 2, "B applied the next");
    expect(history(b.engine, "c").map((s) => s.sequence)).toEqual([1, 2]);
  });

  it("loads what was published before a replica served the coordination, then follows it live", async () => {
    const { replica } = world();
    const a = await replica();
    await a.backend.serve("c");
    const first = await Promise.all(oneTo(5).map((i) => a.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i } })));
    const c = await replica();
    expect(c.backend.isServed("c")).toBe(false);
    await c.backend.serve("c");
    expect(c.backend.isServed("c")).toBe(true);
    // Loaded before serve resolved: reads need not wait.
    expect(history(c.engine, "c")).toEqual(first.map((r) => r.signal));
    expect(c.engine.summary("c")?.epoch).toBe(a.engine.summary("c")?.epoch);
    const next = await c.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i: 6 } });
    expect(next.signal.sequence).toBe(6);
    await until(() => a.engine.headSequence("c") === 6, "A applied C's signal");
  });

  it("refuses a coordination it does not serve, and tells of a record published bypassing Consort", async () => {
    const { names, replica } = world();
    const a = await replica();
    expect(() => a.engine.publish({ coordinationId: "unserved", type: "agent_completed" })).toThrow(expect.objectContaining({ kind: "failed_precondition", reason: "COORDINATION_NOT_SERVED" }));
    await a.backend.serve("c");
    await a.engine.publish({ coordinationId: "c", type: "agent_completed" });
    // A message on the subject without Consort's header: the follower refuses it and the coordination is no longer served.
    const nc = await connection();
    const subject = `${names.subjectPrefix}.${Buffer.from("c").toString("base64url")}`;
    await nc.jetstream().publish(subject, new TextEncoder().encode("{}"), { headers: headers() });
    await until(() => a.errors.length > 0, "the follower's end reported");
    expect(a.errors[0]).toMatchObject({ kind: "failed_precondition", reason: "SIGNAL_LOG_UNREADABLE" });
    expect(a.backend.isServed("c")).toBe(false);
    const refused = await rejection(Promise.resolve().then(() => a.engine.publish({ coordinationId: "c", type: "agent_completed" })));
    expect(refused.kind).toBe("failed_precondition");
    expect(refused.metadata["coordination_id"]).toBe("c");
    // Serving it again fails too, for the same reason: nothing is applied past the foreign record.
    const again = await rejection(a.backend.serve("c"));
    expect(again.kind).toBe("failed_precondition");
    expect(a.engine.headSequence("c")).toBe(1);
  });

  it("shares one load among concurrent serves, and serves again, in a new epoch, a coordination deleted here", async () => {
    const { replica } = world();
    const a = await replica();
    // One follower per coordination: a second load would be refused by the log.
    await Promise.all([a.backend.serve("c"), a.backend.serve("c"), a.backend.serve("c")]);
    await Promise.all(oneTo(3).map((i) => a.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i } })));
    const epoch = a.engine.summary("c")?.epoch;
    a.store.delete("c");
    expect(a.engine.headSequence("c")).toBe(0);
    // The engine makes a new view on next use; the backend's follower still applies to the dropped one.
    const refused = await rejection(Promise.resolve().then(() => a.engine.publish({ coordinationId: "c", type: "stage_completed" })));
    expect(refused).toMatchObject({ kind: "failed_precondition", reason: "COORDINATION_NOT_SERVED" });
    // Deleted everywhere: purged, its meta deleted; serving it again begins a new epoch numbered from 1.
    await a.backend.serve("c");
    expect(history(a.engine, "c")).toEqual([]);
    expect(a.engine.summary("c")?.epoch).not.toBe(epoch);
    expect((await a.engine.publish({ coordinationId: "c", type: "stage_completed" })).signal.sequence).toBe(1);
  });

  it("acknowledges a PublishStream in request order while another replica publishes to the same coordination", async () => {
    const { replica } = world();
    const [a, b] = await Promise.all([replica(), replica()]);
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    const service = createSignalService({ engine: a.engine, maxMessageBytes: defaultLimits.maxMessageBytes, statusBytes: (err) => statusDetailsBin(toWireError(err)) });
    const ctx = createHandlerContext({
      service: SignalService,
      method: SignalService.method.publishStream,
      protocolName: "grpc",
      requestMethod: "POST",
      url: "http://x/",
      requestHeader: { "content-type": "application/grpc" },
    });
    async function* requests() {
      for (let i = 0; i < 100; i++) yield create(PublishStreamRequestSchema, { publish: { coordinationId: "c", type: SignalType.INTER_AGENT_MESSAGE, data: { i } } });
    }
    const onB = Promise.all(oneTo(50).map((i) => b.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i } })));
    const acks: number[] = [];
    for await (const res of service.publishStream(requests(), ctx)) {
      for (const o of (res as PublishStreamResponse).outcomes) acks.push(o.outcome.case === "ack" ? Number(o.outcome.value.sequence) : -1);
    }
    const fromB = (await onB).map((r) => r.signal.sequence);
    expect(acks).toHaveLength(100);
    expect(acks).toEqual([...acks].sort((x, y) => x - y));
    expect([...acks, ...fromB].sort((x, y) => x - y)).toEqual(oneTo(150));
  });

  it("clears on every replica through the meta: views empty, numbering continues from the old head, an old resume is out of range", async () => {
    const { replica } = world();
    const a = await replica();
    const b = await replica();
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    for (const i of oneTo(5)) await a.engine.publish({ coordinationId: "c", type: "stage_completed", idempotencyKey: `k${i}`, data: { i } });
    await until(() => b.engine.headSequence("c") === 5, "B applied A's signals");
    expect(await a.engine.clear("c")).toEqual({ cleared: 5, headSequence: 5 });
    expect(history(a.engine, "c")).toEqual([]);
    // B hears the raised cleared-through from the meta watch and drops its history, keys and counters.
    await until(() => history(b.engine, "c").length === 0, "B's view cleared");
    expect(b.engine.headSequence("c")).toBe(5);
    expect(b.engine.metrics("c").totalSignalsSent).toBe(0);
    expect(() => b.engine.subscribe({ coordinationId: "c", agentId: "late", afterSequence: 2 })).toThrow(expect.objectContaining({ kind: "out_of_range", reason: "HISTORY_TRIMMED" }));
    const live = streamSubscription(b.engine.subscribe({ coordinationId: "c", agentId: "watcher", afterSequence: 5 }).subscription, { maxBatchBytes: 1 << 20, sizeOf: () => 1 });
    // A cleared key is free again, as in memory; both replicas number on from the old head.
    const onB = await b.engine.publish({ coordinationId: "c", type: "stage_completed", idempotencyKey: "k1" });
    expect(onB).toMatchObject({ duplicate: false, signal: { sequence: 6 } });
    const onA = await a.engine.publish({ coordinationId: "c", type: "stage_completed" });
    expect(onA.signal.sequence).toBe(7);
    expect((await collect(live, 2)).map((r) => r.sequence)).toEqual([6, 7]);
    await until(() => a.engine.headSequence("c") === 7 && b.engine.headSequence("c") === 7, "both applied 6 and 7");
    expect(history(a.engine, "c")).toEqual(history(b.engine, "c"));
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it("an append racing a clear made elsewhere, before the meta watch told of it, numbers on from cleared-through", async () => {
    const { replica } = world();
    const a = await replica();
    const b = await replica();
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    for (const i of oneTo(3)) await a.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i } });
    await until(() => b.engine.headSequence("c") === 3, "B applied A's signals");
    a.deafen();
    expect(await b.engine.clear("c")).toEqual({ cleared: 3, headSequence: 3 });
    // A's log still knows the purged head: its append finds the head gone back, and the meta says why.
    const r = await a.engine.publish({ coordinationId: "c", type: "stage_completed", idempotencyKey: "after" });
    expect(r.signal.sequence).toBe(4);
    expect(history(a.engine, "c").map((x) => x.sequence)).toEqual([4]);
    a.release();
    await until(() => b.engine.headSequence("c") === 4, "B applied it");
    expect(history(b.engine, "c").map((x) => x.idempotencyKey)).toEqual(["after"]);
    expect(a.errors).toEqual([]);
  });

  it("an append racing a delete made elsewhere, before the meta watch told of it, fails COORDINATION_DELETED, not stored", async () => {
    const { replica } = world();
    const a = await replica();
    const b = await replica();
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    for (const i of oneTo(2)) await a.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i } });
    await until(() => b.engine.headSequence("c") === 2, "B applied A's signals");
    a.deafen();
    expect(b.store.delete("c")).toBe(true);
    await b.backend.serve("c"); // waits for B's purges and the meta's delete: a new epoch
    const err = await Promise.resolve(a.engine.publish({ coordinationId: "c", type: "stage_completed" })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: "aborted", reason: "COORDINATION_DELETED" });
    a.release();
    await until(() => !a.backend.isServed("c"), "A dropped it on hearing the delete");
    expect(b.engine.headSequence("c")).toBe(0);
    await a.backend.serve("c");
    expect((await a.engine.publish({ coordinationId: "c", type: "stage_completed" })).signal.sequence).toBe(1);
  });

  it("serves a coordination after a clear from cleared-through + 1, whether or not anything was appended since", async () => {
    const { replica } = world();
    const a = await replica();
    await a.backend.serve("c");
    await Promise.all([a.backend.serve("d"), Promise.resolve()]);
    for (const id of ["c", "d"]) for (const i of oneTo(4)) await a.engine.publish({ coordinationId: id, type: "stage_completed", data: { i } });
    await a.engine.clear("c");
    await a.engine.clear("d");
    const after = await a.engine.publish({ coordinationId: "d", type: "stage_completed" });
    expect(after.signal.sequence).toBe(5);
    // A replica that never saw the signals: "c"'s subject is empty, its head read as cleared-through; "d" holds 5 only.
    const b = await replica();
    await Promise.all([b.backend.serve("c"), b.backend.serve("d")]);
    expect(b.engine.headSequence("c")).toBe(4);
    expect(history(b.engine, "c")).toEqual([]);
    expect(history(b.engine, "d")).toEqual([after.signal]);
    expect(b.engine.summary("c")?.epoch).toBe(a.engine.summary("c")?.epoch);
    expect((await b.engine.publish({ coordinationId: "c", type: "stage_completed" })).signal.sequence).toBe(5);
    expect((await b.engine.publish({ coordinationId: "d", type: "stage_completed" })).signal.sequence).toBe(6);
    await until(() => a.engine.headSequence("c") === 5 && a.engine.headSequence("d") === 6, "A applied B's signals");
    expect(b.errors).toEqual([]);
  });

  it("serves a coordination whose history was trimmed from its oldest retained record", async () => {
    const { replica } = world();
    const a = await replica(3);
    await a.backend.serve("c");
    for (const i of oneTo(5)) await a.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i } });
    const b = await replica(3);
    await b.backend.serve("c");
    expect(history(b.engine, "c").map((s) => s.sequence)).toEqual([3, 4, 5]);
    expect((await b.engine.publish({ coordinationId: "c", type: "stage_completed" })).signal.sequence).toBe(6);
    expect(b.errors).toEqual([]);
  });

  it("deletes on every replica through the meta: open streams end COORDINATION_DELETED, the next use is a new epoch from 1", async () => {
    const { replica } = world();
    const a = await replica();
    const b = await replica();
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    for (const i of oneTo(3)) await a.engine.publish({ coordinationId: "c", type: "stage_completed", data: { i } });
    await until(() => b.engine.headSequence("c") === 3, "B applied A's signals");
    const epoch = b.engine.summary("c")?.epoch;
    const events = streamSubscription(b.engine.subscribe({ coordinationId: "c", agentId: "reader", afterSequence: 3 }).subscription, { maxBatchBytes: 1 << 20, sizeOf: () => 1 });
    const next = events.next();
    expect(a.store.delete("c")).toBe(true);
    // B hears the meta's delete: its stream ends as a local delete ends it, and it no longer serves the coordination.
    const ended = await next.then(
      (r) => r,
      (err: unknown) => err,
    );
    expect(ended).toMatchObject({ kind: "aborted", reason: "COORDINATION_DELETED", metadata: { epoch } });
    await until(() => !b.backend.isServed("c"), "B stopped serving c");
    expect(b.engine.headSequence("c")).toBe(0);
    // A's drop finished (serve waits for it); both begin the one new epoch, numbered from 1.
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    expect(a.engine.summary("c")?.epoch).toBe(b.engine.summary("c")?.epoch);
    expect(a.engine.summary("c")?.epoch).not.toBe(epoch);
    expect(history(b.engine, "c")).toEqual([]);
    expect((await b.engine.publish({ coordinationId: "c", type: "stage_completed" })).signal.sequence).toBe(1);
    expect((await a.engine.publish({ coordinationId: "c", type: "stage_completed" })).signal.sequence).toBe(2);
    await until(() => a.engine.headSequence("c") === 2 && b.engine.headSequence("c") === 2, "both applied the new epoch's signals");
    expect(history(a.engine, "c")).toEqual(history(b.engine, "c"));
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it("fails a load cut short by the coordination's delete with the delete (COORDINATION_DELETED), not as a shutdown", async () => {
    const { replica } = world();
    const a = await replica();
    await a.backend.serve("c");
    await a.engine.publish({ coordinationId: "c", type: "stage_completed" });
    const b = await replica();
    const serving = rejection(b.backend.serve("c"));
    // B's load opened the engine's view (the coordination is in its store) and follows: deleted now, mid-load.
    for (let i = 0; i < 1000 && b.store.peek("c") === undefined; i++) await new Promise((r) => setImmediate(r));
    expect(b.store.delete("c", "deleted")).toBe(true);
    const e = await serving;
    expect(e.reason).toBe("COORDINATION_DELETED");
    expect(b.backend.isServed("c")).toBe(false);
  });

  it("stops serving an expired coordination here only: expiry is one replica's idle sweep", async () => {
    const { replica } = world();
    const a = await replica();
    const b = await replica();
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    await a.engine.publish({ coordinationId: "c", type: "stage_completed" });
    const epoch = a.engine.summary("c")?.epoch;
    a.store.delete("c", "expired");
    expect(a.backend.isServed("c")).toBe(false);
    await a.backend.serve("c");
    expect(a.engine.summary("c")?.epoch).toBe(epoch);
    expect(history(a.engine, "c").map((s) => s.sequence)).toEqual([1]);
    expect(b.backend.isServed("c")).toBe(true);
    expect((await b.engine.publish({ coordinationId: "c", type: "stage_completed" })).signal.sequence).toBe(2);
    await until(() => a.engine.headSequence("c") === 2, "A applied B's signal");
  });

  it("refuses to serve once closed", async () => {
    const { replica } = world();
    const a = await replica();
    await a.backend.serve("c");
    await a.backend.close();
    expect(a.backend.isServed("c")).toBe(false);
    expect(await rejection(a.backend.serve("c"))).toMatchObject({ kind: "unavailable", reason: "SHUTTING_DOWN" });
  });
});

describe("appendError", () => {
  it("maps each append failure to an error kind a caller can act on, naming the coordination", () => {
    const kinds = (["conflict", "unavailable", "head_lost", "head_invalid", "rejected"] as const).map((reason) => {
      const e = appendError("c-1", { ok: false, reason, message: "why", attempts: 3 });
      expect(e.message).toContain('coordination "c-1"');
      expect(e.metadata).toEqual({ coordination_id: "c-1", attempts: "3" });
      return [reason, e.kind, e.reason];
    });
    expect(kinds).toEqual([
      ["conflict", "aborted", "APPEND_CONFLICT"],
      ["unavailable", "unavailable", "BACKEND_UNAVAILABLE"],
      ["head_lost", "failed_precondition", "SIGNAL_HEAD_LOST"],
      ["head_invalid", "failed_precondition", "SIGNAL_HEAD_INVALID"],
      ["rejected", "internal", "APPEND_REJECTED"],
    ]);
  });
});
