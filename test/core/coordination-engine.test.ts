import { describe, expect, it } from "vitest";
import { createContextEngine, streamContextWatch } from "../../src/core/context/context-engine.js";
import { createCoordinationEngine } from "../../src/core/coordinations/coordination-engine.js";
import { createDependencyEngine } from "../../src/core/dependencies/dependency-engine.js";
import { ConsortError } from "../../src/core/errors.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createSignalEngine } from "../../src/core/signals/signal-engine.js";
import { streamSubscription } from "../../src/core/signals/subscription-stream.js";
import { createStore } from "../../src/core/store.js";
import { errorOf } from "./thrown.js";

function setup(limits: Partial<typeof defaultLimits> = {}) {
  let t = 1_000_000;
  const store = createStore({ idleTtlMs: 1000, now: () => t });
  const all = { ...defaultLimits, ...limits };
  let subscriptions = 0;
  let pending = 0;
  let watchers = 0;
  const signals = createSignalEngine({ store, limits: all, now: () => t, hooks: { onSubscriptionsChanged: (d) => (subscriptions += d) } });
  const contexts = createContextEngine({ store, limits: all, now: () => t, hooks: { onWatchersChanged: (d) => (watchers += d) } });
  const deps = createDependencyEngine({ store, signals, limits: all, now: () => t, hooks: { onPendingChanged: (d) => (pending += d) } });
  const coordinations = createCoordinationEngine({ store, signals, contexts, dependencies: deps, limits: all });
  const gauges = () => ({ subscriptions, pending, watchers, signalSubscriptions: signals.subscriptionCount, pendingCount: deps.pendingCount, watcherCount: contexts.watcherCount });
  return { store, signals, contexts, deps, coordinations, gauges, advance: (ms: number) => (t += ms), now: () => t };
}

const publish = (s: ReturnType<typeof setup>["signals"], coordinationId: string, sender = "a") =>
  s.publish({ coordinationId, type: "inter_agent_message", senderAgentId: sender });
const distribute = (c: ReturnType<typeof setup>["contexts"], coordinationId: string, agents: string[]) =>
  c.distribute({ coordinationId, sessionId: "s", assignments: agents.map((agentId) => ({ agentId })) });
const gateWait = (dependencyId: string, gateId: string) => ({ dependencyId, timeoutMs: 60_000, target: { type: "quality_gate" as const, gateId } });

/** Rejection or resolution of `p`, whichever comes. */
const settled = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error }));

