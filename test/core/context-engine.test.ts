import { describe, expect, it } from "vitest";
import { createContextEngine, streamContextWatch, type ContextChange, type ContextEngine } from "../../src/core/context/context-engine.js";
import type { ConsortError } from "../../src/core/errors.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createStore } from "../../src/core/store.js";
import { errorOf } from "./thrown.js";

const setup = (limits: Partial<typeof defaultLimits> = {}, extra: Partial<Parameters<typeof createContextEngine>[0]> = {}) =>
  createContextEngine({ store: createStore(), limits: { ...defaultLimits, ...limits }, ...extra });

const distribute = (e: ContextEngine, agents: { agentId: string; dependencies?: string[] }[], coordinationId = "c") =>
  e.distribute({ coordinationId, sessionId: "s", assignments: agents, sharedIntelligence: { naming_conventions: { model: "PascalCase" } } });


const summary = (changes: readonly ContextChange[]) => changes.map((c) => [c.revision, c.context === null ? null : c.context.version]);

describe("distribution", () => {
  it("applies defaults per agent and custom allocations where given (SPEC case 17)", () => {
    const e = setup();
    const page = e.distribute({
      coordinationId: "c",
      sessionId: "s",
      assignments: [
        { agentId: "a", allocation: { maxMemoryMb: 2048, qualityThreshold: 0.95 } },
        { agentId: "b", allocation: { timeoutMs: 60_000 }, protocols: { heartbeatIntervalMs: 500, statusChannel: "status" } },
        { agentId: "c" },
      ],
    });
    const [a, b, c] = page.contexts;
    expect(a?.allocation).toMatchObject({ maxMemoryMb: 2048, qualityThreshold: 0.95, timeoutMs: 30_000, maxRetryAttempts: 3 });
    expect(b?.allocation).toMatchObject({ timeoutMs: 60_000, maxMemoryMb: 512 });
    expect(b?.protocols).toMatchObject({ heartbeatIntervalMs: 500, updateIntervalMs: 5000, statusChannel: "status", resultChannel: "state" });
    expect(c?.allocation).toEqual({ maxExecutionTimeMs: 300_000, maxRetryAttempts: 3, maxMemoryMb: 512, qualityThreshold: 0.8, timeoutMs: 30_000, concurrencyLimit: 10 });
    expect(c?.assignment.agentRole).toBe("c");
    expect(page.contexts.map((x) => x.version)).toEqual([1, 1, 1]);
  });

  it("keeps one shared intelligence for every agent, not a copy each", () => {
    const e = setup();
    const page = distribute(e, Array.from({ length: 1000 }, (_, i) => ({ agentId: `agent-${i}` })));
    expect(new Set(page.contexts.map((c) => c.shared)).size).toBe(1);
  });

  it("rejects a missing coordination or session id with the original message, and stores nothing", () => {
    const e = setup();
    const err = errorOf(() => e.distribute({ coordinationId: "c", sessionId: "", assignments: [{ agentId: "a" }] }));
    expect(err.kind).toBe("invalid");
    expect(err.message).toContain("coordination_state must contain 'coordination_id' and 'session_id'");
    expect(errorOf(() => e.get("c", "a")).kind).toBe("not_found");
  });

  it("names a dependency cycle among the assignments, self-dependencies included, and stores nothing", () => {
    const e = setup();
    const err = errorOf(() => distribute(e, [{ agentId: "a", dependencies: ["b"] }, { agentId: "b", dependencies: ["c"] }, { agentId: "c", dependencies: ["a"] }]));
    expect(err.message).toContain("dependency cycle: a -> b -> c -> a");
    expect(err.violations[0]?.field).toBe("assignments[0].dependencies");
    expect(errorOf(() => distribute(e, [{ agentId: "x", dependencies: ["x"] }])).message).toContain("dependency cycle: x -> x");
    // Agents outside the distribution may be depended on.
    expect(distribute(e, [{ agentId: "y", dependencies: ["outside"] }]).contexts).toHaveLength(1);
  });

  it("lists every invalid field: empty assignments, duplicates, values below their minimum", () => {
    const e = setup();
    expect(errorOf(() => e.distribute({ coordinationId: "c", sessionId: "s", assignments: [] })).violations.map((v) => v.field)).toEqual(["assignments"]);
    const err = errorOf(() =>
      e.distribute({
        coordinationId: "c",
        sessionId: "s",
        assignments: [
          { agentId: "a", allocation: { timeoutMs: 99, qualityThreshold: 1.5 }, protocols: { updateIntervalMs: 10 } },
          { agentId: "a", inputData: { x: Number.NaN } },
        ],
      }),
    );
    expect(err.violations.map((v) => v.field).sort()).toEqual([
      "assignments[0].coordination_protocols.update_interval_ms",
      "assignments[0].resource_allocation.quality_threshold",
      "assignments[0].resource_allocation.timeout_ms",
      "assignments[1].agent_id",
      "assignments[1].input_data[\"x\"]",
    ]);
    expect(err.violations).toHaveLength(5);
  });

  it("refuses JSON nested deeper than the limit in every free-form field, and accepts it at the limit", () => {
    const e = setup({ maxJsonDepth: 4 });
    const nest = (levels: number) => Array.from({ length: levels - 1 }).reduce<Record<string, unknown>>((x) => ({ x }), {}) as never;
    expect(e.distribute({ coordinationId: "c", sessionId: "s", assignments: [{ agentId: "a", inputData: nest(4) }] }).contexts).toHaveLength(1);
    const err = errorOf(() =>
      e.distribute({
        coordinationId: "c",
        sessionId: "s",
        sharedIntelligence: { validation_rules: nest(5) },
        assignments: [{ agentId: "a", successCriteria: { list: [[[[1]]]] } }],
      }),
    );
    expect(err.violations.map((x) => x.field).sort()).toEqual(["assignments[0].success_criteria", "shared_intelligence.validation_rules"]);
    expect(errorOf(() => e.update({ coordinationId: "c", part: "type_registry", data: nest(5) })).violations[0]?.field).toBe("update_data");
  });

  it("refuses a context that would not fit in one message, storing nothing", () => {
    const e = setup({}, { contextSize: { oversize: (r) => (r.assignment.objective.length > 10 ? r.assignment.objective.length : undefined), maxBytes: 10 } });
    const err = errorOf(() => e.distribute({ coordinationId: "c", sessionId: "s", assignments: [{ agentId: "a", objective: "x".repeat(11) }] }));
    expect(err).toMatchObject({ kind: "exhausted", reason: "CONTEXT_TOO_LARGE", metadata: { agent_id: "a", size_bytes: "11", limit_bytes: "10" } });
    expect(errorOf(() => e.get("c", "a")).reason).toBe("CONTEXT_NOT_FOUND");
  });

  it("replaces the whole set on re-distribution; versions restart at 1 while the revision grows", () => {
    const e = setup();
    distribute(e, [{ agentId: "a" }, { agentId: "b" }]);
    e.update({ coordinationId: "c", part: "type_registry", data: { T: 1 } });
    const again = distribute(e, [{ agentId: "b" }]);
    expect(again.revision).toBe(3);
    expect(again.contexts[0]).toMatchObject({ version: 1, revision: 3 });
    expect(errorOf(() => e.get("c", "a")).kind).toBe("not_found");
  });

  it("pages in assignment order, cut by bytes; a token from an earlier distribution is refused as stale", () => {
    const e = setup();
    distribute(e, Array.from({ length: 5 }, (_, i) => ({ agentId: `a${i}` })));
    const budget = { maxBytes: 25, sizeOf: () => 10 };
    const p1 = e.list({ coordinationId: "c", pageSize: 10, budget });
    expect(p1.contexts.map((c) => c.assignment.agentId)).toEqual(["a0", "a1"]);
    const p2 = e.list({ coordinationId: "c", pageSize: 10, pageToken: p1.nextPageToken });
    expect(p2.contexts.map((c) => c.assignment.agentId)).toEqual(["a2", "a3", "a4"]);
    expect(p2.nextPageToken).toBe("");
    distribute(e, [{ agentId: "z" }]);
    expect(errorOf(() => e.list({ coordinationId: "c", pageToken: p1.nextPageToken })).message).toContain("stale");
  });
});

