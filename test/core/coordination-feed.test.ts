import { afterEach, describe, expect, it, vi } from "vitest";
import { createContextEngine } from "../../src/core/context/context-engine.js";
import { createCoordinationEngine } from "../../src/core/coordinations/coordination-engine.js";
import { createCoordinationFeed, type CoordinationFeedOptions } from "../../src/core/coordinations/coordination-feed.js";
import type { CoordinationChange, CoordinationWatch, CoordinationWatchBatch } from "../../src/core/coordinations/coordination-watch.js";
import { createDependencyEngine } from "../../src/core/dependencies/dependency-engine.js";
import { createSignalEngine } from "../../src/core/signals/signal-engine.js";
import { createStore } from "../../src/core/store.js";
import { errorOf } from "./thrown.js";

/**
 * The coordination feed behind WatchCoordinations. Ticks are driven by hand (`feed.tick()`, the timer's interval is
 * a minute): every batch a test takes is decided by what it did, never by time.
 */

const feeds: { close(): void }[] = [];
afterEach(() => {
  for (const f of feeds.splice(0)) f.close();
  vi.useRealTimers();
});

function setup(options: Partial<CoordinationFeedOptions> = {}) {
  let t = 1_000_000;
  const store = createStore({ idleTtlMs: 1000, now: () => t });
  const signals = createSignalEngine({ store, now: () => t });
  const contexts = createContextEngine({ store, now: () => t });
  const deps = createDependencyEngine({ store, signals, now: () => t });
  const coordinations = createCoordinationEngine({ store, signals, contexts, dependencies: deps });
  let watchers = 0;
  const feed = createCoordinationFeed({ store, summarize: coordinations.summarize, intervalMs: 60_000, hooks: { onWatchersChanged: (d) => (watchers += d) }, ...options });
  feeds.push(feed);
  const publish = (coordinationId: string, n = 1) => {
    for (let i = 0; i < n; i++) signals.publish({ coordinationId, type: "inter_agent_message", senderAgentId: "a" });
  };
  return { store, signals, contexts, deps, coordinations, feed, publish, watchers: () => watchers, advance: (ms: number) => (t += ms) };
}

/** The watch's next batch (fails the test when the stream ended). */
async function next(w: CoordinationWatch): Promise<CoordinationWatchBatch> {
  const r = await w.batches.next();
  if (r.done === true) throw new Error("the watch ended");
  return r.value;
}

/** A change in short: `+id@rev` (updated), `-id@rev:reason` (removed). */
const short = (c: CoordinationChange) => (c.kind === "updated" ? `+${c.coordination.coordinationId}@${c.revision}` : `-${c.coordinationId}@${c.revision}:${c.reason}`);
const shorts = (b: CoordinationWatchBatch) => b.changes.map(short);
const updated = (c: CoordinationChange | undefined) => (c?.kind === "updated" ? c.coordination : undefined);

