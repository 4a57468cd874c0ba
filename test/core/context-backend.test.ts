import { describe, expect, it } from "vitest";
import { createContextEngine, type ContextChange } from "../../src/core/context/context-engine.js";
import { createStore } from "../../src/core/store.js";
import { createFakeContextLog, type FakeContextReplica } from "./fake-context-log.js";
import { errorOf } from "./thrown.js";

/** The context engine's backend seam (`context-backend.ts`): in memory, and over a shared log standing in for JetStream. */


const replicas = (count: number, clock = () => 1_000, lagMs: readonly number[] = []) => {
  const log = createFakeContextLog();
  const made = Array.from({ length: count }, (_, i) => {
    const backend = log.replica(lagMs[i] ?? 0);
    const store = createStore();
    return { backend, store, engine: createContextEngine({ store, backend, now: clock }) };
  });
  return { log, made };
};

const assignments = (...ids: string[]) => ids.map((agentId) => ({ agentId }));

describe("in memory", () => {
  it("stays synchronous: a change returns its result, not a promise", () => {
    const e = createContextEngine({ store: createStore() });
    const page = e.distribute({ coordinationId: "c", sessionId: "s", assignments: assignments("a") });
    expect(page).not.toBeInstanceOf(Promise);
    expect(page.revision).toBe(1);
    expect(e.update({ coordinationId: "c", part: "naming_conventions", data: { x: "y" } })).toEqual({ results: expect.objectContaining({ a: true }), revision: 2 });
    expect(e.clear("c")).toBe(true);
    expect(e.clear("c")).toBe(false);
  });
});