describe("shared-intelligence updates", () => {
  it("changes and reports only the targets; unknown agents and parts report false (SPEC case 18)", () => {
    const e = setup();
    distribute(e, [{ agentId: "a" }, { agentId: "b" }, { agentId: "c" }]);
    const r = e.update({ coordinationId: "c", part: "pattern_library", data: { crud: ["create", "read"] }, targetAgentIds: ["a", "ghost"] });
    expect(r.results).toEqual({ a: true, ghost: false });
    expect(e.get("c", "a").shared.pattern_library).toEqual({ crud: ["create", "read"] });
    expect(e.get("c", "b").shared.pattern_library).toEqual({});
    expect(e.update({ coordinationId: "c", part: "nonsense", data: { x: 1 }, targetAgentIds: ["a"] }).results).toEqual({ a: false });
    expect(e.update({ coordinationId: "unknown", part: "type_registry", data: {} }).results).toEqual({});
  });

  it('reports an agent named "__proto__" like any other', () => {
    const e = setup();
    distribute(e, [{ agentId: "__proto__" }]);
    const r = e.update({ coordinationId: "c", part: "type_registry", data: { x: 1 } });
    expect(Object.keys(r.results)).toEqual(["__proto__"]);
    expect(r.results["__proto__"]).toBe(true);
  });

  it("counts versions: 20 updates give 21; increment_version=false keeps it (SPEC case 19)", () => {
    const e = setup();
    distribute(e, [{ agentId: "a" }]);
    for (let i = 0; i < 20; i++) e.update({ coordinationId: "c", part: "type_registry", data: { [`k${i}`]: i } });
    expect(e.get("c", "a").version).toBe(21);
    e.update({ coordinationId: "c", part: "type_registry", data: { last: true }, incrementVersion: false });
    expect(e.get("c", "a")).toMatchObject({ version: 21 });
    expect(e.get("c", "a").shared.type_registry["last"]).toBe(true);
  });

  it("reports false for every target when the merged data breaks the part's shape, and changes nothing", () => {
    const e = setup();
    distribute(e, [{ agentId: "a" }]);
    const before = e.get("c", "a");
    expect(e.update({ coordinationId: "c", part: "pattern_library", data: { p: "not a list" } }).results).toEqual({ a: false });
    expect(e.update({ coordinationId: "c", part: "naming_conventions", data: { n: 3 } }).results).toEqual({ a: false });
    expect(e.get("c", "a")).toBe(before);
  });

  it("reports false for an agent whose context would no longer fit in one message, and leaves it as it was", () => {
    const e = setup({}, { contextSize: { oversize: (r) => (Object.keys(r.shared.type_registry).length > 2 ? 999 : undefined), maxBytes: 500 } });
    distribute(e, [{ agentId: "a" }]);
    expect(e.update({ coordinationId: "c", part: "type_registry", data: { x: 1, y: 2 } }).results).toEqual({ a: true });
    const before = e.get("c", "a");
    expect(e.update({ coordinationId: "c", part: "type_registry", data: { z: 3 } })).toMatchObject({ results: { a: false }, revision: before.revision });
    expect(e.get("c", "a")).toBe(before);
  });

  it("merges once per distinct copy: agents that shared one copy still share one after an update to them all", () => {
    const e = setup();
    distribute(e, [{ agentId: "a" }, { agentId: "b" }, { agentId: "c" }]);
    e.update({ coordinationId: "c", part: "type_registry", data: { only: "a" }, targetAgentIds: ["a"] });
    e.update({ coordinationId: "c", part: "validation_rules", data: { all: true } });
    const [a, b, c] = ["a", "b", "c"].map((id) => e.get("c", id).shared);
    expect(b).toBe(c);
    expect(a).not.toBe(b);
    expect(a?.type_registry).toEqual({ only: "a" });
    expect(b?.validation_rules).toEqual({ all: true });
  });
});