describe("a new watch", () => {
  it("starts with every coordination in one snapshot, oldest change first, then caught up", async () => {
    const { feed, publish } = setup();
    publish("c1", 2);
    publish("c2");
    feed.tick();
    publish("c1"); // c1 changes last
    feed.tick();
    const w = feed.watch({});
    const b = await next(w);
    expect(b).toMatchObject({ watchEpoch: feed.watchEpoch, headRevision: 3, reset: false, caughtUp: true });
    expect(shorts(b)).toEqual(["+c2@2", "+c1@3"]);
    expect(updated(b.changes[1])).toMatchObject({ coordinationId: "c1", headSequence: 3, signalCount: 3 });
    expect(feed.watchEpoch).toMatch(/^[0-9a-f-]{36}$/);
    w.close();
  });

  it("created over a store already in use, lists its coordinations after the first tick", async () => {
    const store = createStore();
    const signals = createSignalEngine({ store });
    const coordinations = createCoordinationEngine({ store, signals, contexts: createContextEngine({ store }), dependencies: createDependencyEngine({ store, signals }) });
    signals.publish({ coordinationId: "early-1", type: "agent_initialized" });
    signals.publish({ coordinationId: "early-2", type: "agent_initialized" });
    const feed = createCoordinationFeed({ store, summarize: coordinations.summarize, intervalMs: 60_000 });
    feeds.push(feed);
    feed.tick();
    const b = await next(feed.watch({}));
    expect(b.changes.map((c) => (c.kind === "updated" ? c.coordination.coordinationId : c.coordinationId)).sort()).toEqual(["early-1", "early-2"]);
    expect(b.caughtUp).toBe(true);
  });

  it("of an empty server gets one empty response, caught up", async () => {
    const { feed } = setup();
    const b = await next(feed.watch({}));
    expect(b).toMatchObject({ headRevision: 0, reset: false, caughtUp: true, changes: [] });
  });

  it("splits its snapshot by bytes and by count; every response's head is a point to resume from", async () => {
    const { feed, publish } = setup();
    for (let i = 0; i < 5; i++) publish(`c${i}`);
    feed.tick();
    const w = feed.watch({}, { budget: { maxBytes: 250, sizeOf: () => 100 } });
    const got = [await next(w), await next(w), await next(w)];
    expect(got.map((b) => [shorts(b), b.headRevision, b.caughtUp])).toEqual([
      [["+c0@1", "+c1@2"], 2, false],
      [["+c2@3", "+c3@4"], 4, false],
      [["+c4@5"], 5, true],
    ]);
    const counted = feed.watch({}, { maxChanges: 3 });
    expect((await next(counted)).changes).toHaveLength(3);
    expect(await next(counted)).toMatchObject({ caughtUp: true, changes: [{ revision: 4 }, { revision: 5 }] });
  });
});

