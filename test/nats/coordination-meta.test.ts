import { connect } from "nats";
import { describe, expect, it } from "vitest";
import type { CoordinationMeta } from "../../src/backend/nats/coordination-meta-record.js";
import type { CoordinationMetaEvent } from "../../src/backend/nats/coordination-meta-watch.js";
import { type CoordinationMetaStore, type CoordinationMetaStoreOptions, createCoordinationMetaStore } from "../../src/backend/nats/coordination-meta.js";
import { KvBucketMismatchError } from "../../src/backend/nats/errors.js";
import { until, useNatsServer } from "./fixture.js";
import { startNatsServer } from "./nats-server.js";

/**
 * Coordination meta in JetStream KV against a real nats-server: one epoch per coordination however many replicas
 * race, cleared-through only raised, drops begin a new epoch, and watchers on other connections hear it all in
 * order. Each test has a bucket of its own.
 */

const nats = useNatsServer();
const connection = nats.connection;
let buckets = 0;


/** Options for a bucket of the test's own, on a fresh connection. */
async function options(extra: Partial<CoordinationMetaStoreOptions> = {}): Promise<CoordinationMetaStoreOptions> {
  buckets++;
  return { connection: await connection(), bucket: `META_${buckets}`, storage: "memory", ...extra };
}

/** `count` stores on one bucket, each on a connection of its own. */
async function replicas(count: number): Promise<CoordinationMetaStore[]> {
  const base = await options();
  return Promise.all(Array.from({ length: count }, async (_, i) => createCoordinationMetaStore(i === 0 ? base : { ...base, connection: await connection() })));
}

async function acquired(store: CoordinationMetaStore, id: string): Promise<CoordinationMeta & { created: boolean }> {
  const r = await store.acquire(id);
  if (!r.ok) throw new Error(`acquire failed: ${r.reason}: ${r.message}`);
  return { ...r.meta, created: r.created };
}