describe("coordination summaries", () => {
  it("report every engine's part of each coordination", () => {
    const { signals, contexts, deps, coordinations, advance, now } = setup();
    const created = now();
    publish(signals, "c1", "a");
    publish(signals, "c1", "b");
    advance(10);
    distribute(contexts, "c1", ["a", "b", "c"]);
    const sub = signals.subscribe({ coordinationId: "c1", agentId: "b" });
    const watch = contexts.watch({ coordinationId: "c1", agentId: "c" });
    deps.resolve({ coordinationId: "c1", agentId: "c", dependencies: [gateWait("d1", "g"), gateWait("d2", "g2")] });
    distribute(contexts, "c2", ["x"]);

    const page = coordinations.list({});
    expect(page.nextPageToken).toBe("");
    expect(page.coordinations.map((c) => c.coordinationId)).toEqual(["c1", "c2"]);
    expect(page.coordinations[0]).toMatchObject({
      createdAt: created,
      lastActivityAt: now(),
      headSequence: 2,
      signalCount: 2,
      agentsWithContext: 3,
      openWaits: 2,
      openSubscriptions: 1,
      openContextWatches: 1,
    });
    expect(page.coordinations[0]?.epoch).toMatch(/^[0-9a-f-]{36}$/);
    // A coordination without a signal log has no epoch yet.
    expect(page.coordinations[1]).toMatchObject({ epoch: "", headSequence: 0, signalCount: 0, agentsWithContext: 1, openWaits: 0 });

    const detail = coordinations.get("c1");
    expect(detail.agents.map((a) => [a.agentId, a.hasContext, a.contextVersion, a.lastSentSequence, a.openSubscriptions, a.openWaits.length])).toEqual([
      ["a", true, 1, 1, 0, 0],
      ["b", true, 1, 2, 1, 0],
      ["c", true, 1, 0, 0, 2],
    ]);
    expect(detail.agents[2]?.openWaits.map((w) => [w.dependencyId, w.status])).toEqual([
      ["d1", "in_progress"],
      ["d2", "in_progress"],
    ]);
    sub.subscription.close();
    watch.close();
  });

  it("paginate in creation order with a token that survives deletes, bounded by page size and bytes", () => {
    const { signals, coordinations } = setup({ maxPageSize: 3 });
    for (let i = 0; i < 7; i++) publish(signals, `c${i}`);
    const first = coordinations.list({ pageSize: 3 });
    expect(first.coordinations.map((c) => c.coordinationId)).toEqual(["c0", "c1", "c2"]);
    coordinations.delete("c2"); // the cursor's own coordination is gone: the next page still follows it
    coordinations.delete("c3");
    const second = coordinations.list({ pageSize: 3, pageToken: first.nextPageToken });
    expect(second.coordinations.map((c) => c.coordinationId)).toEqual(["c4", "c5", "c6"]);
    expect(second.nextPageToken).toBe("");
    const cut = coordinations.list({ pageSize: 3, budget: { maxBytes: 250, sizeOf: () => 100 } });
    expect(cut.coordinations).toHaveLength(2);
    expect(coordinations.list({ pageToken: cut.nextPageToken }).coordinations.map((c) => c.coordinationId)).toEqual(["c4", "c5", "c6"]);
    expect(errorOf(() => coordinations.list({ pageSize: 4 }))).toMatchObject({ kind: "invalid", violations: [{ field: "page_size" }] });
    expect(errorOf(() => coordinations.list({ pageToken: "nope" }))).toMatchObject({ kind: "invalid", violations: [{ field: "page_token" }] });
  });

  it("an unknown coordination is NOT_FOUND naming it; delete with allowMissing is not", () => {
    const { coordinations } = setup();
    expect(errorOf(() => coordinations.get("ghost"))).toMatchObject({ kind: "not_found", reason: "COORDINATION_NOT_FOUND", metadata: { coordination_id: "ghost" } });
    expect(errorOf(() => coordinations.delete("ghost"))).toMatchObject({ kind: "not_found", reason: "COORDINATION_NOT_FOUND" });
    expect(coordinations.delete("ghost", true)).toBeUndefined();
    expect(errorOf(() => coordinations.get(""))).toMatchObject({ kind: "invalid", violations: [{ field: "coordination_id" }] });
  });
});