describe("live changes", () => {
  it("coalesce: 100 publishes within one interval are one change, with the figures at its end", async () => {
    const { feed, publish } = setup();
    const w = feed.watch({});
    await next(w);
    publish("c", 100);
    feed.tick();
    const b = await next(w);
    expect(shorts(b)).toEqual(["+c@1"]);
    expect(updated(b.changes[0])).toMatchObject({ headSequence: 100, signalCount: 100 });
    expect(b).toMatchObject({ headRevision: 1, caughtUp: false, reset: false });
    expect(feed.headRevision).toBe(1);
  });

  it("come in order: created, changed, removed (deleted or expired)", async () => {
    const { feed, publish, coordinations, store, advance } = setup();
    const w = feed.watch({});
    await next(w);
    publish("a");
    feed.tick();
    expect(shorts(await next(w))).toEqual(["+a@1"]);
    publish("a");
    publish("b");
    feed.tick();
    const b = await next(w);
    expect(shorts(b)).toEqual(["+a@2", "+b@3"]);
    expect(updated(b.changes[0])?.headSequence).toBe(2);
    coordinations.delete("a");
    feed.tick();
    expect(shorts(await next(w))).toEqual(["-a@4:deleted"]);
    advance(5000);
    expect(store.sweep()).toBe(1);
    feed.tick();
    expect(shorts(await next(w))).toEqual(["-b@5:expired"]);
  });

  it("within one interval: created then deleted is nothing; deleted then created again is the new one", async () => {
    const { feed, publish, coordinations, store } = setup();
    publish("old");
    feed.tick();
    const w = feed.watch({});
    await next(w);
    publish("brief");
    coordinations.delete("brief");
    coordinations.delete("old");
    publish("old");
    feed.tick();
    const b = await next(w);
    // The removal first, then the coordination of the same id that exists now.
    expect(shorts(b)).toEqual(["+old@3"]);
    expect(updated(b.changes[0])).toMatchObject({ coordinationId: "old", headSequence: 1, createdAt: store.peek("old")?.createdAt });
    expect(feed.headRevision).toBe(3); // the removal of "old" took revision 2
  });

  it("hear of every change to a coordination's figures, not only those through a call that uses it", async () => {
    const { feed, publish, signals, contexts, deps } = setup();
    publish("c");
    contexts.distribute({ coordinationId: "c", sessionId: "s", assignments: [{ agentId: "a" }] });
    const sub = signals.subscribe({ coordinationId: "c", agentId: "a" });
    const cw = contexts.watch({ coordinationId: "c", agentId: "a" });
    const call = deps.resolve({ coordinationId: "c", agentId: "a", dependencies: [{ dependencyId: "d", timeoutMs: 60_000, target: { type: "quality_gate", gateId: "g" } }] });
    feed.tick();
    const w = feed.watch({});
    expect(updated((await next(w)).changes[0])).toMatchObject({ openSubscriptions: 1, openContextWatches: 1, openWaits: 1, agentsWithContext: 1 });
    const figures = async () => {
      feed.tick();
      expect(w.pendingCount).toBe(1); // rather than wait for a batch that never comes
      return updated((await next(w)).changes[0]);
    };
    sub.subscription.close();
    expect(await figures()).toMatchObject({ openSubscriptions: 0 });
    cw.close();
    expect(await figures()).toMatchObject({ openContextWatches: 0 });
    call.abandon("cancelled");
    expect(await figures()).toMatchObject({ openWaits: 0 });
    contexts.clear("c");
    expect(await figures()).toMatchObject({ agentsWithContext: 0 });
    signals.clear("c");
    expect(await figures()).toMatchObject({ signalCount: 0, headSequence: 1 });
  });

  it("a watcher that does not read holds one pending entry per changed coordination, then reads them in one batch", async () => {
    const { feed, publish } = setup();
    const w = feed.watch({});
    await next(w);
    for (let interval = 0; interval < 50; interval++) {
      for (let c = 0; c < 10; c++) publish(`c${c}`, 3);
      feed.tick();
    }
    expect(feed.headRevision).toBe(500);
    expect(w.pendingCount).toBe(10);
    const b = await next(w);
    expect(b.changes.map((c) => c.revision)).toEqual([491, 492, 493, 494, 495, 496, 497, 498, 499, 500]);
    expect(updated(b.changes[0])).toMatchObject({ coordinationId: "c0", headSequence: 150 });
    expect(w.pendingCount).toBe(0);
  });

  it("a change listed in a snapshot that changes again before it is sent is sent once, later, with its new revision", async () => {
    const { feed, publish } = setup();
    for (const id of ["a", "b", "c"]) publish(id);
    feed.tick();
    const w = feed.watch({}, { maxChanges: 1 });
    expect(shorts(await next(w))).toEqual(["+a@1"]);
    publish("c");
    feed.tick();
    const rest = await next(w);
    expect([shorts(rest), rest.caughtUp, rest.headRevision]).toEqual([["+b@2"], true, 3]);
    expect(shorts(await next(w))).toEqual(["+c@4"]);
  });

  it("are given revisions by the timer every interval; a closed feed has no timer and listens no more", async () => {
    vi.useFakeTimers();
    const { feed, publish } = setup({ intervalMs: 250 });
    publish("c");
    expect(feed.headRevision).toBe(0);
    vi.advanceTimersByTime(250);
    expect(feed.headRevision).toBe(1);
    vi.advanceTimersByTime(1000); // nothing changed: no revision
    expect(feed.headRevision).toBe(1);
    feed.close();
    publish("c");
    vi.advanceTimersByTime(1000);
    expect(feed.headRevision).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    feed.tick(); // it no longer listens: nothing was marked
    expect(feed.headRevision).toBe(1);
  });
});