describe("coordination meta in JetStream KV", () => {
  it("ten concurrent acquires of a new coordination from three connections end with one epoch, begun once", async () => {
    const stores = await replicas(3);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => acquired(stores[i % 3] as CoordinationMetaStore, "race")));
    expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.revision)).size).toBe(1);
    expect(results.every((r) => r.clearedThrough === 0)).toBe(true);
    // Later acquires, from any replica, read the same meta.
    expect((await acquired(stores[2] as CoordinationMetaStore, "race")).epoch).toBe(results[0]?.epoch);
  });

  it("a drop racing with acquires of a dropped coordination ends with one new epoch too", async () => {
    const stores = await replicas(3);
    const [a, b, c] = stores as [CoordinationMetaStore, CoordinationMetaStore, CoordinationMetaStore];
    const first = await acquired(a, "again");
    expect(await b.drop("again", "deleted")).toMatchObject({ ok: true, dropped: true, epoch: first.epoch });
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => acquired(stores[i % 3] as CoordinationMetaStore, "again")));
    expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results[0]?.epoch).not.toBe(first.epoch);
    expect((await acquired(c, "again")).epoch).toBe(results[0]?.epoch);
  });

  it("clear raises cleared-through and never lowers it, under concurrent clears from three connections", async () => {
    const stores = await replicas(3);
    const { epoch } = await acquired(stores[0] as CoordinationMetaStore, "clears");
    // 30 clears through 1..30 in a shuffled order, 10 at a time per connection.
    const throughs = Array.from({ length: 30 }, (_, i) => i + 1).sort((x, y) => ((x * 7919) % 31) - ((y * 7919) % 31));
    const results = await Promise.all(throughs.map((t, i) => (stores[i % 3] as CoordinationMetaStore).clear("clears", t, { epoch })));
    for (const [i, r] of results.entries()) {
      if (!r.ok) throw new Error(`clear failed: ${r.reason}: ${r.message}`);
      expect(r.meta.clearedThrough).toBeGreaterThanOrEqual(throughs[i] as number);
      expect(r.meta.epoch).toBe(epoch);
    }
    // Each raising write went above every one before it: ordered by revision, cleared-through strictly increases.
    const raised = results.flatMap((r) => (r.ok && r.raised ? [r.meta] : [])).sort((x, y) => x.revision - y.revision);
    expect(raised.length).toBeGreaterThan(0);
    for (let i = 1; i < raised.length; i++) expect((raised[i] as CoordinationMeta).clearedThrough).toBeGreaterThan((raised[i - 1] as CoordinationMeta).clearedThrough);
    const after = await acquired(stores[1] as CoordinationMetaStore, "clears");
    expect(after).toMatchObject({ epoch, clearedThrough: 30, created: false });

    // Lower and equal clears write nothing.
    const lower = await (stores[2] as CoordinationMetaStore).clear("clears", 12);
    expect(lower).toMatchObject({ ok: true, raised: false, meta: { clearedThrough: 30, revision: after.revision } });
    expect(await (stores[0] as CoordinationMetaStore).clear("clears", 30)).toMatchObject({ ok: true, raised: false });
    expect((await acquired(stores[0] as CoordinationMetaStore, "clears")).revision).toBe(after.revision);
  });

  it("with one attempt allowed, a clear that loses a race says conflict and writes nothing", async () => {
    const base = await options({ maxAttempts: 1 });
    const stores = await Promise.all([0, 1, 2].map(async (i) => createCoordinationMetaStore(i === 0 ? base : { ...base, connection: await connection() })));
    await acquired(stores[0] as CoordinationMetaStore, "contended");
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (stores[i % 3] as CoordinationMetaStore).clear("contended", i + 1)));
    for (const r of results) if (!r.ok) expect(r).toMatchObject({ reason: "conflict", attempts: 1 });
    const raised = results.flatMap((r) => (r.ok && r.raised ? [r.meta.clearedThrough] : []));
    const highest = Math.max(...results.flatMap((r) => (r.ok ? [r.meta.clearedThrough] : [])));
    expect((await acquired(stores[1] as CoordinationMetaStore, "contended")).clearedThrough).toBe(Math.max(...raised, highest));
  });

  it("refuses clears of a coordination without meta, of another epoch, and of a bad sequence", async () => {
    const [store] = (await replicas(1)) as [CoordinationMetaStore];
    expect(await store.clear("never", 5)).toMatchObject({ ok: false, reason: "not_found" });
    const { epoch } = await acquired(store, "guarded");
    expect(await store.clear("guarded", 5, { epoch: "another" })).toMatchObject({ ok: false, reason: "epoch_changed" });
    expect(await store.clear("guarded", -1)).toMatchObject({ ok: false, reason: "rejected" });
    expect(await store.clear("guarded", 1.5)).toMatchObject({ ok: false, reason: "rejected" });
    expect(await store.drop("guarded", "deleted", { epoch: "another" })).toMatchObject({ ok: false, reason: "epoch_changed" });
    expect(await store.clear("guarded", 5, { epoch })).toMatchObject({ ok: true, raised: true, meta: { clearedThrough: 5 } });
    expect(await store.acquire("")).toMatchObject({ ok: false, reason: "rejected" });
  });

  it("drop deletes the meta, and the next acquire begins a new epoch from cleared-through 0", async () => {
    const [a, b] = (await replicas(2)) as [CoordinationMetaStore, CoordinationMetaStore];
    const first = await acquired(a, "dropped");
    await a.clear("dropped", 40);
    expect(await b.drop("dropped", "expired", { epoch: first.epoch })).toEqual({ ok: true, dropped: true, epoch: first.epoch });
    expect(await a.clear("dropped", 50)).toMatchObject({ ok: false, reason: "not_found" });
    // A second drop finds nothing to drop.
    expect(await a.drop("dropped", "deleted")).toEqual({ ok: true, dropped: false, epoch: undefined });
    const second = await acquired(a, "dropped");
    expect(second.created).toBe(true);
    expect(second.epoch).not.toBe(first.epoch);
    expect(second.clearedThrough).toBe(0);
    expect(second.revision).toBeGreaterThan(first.revision);
    // A late clear or drop of the old epoch leaves the new one alone.
    expect(await b.clear("dropped", 60, { epoch: first.epoch })).toMatchObject({ ok: false, reason: "epoch_changed" });
    expect(await b.drop("dropped", "expired", { epoch: first.epoch })).toMatchObject({ ok: false, reason: "epoch_changed" });
    expect(await acquired(b, "dropped")).toMatchObject({ epoch: second.epoch, clearedThrough: 0, created: false });
  });

  it("a watcher on another connection hears create, clear and drop in order, from when it started, until stopped", async () => {
    const base = await options();
    const writer = await createCoordinationMetaStore(base);
    await writer.acquire("before"); // made before the watch: not heard
    const watcher = await createCoordinationMetaStore({ ...base, connection: await connection() });
    const events: CoordinationMetaEvent[] = [];
    const watch = await watcher.watch((e) => events.push(e));

    const created = await acquired(writer, "watched");
    const cleared = await writer.clear("watched", 7);
    await writer.acquire("watched"); // reads only: not heard
    await writer.drop("watched", "deleted");
    const again = await acquired(writer, "watched");
    await until(() => events.length >= 4, "four meta events");

    expect(events).toEqual([
      { kind: "created", coordinationId: "watched", meta: { coordinationId: "watched", epoch: created.epoch, clearedThrough: 0, createdAt: created.createdAt, revision: created.revision } },
      { kind: "changed", coordinationId: "watched", meta: cleared.ok ? cleared.meta : undefined },
      { kind: "dropped", coordinationId: "watched", reason: "deleted", epoch: created.epoch, revision: (cleared.ok ? cleared.meta.revision : 0) + 1 },
      { kind: "created", coordinationId: "watched", meta: { coordinationId: "watched", epoch: again.epoch, clearedThrough: 0, createdAt: again.createdAt, revision: again.revision } },
    ]);
    expect(await watch.stop()).toEqual({ reason: "stopped" });
    await writer.drop("watched", "expired");
    await acquired(writer, "after stop");
    // Heard nothing after stopping: a second watch started later hears the next write first.
    const later: CoordinationMetaEvent[] = [];
    const second = await watcher.watch((e) => later.push(e));
    await writer.clear("after stop", 3);
    await until(() => later.length >= 1, "the second watch's event");
    expect(later[0]).toMatchObject({ kind: "changed", coordinationId: "after stop", meta: { clearedThrough: 3 } });
    expect(events).toHaveLength(4);
    await second.stop();
    // Stopping released both watches' consumers on the server (once it sees no interest: ~5 s).
    const jsm = await (await connection()).jetstreamManager();
    let consumers = -1;
    for (let i = 0; i < 1_500 && consumers !== 0; i++) {
      consumers = (await jsm.streams.info(`KV_${base.bucket}`)).state.consumer_count;
      if (consumers !== 0) await new Promise((r) => setTimeout(r, 10));
    }
    expect(consumers).toBe(0);
  });

  it("a watch resumed after the last revision heard gets each coordination's latest change made meanwhile, in order", async () => {
    const base = await options();
    const writer = await createCoordinationMetaStore(base);
    const watcher = await createCoordinationMetaStore({ ...base, connection: await connection() });
    for (const id of ["y", "z", "w"]) await writer.acquire(id);
    const first: CoordinationMetaEvent[] = [];
    const watch = await watcher.watch((e) => first.push(e));
    expect(watch.lastRevision).toBe(0);
    const heard = await acquired(writer, "heard");
    await until(() => first.length >= 1, "the first event");
    expect(await watch.stop()).toEqual({ reason: "stopped" });
    expect(watch.lastRevision).toBe(heard.revision);

    // Meanwhile: x begun, y cleared twice, z dropped, w dropped and begun again.
    const x = await acquired(writer, "x");
    await writer.clear("y", 4);
    const y = await writer.clear("y", 9);
    const z = await writer.drop("z", "expired");
    await writer.drop("w", "deleted");
    const w = await acquired(writer, "w");
    const resumed: CoordinationMetaEvent[] = [];
    const again = await watcher.watch((e) => resumed.push(e), { afterRevision: watch.lastRevision });
    await until(() => resumed.length >= 4, "the changes made meanwhile");
    expect(resumed).toMatchObject([
      { kind: "created", coordinationId: "x", meta: { epoch: x.epoch } },
      { kind: "changed", coordinationId: "y", meta: { clearedThrough: 9, revision: y.ok ? y.meta.revision : 0 } },
      { kind: "dropped", coordinationId: "z", reason: "expired", epoch: z.ok ? z.epoch : "" },
      { kind: "created", coordinationId: "w", meta: { epoch: w.epoch } },
    ]);
    // Then live, as any watch.
    await writer.clear("x", 2);
    await until(() => resumed.length >= 5, "a live event");
    expect(resumed[4]).toMatchObject({ kind: "changed", coordinationId: "x", meta: { clearedThrough: 2 } });
    expect(again.lastRevision).toBe((resumed[4] as { meta: CoordinationMeta }).meta.revision);
    await again.stop();
    await expect(watcher.watch(() => undefined, { afterRevision: -1 })).rejects.toThrow(RangeError);
  });

  it("a watch ends failed when its connection closes, and when its handler throws", async () => {
    const base = await options();
    const writer = await createCoordinationMetaStore(base);
    const nc = await connection();
    const watcher = await createCoordinationMetaStore({ ...base, connection: nc });
    const throwing = await watcher.watch(() => {
      throw new Error("boom");
    });
    await writer.acquire("x");
    expect(await throwing.ended).toMatchObject({ reason: "failed", message: expect.stringContaining("boom") });
    const closing = await watcher.watch(() => undefined);
    await nc.close();
    expect(await closing.ended).toMatchObject({ reason: "failed" });
  });

  it("keeps ids with '.', '*', '>', spaces and emoji apart, each its own key, and watchers get the ids back", async () => {
    const [a, b] = (await replicas(2)) as [CoordinationMetaStore, CoordinationMetaStore];
    const ids = ["a.b", "a", "a.*", "a.>", "*", ">", "a b", " a", "a\tb", "🚀", "🚀.🚀", "review/42", "a..b"];
    const events: CoordinationMetaEvent[] = [];
    const watch = await b.watch((e) => events.push(e));
    const metas = await Promise.all(ids.map((id) => acquired(a, id)));
    expect(metas.every((m) => m.created)).toBe(true);
    expect(new Set(metas.map((m) => m.epoch)).size).toBe(ids.length);
    await Promise.all(ids.map((id, i) => a.clear(id, i + 1)));
    for (const [i, id] of ids.entries()) expect(await acquired(b, id)).toMatchObject({ coordinationId: id, epoch: metas[i]?.epoch, clearedThrough: i + 1 });
    // Dropping one leaves the others.
    await a.drop("a.*", "deleted");
    for (const id of ids) expect((await acquired(b, id)).created).toBe(id === "a.*");
    await until(() => events.length >= 2 * ids.length + 2, "every event");
    expect(new Set(events.flatMap((e) => (e.kind === "invalid" ? [] : [e.coordinationId])))).toEqual(new Set(ids));
    expect(events.filter((e) => e.kind === "invalid")).toEqual([]);
    await watch.stop();
  });

  it("returns unavailable, not a throw, when the server is gone", async () => {
    const own = await startNatsServer();
    try {
      const nc = await connect({ servers: own.url, reconnectTimeWait: 50 });
      const store = await createCoordinationMetaStore({ connection: nc, storage: "memory", timeoutMs: 300 });
      const { epoch } = await acquired(store, "c");
      await own.stop();
      expect(await store.acquire("c")).toMatchObject({ ok: false, reason: "unavailable" });
      expect(await store.acquire("new")).toMatchObject({ ok: false, reason: "unavailable" });
      expect(await store.clear("c", 3, { epoch })).toMatchObject({ ok: false, reason: "unavailable" });
      expect(await store.drop("c", "deleted")).toMatchObject({ ok: false, reason: "unavailable" });
      await nc.close();
    } finally {
      await own.stop();
    }
  });

  it("reports a value Consort did not write as invalid, and leaves it", async () => {
    const base = await options();
    const store = await createCoordinationMetaStore(base);
    const events: CoordinationMetaEvent[] = [];
    const watch = await store.watch((e) => events.push(e));
    const kv = await base.connection.jetstream().views.kv(store.bucket);
    await kv.put("cG9rZWQ", new TextEncoder().encode('{"epoch":1}')); // "poked"
    await kv.put("not.a.token", new TextEncoder().encode("{}"));
    expect(await store.acquire("poked")).toMatchObject({ ok: false, reason: "invalid" });
    expect(await store.clear("poked", 1)).toMatchObject({ ok: false, reason: "invalid" });
    await until(() => events.length >= 2, "two events");
    expect(events).toMatchObject([
      { kind: "invalid", key: "cG9rZWQ" },
      { kind: "invalid", key: "not.a.token" },
    ]);
    expect((await kv.get("cG9rZWQ"))?.string()).toBe('{"epoch":1}');
    await watch.stop();
  });

  it("refuses a bucket whose history or storage differs from its own", async () => {
    const base = await options();
    await createCoordinationMetaStore(base);
    const other = createCoordinationMetaStore({ ...base, storage: "file" });
    await expect(other).rejects.toBeInstanceOf(KvBucketMismatchError);
    await expect(other).rejects.toThrow(/storage/);
  });
});
