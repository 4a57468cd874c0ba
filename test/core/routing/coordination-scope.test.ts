import { describe, expect, it } from "vitest";
import { ConsortError } from "../../../src/core/errors.js";
import { defaultLimits, type Limits } from "../../../src/core/limits.js";
import type { RouterInput } from "../../../src/core/routing/policy.js";
import { createRoutingEngine } from "../../../src/core/routing/routing-engine.js";
import { createStore, type Store } from "../../../src/core/store.js";

/** Routing results tied to a coordination: recorded with its id, listed by it, gone with it; stats stay. */

const retryOnError: RouterInput = {
  strategy: "conditional",
  rules: [{ ruleId: "err", conditionKey: "error_count", operator: ">", conditionValue: 0, decision: "retry" }],
};

function fails(fn: () => unknown): ConsortError {
  try {
    fn();
  } catch (e) {
    return e as ConsortError;
  }
  throw new Error("expected an error");
}

function setup(limits: Partial<Limits> = {}, store: Store = createStore()) {
  const e = createRoutingEngine({ store, limits: { ...defaultLimits, ...limits } });
  e.putPolicy("p", [retryOnError]);
  e.putPolicy("q", []);
  const route = (policyId: string, coordinationId: string, currentTask = "t", state: object = {}) =>
    e.route({ policyId, currentTask, coordinationId, state: state as never });
  const tasks = (policyId: string, filter: { coordinationId?: string; currentTask?: string } = {}) =>
    e.listHistory({ policyId, pageSize: 1000, ...filter }).records.map((r) => `${r.coordinationId || "-"}/${r.currentTask}`);
  return { e, store, route, tasks };
}

describe("routing results tied to a coordination", () => {
  it("carry the coordination id; the coordination is created, or marked active, as by any call that uses it", () => {
    let t = 1000;
    const store = createStore({ now: () => t });
    const { route, e } = setup({}, store);
    const r = route("p", "c1", "t", { error_count: 1 });
    expect([r.coordinationId, r.decision]).toEqual(["c1", "retry"]);
    expect(store.peek("c1")).toMatchObject({ createdAt: 1000, lastActivity: 1000 });
    t = 5000;
    route("q", "c1");
    expect(store.peek("c1")?.lastActivity).toBe(5000);
    expect(route("p", "").coordinationId).toBe("");
    expect(e.route({ policyId: "p", currentTask: "t" }).coordinationId).toBe("");
    expect(store.size).toBe(1);
  });

  it("refuse a coordination id over 100 characters naming the field, and record nothing", () => {
    const { route, tasks, store } = setup();
    const err = fails(() => route("p", "c".repeat(101)));
    expect(err.kind).toBe("invalid");
    expect(err.violations.map((v) => v.field)).toEqual(["coordination_id"]);
    expect(err.message).toMatch(/^coordination_id: must be at most 100 characters, got 101/);
    expect(fails(() => route("p", "c".repeat(101), "")).violations.map((v) => v.field)).toEqual(["current_task", "coordination_id"]);
    expect(route("p", "c".repeat(100)).coordinationId).toHaveLength(100);
    expect(tasks("p")).toHaveLength(1);
    expect(store.size).toBe(1);
  });

  it("create no coordination when the Route is refused: an unknown policy, or the coordination limit", () => {
    const { route, tasks, store, e } = setup({}, createStore({ maxCoordinations: 1 }));
    expect(fails(() => route("nope", "c0")).kind).toBe("not_found");
    expect(store.size).toBe(0);
    route("p", "c1");
    const err = fails(() => route("p", "c2"));
    expect(err).toMatchObject({ kind: "exhausted", reason: "TOO_MANY_COORDINATIONS" });
    expect(tasks("p")).toEqual(["c1/t"]);
    expect(e.stats("p").totalRoutings).toBe(1);
    route("p", "c1"); // an existing coordination is still served
  });

  it("list by coordination, combined with the task filter; a page token is bound to both filters", () => {
    const { route, tasks, e } = setup();
    route("p", "c1", "a");
    route("p", "c2", "a");
    route("p", "", "a");
    route("p", "c1", "b");
    route("p", "c1", "a");
    expect(tasks("p", { coordinationId: "c1" })).toEqual(["c1/a", "c1/b", "c1/a"]);
    expect(tasks("p", { coordinationId: "c1", currentTask: "a" })).toEqual(["c1/a", "c1/a"]);
    expect(tasks("p", { currentTask: "a" })).toEqual(["c1/a", "-/a", "c2/a", "c1/a"]);
    expect(tasks("p", { coordinationId: "nobody" })).toEqual([]);

    const first = e.listHistory({ policyId: "p", coordinationId: "c1", pageSize: 2 });
    expect(first.records.map((r) => r.currentTask)).toEqual(["a", "b"]);
    const next = e.listHistory({ policyId: "p", coordinationId: "c1", pageSize: 2, pageToken: first.nextPageToken });
    expect([next.records.map((r) => r.currentTask), next.nextPageToken]).toEqual([["a"], ""]);
    for (const other of [{}, { coordinationId: "c2" }, { coordinationId: "c1", currentTask: "a" }]) {
      const err = fails(() => e.listHistory({ policyId: "p", pageSize: 2, pageToken: first.nextPageToken, ...other }));
      expect(err.violations.map((v) => v.field)).toEqual(["page_token"]);
    }
    // A token of the unfiltered list is the same as before coordinations existed: bound to policy and task only.
    const unfiltered = e.listHistory({ policyId: "p", pageSize: 1 });
    expect(e.listHistory({ policyId: "p", pageSize: 1, coordinationId: "", pageToken: unfiltered.nextPageToken }).records).toHaveLength(1);
    expect(fails(() => e.listHistory({ policyId: "p", coordinationId: "x".repeat(101) })).violations.map((v) => v.field)).toEqual(["coordination_id"]);
  });

  it.each(["deleted", "expired"] as const)("leave every history when their coordination is %s; other results and the stats stay", (reason) => {
    let t = 0;
    const store = createStore({ idleTtlMs: 1000, now: () => t });
    const { route, tasks, e } = setup({}, store);
    route("p", "c1", "a", { error_count: 1 });
    route("p", "c2", "b");
    route("q", "c1", "c");
    route("p", "", "d");
    route("q", "c2", "e");
    const before = { p: e.stats("p"), q: e.stats("q") };
    t = 500;
    store.acquire("c2"); // c2 stays active; c1 goes idle
    t = 1200;
    if (reason === "deleted") expect(store.delete("c1", "deleted")).toBe(true);
    else expect(store.sweep()).toBe(1);
    expect(store.peek("c1")).toBeUndefined();
    expect(tasks("p")).toEqual(["-/d", "c2/b"]);
    expect(tasks("q")).toEqual(["c2/e"]);
    expect(tasks("p", { coordinationId: "c1" })).toEqual([]);
    expect(e.stats("p")).toEqual(before.p);
    expect(e.stats("q")).toEqual(before.q);
    expect(e.stats("p")).toMatchObject({ totalRoutings: 3, decisions: { retry: 1, continue: 2 } });

    // The id's next use is a new coordination: only what is routed from now on is tied to it.
    route("p", "c1", "f");
    expect(tasks("p", { coordinationId: "c1" })).toEqual(["c1/f"]);
    expect(e.clearHistory("p")).toBe(3);
    store.delete("c1");
    expect(tasks("p")).toEqual([]);
  });

  it("the count bound keeps the newest results left after a coordination's went", () => {
    const store = createStore();
    const { route, tasks } = setup({ maxRoutingHistory: 4 }, store);
    for (const [c, task] of [["c1", "1"], ["", "2"], ["c1", "3"], ["", "4"]] as const) route("p", c, task);
    store.delete("c1");
    expect(tasks("p")).toEqual(["-/4", "-/2"]);
    for (const task of ["5", "6", "7"]) route("p", "", task);
    expect(tasks("p")).toEqual(["-/7", "-/6", "-/5", "-/4"]);
  });

  it("give their bytes back when their coordination goes: the other histories keep what the byte bound allows", () => {
    const capacity = (dropFirst: boolean) => {
      const store = createStore();
      const { route, tasks } = setup({ maxRoutingHistoryBytes: 4000 }, store);
      if (dropFirst) {
        for (let i = 0; i < 6; i++) route("p", "c1");
        store.delete("c1");
      }
      for (let i = 0; i < 40; i++) route("q", "");
      return tasks("q").length;
    };
    expect(capacity(true)).toBe(capacity(false));
    expect(capacity(false)).toBeGreaterThan(0);
  });

  it("stay within the store's record of the coordination: results evicted from their history are forgotten there", () => {
    const store = createStore();
    const { route } = setup({ maxRoutingHistory: 3 }, store);
    for (let i = 0; i < 10_000; i++) route("p", "busy");
    const slot = store.peek("busy")?.slots["routing"] as { entries: unknown[]; live: number };
    expect(slot.live).toBe(3);
    expect(slot.entries.length).toBeLessThanOrEqual(2 * 3 + 17);
  });
});