describe("watching", () => {
  const drainNow = (e: ContextEngine, agentId: string, afterRevision?: number) => {
    const w = e.watch({ coordinationId: "c", agentId, ...(afterRevision !== undefined && { afterRevision }) });
    const items = w.queue.drain();
    w.close();
    return items;
  };

  it("starts with 'absent' for an agent without a context, then delivers it when distributed", async () => {
    const e = setup();
    const w = e.watch({ coordinationId: "c", agentId: "a" });
    const stream = streamContextWatch(w);
    const first = await stream.changes.next();
    expect(first.value).toEqual({ revision: 0, context: null });
    distribute(e, [{ agentId: "a" }]);
    const second = await stream.changes.next();
    expect(second.value).toMatchObject({ revision: 1, context: { version: 1 } });
    // What was handed over counts as delivered: a resume point given now (lag cut, shutdown) must not repeat it.
    expect(stream.lastRevision).toBe(1);
    e.clear("c");
    expect((await stream.changes.next()).value).toEqual({ revision: 2, context: null });
    await stream.changes.return(undefined);
    expect(e.watcherCount).toBe(0);
  });

  it("resumes after a revision with every change of the agent after it, none twice, none of other agents", () => {
    const e = setup();
    distribute(e, [{ agentId: "a" }, { agentId: "b" }]); // 1
    e.update({ coordinationId: "c", part: "type_registry", data: { x: 1 }, targetAgentIds: ["b"] }); // 2: b only
    e.update({ coordinationId: "c", part: "type_registry", data: { x: 2 } }); // 3
    e.update({ coordinationId: "c", part: "type_registry", data: { x: 3 }, incrementVersion: false }); // 4: version kept
    distribute(e, [{ agentId: "b" }]); // 5: a removed
    expect(summary(drainNow(e, "a", 1))).toEqual([[3, 2], [4, 2], [5, null]]);
    expect(summary(drainNow(e, "a", 5))).toEqual([]);
    expect(summary(drainNow(e, "a"))).toEqual([[5, null]]);
  });

  it("refuses a resume point beyond the head or older than the window (OUT_OF_RANGE with the bounds)", () => {
    const e = setup({ contextChangeWindow: 2 });
    distribute(e, [{ agentId: "a" }]); // 1
    for (let i = 0; i < 3; i++) e.update({ coordinationId: "c", part: "type_registry", data: { i } }); // 2, 3, 4
    expect(errorOf(() => e.watch({ coordinationId: "c", agentId: "a", afterRevision: 9 }))).toMatchObject({ kind: "out_of_range", reason: "REVISION_AHEAD", metadata: { head_revision: "4" } });
    expect(errorOf(() => e.watch({ coordinationId: "c", agentId: "a", afterRevision: 1 }))).toMatchObject({
      reason: "REVISION_COMPACTED",
      metadata: { oldest_revision: "3", head_revision: "4" },
    });
    expect(summary(drainNow(e, "a", 2))).toEqual([[3, 3], [4, 4]]);
  });

  it("replays a resume longer than the buffer whole, and calls onOverflow when a live watcher falls behind", async () => {
    const e = setup({ subscriberBuffer: 2 });
    distribute(e, [{ agentId: "a" }]); // 1
    for (let i = 0; i < 5; i++) e.update({ coordinationId: "c", part: "type_registry", data: { i } }); // 2..6
    expect(summary(drainNow(e, "a", 1)).map(([r]) => r)).toEqual([2, 3, 4, 5, 6]);
    let overflowed = 0;
    const w = e.watch({ coordinationId: "c", agentId: "a" }, () => overflowed++);
    for (let i = 0; i < 3; i++) e.update({ coordinationId: "c", part: "type_registry", data: { i } }); // 7..9
    expect(overflowed).toBe(1);
    expect(w.queue.ended).toBe(true);
    w.close();
  });

  it("refuses a watch past the server's limit with TOO_MANY_WATCHES, creating nothing", () => {
    const e = setup({ maxSubscriptions: 1 });
    const w = e.watch({ coordinationId: "c", agentId: "a" });
    expect(errorOf(() => e.watch({ coordinationId: "other", agentId: "a" }))).toMatchObject({ kind: "exhausted", reason: "TOO_MANY_WATCHES" });
    w.close();
    e.watch({ coordinationId: "c", agentId: "a" }).close();
  });

  it("forgets the window of changes on ClearContexts: a resume from before it is REVISION_COMPACTED, a live watch is told", () => {
    const e = setup();
    distribute(e, [{ agentId: "a" }]); // 1
    const live = e.watch({ coordinationId: "c", agentId: "a" });
    live.queue.drain();
    e.clear("c"); // 2
    expect(summary(live.queue.drain())).toEqual([[2, null]]);
    live.close();
    expect(errorOf(() => e.watch({ coordinationId: "c", agentId: "a", afterRevision: 1 }))).toMatchObject({ reason: "REVISION_COMPACTED" });
    expect(summary(drainNow(e, "a", 2))).toEqual([]);
    distribute(e, [{ agentId: "a" }]); // 3
    expect(summary(drainNow(e, "a", 2))).toEqual([[3, 1]]);
  });

  it("keeps the window within its byte bound too, forgetting the oldest changes first", () => {
    const e = setup({ contextChangeWindowBytes: 250 }, { sizeOf: () => 100 });
    distribute(e, [{ agentId: "a" }]); // 1: 100 bytes
    e.update({ coordinationId: "c", part: "type_registry", data: { x: 1 } }); // 2: 200
    e.update({ coordinationId: "c", part: "type_registry", data: { x: 2 } }); // 3: 300 > 250: 1 is forgotten
    expect(errorOf(() => e.watch({ coordinationId: "c", agentId: "a", afterRevision: 0 }))).toMatchObject({ reason: "REVISION_COMPACTED", metadata: { oldest_revision: "2" } });
    expect(summary(drainNow(e, "a", 1))).toEqual([[2, 2], [3, 3]]);
  });

  it("ends a watcher that lets its buffer overflow WATCHER_LAGGING with the revision to resume after", async () => {
    const e = setup({ subscriberBuffer: 3 });
    distribute(e, [{ agentId: "a" }]);
    const stream = streamContextWatch(e.watch({ coordinationId: "c", agentId: "a" }));
    expect((await stream.changes.next()).value?.revision).toBe(1);
    for (let i = 0; i < 5; i++) e.update({ coordinationId: "c", part: "type_registry", data: { i } });
    // Unregistered at the overflow itself, before its consumer reads again (a client that never reads holds nothing).
    expect(e.watcherCount).toBe(0);
    const got: number[] = [];
    const err = await (async () => {
      for await (const c of stream.changes) got.push(c.revision);
    })().then(() => undefined, (x: unknown) => x as ConsortError);
    // Unregistered at the overflow, its queue dropped: it resumes from what it took, and the replay has the rest.
    expect(e.watcherCount).toBe(0);
    expect(got).toEqual([]);
    expect(err).toMatchObject({ reason: "WATCHER_LAGGING", metadata: { last_revision: "1" } });
    expect(summary(drainNow(e, "a", 1)).map(([r]) => r)).toEqual([2, 3, 4, 5, 6]);
  });
});