describe("a shared backend", () => {
  it("applies a distribution made on one replica on every replica, with the same revision, records and timestamps", async () => {
    let t = 5_000;
    const { log, made } = replicas(3, () => t++);
    const [a, b, c] = made;
    if (a === undefined || b === undefined || c === undefined) throw new Error("three replicas");
    for (const r of made) r.backend.views.open("x");
    const pending = a.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: assignments("p", "q") });
    expect(pending).toBeInstanceOf(Promise);
    const page = await pending;
    // Read-your-writes: applied on the writer's replica when it resolves.
    expect(a.engine.get("x", "p")).toBe(page.contexts[0]);
    await log.settled();
    for (const r of [b, c]) {
      expect(r.engine.list({ coordinationId: "x" }).revision).toBe(1);
      expect(r.engine.get("x", "q")).toEqual(a.engine.get("x", "q"));
    }
    // The writer's clock, carried in the change, not each replica's.
    expect(c.engine.get("x", "p").createdAt).toBe(page.contexts[0]?.createdAt);
  });

  it("lands concurrent updates on two replicas as revisions N+1 and N+2, both changes kept, planned again after losing", async () => {
    const { log, made } = replicas(2);
    const [a, b] = made as [NonNullable<(typeof made)[0]>, NonNullable<(typeof made)[0]>];
    for (const r of made) r.backend.views.open("x");
    await a.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: assignments("p") });
    await log.settled();
    const [ua, ub] = await Promise.all([
      a.engine.update({ coordinationId: "x", part: "naming_conventions", data: { fromA: "1" } }),
      b.engine.update({ coordinationId: "x", part: "pattern_library", data: { fromB: ["2"] } }),
    ]);
    expect([ua.revision, ub.revision].sort()).toEqual([2, 3]);
    expect(log.conflicts).toBeGreaterThan(0);
    await log.settled();
    for (const r of made) {
      const p = r.engine.get("x", "p");
      expect(p.version).toBe(3);
      expect(p.shared.naming_conventions).toEqual({ fromA: "1" });
      expect(p.shared.pattern_library).toEqual({ fromB: ["2"] });
    }
    expect(log.changes.get("x")?.map((ch) => ch.revision)).toEqual([1, 2, 3]);
  });

  it("tells a watch on one replica of an update made on another", async () => {
    const { log, made } = replicas(2);
    const [a, b] = made as [NonNullable<(typeof made)[0]>, NonNullable<(typeof made)[0]>];
    for (const r of made) r.backend.views.open("x");
    await b.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: assignments("p") });
    await log.settled();
    const w = a.engine.watch({ coordinationId: "x", agentId: "p" });
    await b.engine.update({ coordinationId: "x", part: "type_registry", data: { T: 1 } });
    await log.settled();
    const seen: ContextChange[] = w.queue.drain();
    expect(seen.map((ch) => [ch.revision, ch.context?.version])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    w.close();
  });

  it("lets a watch resuming after a revision made on another replica wait until it is applied here", async () => {
    const { log, made } = replicas(2, undefined, [0, 30]);
    const [a, b] = made as [NonNullable<(typeof made)[0]>, NonNullable<(typeof made)[0]>];
    for (const r of made) r.backend.views.open("x");
    const page = await a.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: assignments("p") });
    // B has not applied revision 1 yet: a watch after it would be told REVISION_AHEAD.
    expect(b.engine.list({ coordinationId: "x" }).revision).toBe(0);
    expect(errorOf(() => b.engine.watch({ coordinationId: "x", agentId: "p", afterRevision: page.revision })).reason).toBe("REVISION_AHEAD");
    const waiting = b.engine.catchUp("x", page.revision);
    expect(waiting).toBeInstanceOf(Promise);
    await waiting;
    expect(b.engine.list({ coordinationId: "x" }).revision).toBe(1);
    b.engine.watch({ coordinationId: "x", agentId: "p", afterRevision: page.revision }).close();
    // Nothing to wait for: already applied, or beyond the shared head (REVISION_AHEAD is then right).
    expect(b.engine.catchUp("x", 1)).toBeUndefined();
    expect(b.engine.catchUp("x", 9)).toBeUndefined();
    expect(createContextEngine({ store: createStore() }).catchUp("x", 3)).toBeUndefined();
    await log.settled();
  });

  it("answers a change that changes nothing without the log, and refuses invalid input synchronously", async () => {
    const { log, made } = replicas(1);
    const a = made[0] as NonNullable<(typeof made)[0]>;
    expect(await a.engine.clear("nothing")).toBe(false);
    expect(await a.engine.update({ coordinationId: "nothing", part: "type_registry", data: {} })).toEqual({ results: {}, revision: 0 });
    expect(errorOf(() => a.engine.distribute({ coordinationId: "x", sessionId: "", assignments: [] })).kind).toBe("invalid");
    expect(log.changes.size).toBe(0);
  });

  it("clears on every replica, and a replica loaded later from a snapshot reaches the same state", async () => {
    const { log, made } = replicas(3);
    const [a, b, c] = made as [NonNullable<(typeof made)[0]>, NonNullable<(typeof made)[0]>, NonNullable<(typeof made)[0]>];
    for (const r of [a, b]) r.backend.views.open("x");
    await a.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: assignments("p", "q") });
    await a.engine.update({ coordinationId: "x", part: "type_registry", data: { T: 1 }, targetAgentIds: ["q"] });
    await log.settled();
    (c.backend as FakeContextReplica).loadFrom(a.backend, "x");
    expect(c.engine.list({ coordinationId: "x" })).toEqual(a.engine.list({ coordinationId: "x" }));
    // Its window starts at the snapshot: a watch from before it is told so.
    expect(errorOf(() => c.engine.watch({ coordinationId: "x", agentId: "p", afterRevision: 1 })).reason).toBe("REVISION_COMPACTED");
    expect(await b.engine.clear("x")).toBe(true);
    await log.settled();
    for (const r of made) expect(r.engine.list({ coordinationId: "x" })).toMatchObject({ contexts: [], revision: 3 });
  });

  it("tells the backend of a drop after the watches ended", () => {
    const { made } = replicas(1);
    const a = made[0] as NonNullable<(typeof made)[0]>;
    a.backend.views.open("x");
    const w = a.engine.watch({ coordinationId: "x", agentId: "p" });
    a.store.delete("x", "deleted");
    expect(w.queue.ended).toBe(true);
    expect(a.backend.drops).toEqual([["x", "deleted"]]);
  });

  it("applies a distribution after a gap (older changes no longer retained) but not an update", () => {
    const { made } = replicas(1);
    const v = (made[0] as NonNullable<(typeof made)[0]>).backend.views;
    v.open("x");
    expect(() => v.apply("x", { kind: "update", revision: 3, at: 1, records: [] })).toThrow(RangeError);
    v.apply("x", { kind: "clear", revision: 4, at: 1 });
    expect(v.revision("x")).toBe(4);
    expect(() => v.apply("x", { kind: "clear", revision: 4, at: 1 })).toThrow(RangeError);
  });
});