describe("resuming", () => {
  it("sends only what changed after the revision: changes with their figures now, removals, then caught up", async () => {
    const { feed, publish, coordinations } = setup();
    for (const id of ["same", "changed", "gone"]) publish(id);
    feed.tick();
    const first = await next(feed.watch({}));
    expect(first.headRevision).toBe(3);
    publish("changed", 4);
    coordinations.delete("gone");
    publish("new");
    feed.tick();
    publish("changed"); // not yet given a revision: sent with its figures now all the same
    const w = feed.watch({ watchEpoch: first.watchEpoch, afterRevision: first.headRevision });
    const b = await next(w);
    expect(shorts(b)).toEqual(["-gone@4:deleted", "+changed@5", "+new@6"]);
    expect(updated(b.changes[1])?.headSequence).toBe(6);
    expect(b).toMatchObject({ headRevision: 6, reset: false, caughtUp: true });
    // Nothing since: an empty catch-up.
    expect(await next(feed.watch({ watchEpoch: feed.watchEpoch, afterRevision: 6 }))).toMatchObject({ caughtUp: true, reset: false, changes: [] });
  });

  it("in another epoch (a restarted server) starts over with a snapshot marked reset", async () => {
    const { feed, publish } = setup();
    publish("c");
    feed.tick();
    const b = await next(feed.watch({ watchEpoch: "0e0e0e0e-0000-4000-8000-000000000000", afterRevision: 7 }));
    expect(b).toMatchObject({ reset: true, caughtUp: true, headRevision: 1 });
    expect(shorts(b)).toEqual(["+c@1"]);
    // No epoch, or revision 0: a plain new watch.
    expect(await next(feed.watch({ afterRevision: 7 }))).toMatchObject({ reset: false, caughtUp: true });
    expect(await next(feed.watch({ watchEpoch: feed.watchEpoch, afterRevision: 0 }))).toMatchObject({ reset: false, caughtUp: true });
  });

  it("from before removals it no longer remembers starts over with a snapshot marked reset", async () => {
    const { feed, publish, coordinations } = setup({ maxTombstones: 3 });
    for (let i = 0; i < 5; i++) publish(`c${i}`);
    feed.tick();
    const from = feed.headRevision; // 5
    for (let i = 0; i < 4; i++) coordinations.delete(`c${i}`);
    feed.tick();
    // Removals at 6..9; the newest 3 are kept, so 6 is forgotten.
    expect(feed.forgottenThrough).toBe(6);
    const b = await next(feed.watch({ watchEpoch: feed.watchEpoch, afterRevision: from }));
    expect(b).toMatchObject({ reset: true, caughtUp: true, headRevision: 9 });
    expect(shorts(b)).toEqual(["+c4@5"]);
    const ok = await next(feed.watch({ watchEpoch: feed.watchEpoch, afterRevision: 6 }));
    expect([ok.reset, shorts(ok)]).toEqual([false, ["-c1@7:deleted", "-c2@8:deleted", "-c3@9:deleted"]]);
  });

  it("a live watcher that falls behind the removals kept starts over with a snapshot marked reset", async () => {
    const { feed, publish, coordinations } = setup({ maxTombstones: 2 });
    for (let i = 0; i < 4; i++) publish(`c${i}`);
    feed.tick();
    const w = feed.watch({});
    await next(w);
    for (let i = 0; i < 3; i++) coordinations.delete(`c${i}`);
    feed.tick();
    const b = await next(w);
    expect(b).toMatchObject({ reset: true, caughtUp: true, headRevision: 7 });
    expect(shorts(b)).toEqual(["+c3@4"]);
  });

  it("beyond the newest revision is OUT_OF_RANGE naming it; bad input is INVALID_ARGUMENT", () => {
    const { feed, publish } = setup();
    publish("c");
    feed.tick();
    expect(errorOf(() => feed.watch({ watchEpoch: feed.watchEpoch, afterRevision: 2 }))).toMatchObject({
      kind: "out_of_range",
      reason: "REVISION_AHEAD",
      metadata: { head_revision: "1" },
    });
    expect(errorOf(() => feed.watch({ watchEpoch: "x".repeat(101) }))).toMatchObject({ kind: "invalid", violations: [{ field: "watch_epoch" }] });
    expect(feed.watcherCount).toBe(0);
  });
});

describe("a watch's end", () => {
  it("unregisters it: on the signal's abort while it waits, on close before it was read, and beyond the limit none is made", async () => {
    const { feed, publish, watchers } = setup({ maxWatchers: 2 });
    const ac = new AbortController();
    const w = feed.watch({}, { signal: ac.signal });
    await next(w);
    const waiting = w.batches.next();
    const unread = feed.watch({});
    expect([feed.watcherCount, watchers()]).toEqual([2, 2]);
    expect(errorOf(() => feed.watch({}))).toMatchObject({ kind: "exhausted", reason: "TOO_MANY_WATCHES" });
    ac.abort();
    expect(await waiting).toEqual({ done: true, value: undefined });
    unread.close();
    expect([feed.watcherCount, watchers()]).toEqual([0, 0]);
    // Changes after it reach no one.
    publish("c");
    feed.tick();
    expect(w.pendingCount).toBe(0);
  });
});