describe("deleting a coordination", () => {
  it("ends its streams and waits ABORTED COORDINATION_DELETED, leaves nothing behind, and its next use is a new epoch", async () => {
    const { store, signals, contexts, deps, coordinations, gauges } = setup();
    for (let i = 0; i < 3; i++) publish(signals, "c");
    distribute(contexts, "c", ["a"]);
    deps.setResourceAvailability("c", "r", false);
    deps.setGateScore("c", "g", 0.1);
    const { subscription, epoch } = signals.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 0 });
    const events = streamSubscription(subscription, { maxBatchBytes: 1 << 20, sizeOf: () => 1 });
    expect((await events.next()).value).toMatchObject({ kind: "signals" }); // the replay of 1..3
    const watch = streamContextWatch(contexts.watch({ coordinationId: "c", agentId: "a" }));
    expect((await watch.changes.next()).value).toMatchObject({ revision: 1 });
    const call = deps.resolve({ coordinationId: "c", agentId: "a", dependencies: [gateWait("d", "g")] });
    // Another coordination is untouched.
    publish(signals, "other");
    const otherSub = signals.subscribe({ coordinationId: "other", agentId: "z" });
    expect(gauges()).toMatchObject({ subscriptions: 2, pending: 1, watchers: 1 });

    const before = coordinations.delete("c");
    expect(before).toMatchObject({ coordinationId: "c", headSequence: 3, openSubscriptions: 1, openWaits: 1, openContextWatches: 1, epoch });

    const subEnd = await settled(events.next());
    expect(subEnd).toMatchObject({ error: expect.any(ConsortError) });
    expect((subEnd as { error: ConsortError }).error).toMatchObject({
      kind: "aborted",
      reason: "COORDINATION_DELETED",
      metadata: { coordination_id: "c", epoch, last_delivered_sequence: "3" },
    });
    expect(await settled(watch.changes.next())).toMatchObject({ error: { kind: "aborted", reason: "COORDINATION_DELETED" } });
    expect(await settled(call.result)).toMatchObject({ error: { kind: "aborted", reason: "COORDINATION_DELETED" } });

    // Nothing left behind: gauges back to the other coordination's, no record, context, gate or resource.
    expect(gauges()).toEqual({ subscriptions: 1, pending: 0, watchers: 0, signalSubscriptions: 1, pendingCount: 0, watcherCount: 0 });
    expect(store.peek("c")).toBeUndefined();
    expect(signals.summary("c")).toBeUndefined();
    expect(contexts.summary("c")).toBeUndefined();
    expect(deps.openWaitCount("c")).toBe(0);
    expect(errorOf(() => coordinations.get("c"))).toMatchObject({ reason: "COORDINATION_NOT_FOUND" });
    expect(coordinations.list({}).coordinations.map((c) => c.coordinationId)).toEqual(["other"]);

    // The id starts over: a new log (new epoch) at sequence 1; gates, resources and contexts are gone.
    const again = publish(signals, "c");
    expect(again.signal.sequence).toBe(1);
    expect(again.signal.epoch).not.toBe(epoch);
    expect(errorOf(() => contexts.get("c", "a"))).toMatchObject({ reason: "CONTEXT_NOT_FOUND" });
    expect(deps.list({ coordinationId: "c" }).records).toEqual([]);
    const gateCall = deps.resolve({ coordinationId: "c", agentId: "a", dependencies: [{ ...gateWait("d", "g"), timeoutMs: 20 }] });
    expect((await gateCall.result).results[0]?.status).toBe("timeout"); // the old score 0.1 is gone; nothing satisfies it

    // A resume by sequence in the old epoch is refused, not silently continued in the new log.
    expect(errorOf(() => signals.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 0, epoch }))).toMatchObject({
      kind: "failed_precondition",
      reason: "EPOCH_CHANGED",
      metadata: { epoch: again.signal.epoch },
    });
    otherSub.subscription.close();
  });

  it("expiry takes the same path: an idle coordination's state goes from every engine", () => {
    const { store, signals, contexts, deps, coordinations, advance } = setup();
    publish(signals, "idle");
    distribute(contexts, "idle", ["a"]);
    deps.setGateScore("idle", "g", 1);
    const dropped: string[] = [];
    store.onDrop((c, reason) => dropped.push(`${c.id}:${reason}`));
    advance(2000);
    expect(store.sweep()).toBe(1);
    expect(dropped).toEqual(["idle:expired"]);
    expect(coordinations.list({}).coordinations).toEqual([]);
    expect(signals.summary("idle")).toBeUndefined();
  });

  it("a resolved call's dependency_resolved announcement does not bring a coordination deleted meanwhile back", async () => {
    const { store, deps, coordinations } = setup();
    const call = deps.resolve({ coordinationId: "c", agentId: "a", dependencies: [gateWait("d", "g")] });
    deps.setGateScore("c", "g", 1); // resolves; the announcement is deferred
    coordinations.delete("c");
    expect((await call.result).success).toBe(true);
    expect(store.peek("c")).toBeUndefined();
  });
});