describe("routing stats are running totals", () => {
  it("count every result since the history began or was cleared, beyond what the history bound keeps", () => {
    const { route, tasks, e } = setup({ maxRoutingHistory: 3 });
    for (let i = 0; i < 5; i++) route("p", "", `t${i}`, { error_count: i % 2 });
    expect(tasks("p")).toHaveLength(3);
    const s = e.stats("p");
    expect([s.totalRoutings, s.decisions, s.strategies]).toEqual([5, { retry: 2, continue: 3 }, { conditional: 5 }]);
    expect(s.minRoutingTimeMs).toBeGreaterThan(0);
    expect(s.minRoutingTimeMs).toBeLessThanOrEqual(s.avgRoutingTimeMs);
    expect(s.avgRoutingTimeMs).toBeLessThanOrEqual(s.maxRoutingTimeMs);
    expect(e.clearHistory("p")).toBe(3);
    expect(e.stats("p")).toEqual({ totalRoutings: 0, avgRoutingTimeMs: 0, minRoutingTimeMs: 0, maxRoutingTimeMs: 0, decisions: {}, strategies: {} });
    route("p", "", "again");
    expect(e.stats("p").totalRoutings).toBe(1);
  });

  it("go with a deleted policy; results dropped by the byte bound still count", () => {
    const { route, tasks, e } = setup({ maxRoutingHistoryBytes: 3000 });
    for (let i = 0; i < 30; i++) route("p", "");
    expect(tasks("p").length).toBeLessThan(30);
    expect(e.stats("p").totalRoutings).toBe(30);
    e.deletePolicy("p");
    e.putPolicy("p", []);
    expect(e.stats("p").totalRoutings).toBe(0);
  });
});
