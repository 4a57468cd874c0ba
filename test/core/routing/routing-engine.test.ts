import { describe, expect, it } from "vitest";
import { ConsortError } from "../../../src/core/errors.js";
import { defaultLimits } from "../../../src/core/limits.js";
import type { RouterInput } from "../../../src/core/routing/policy.js";
import { createRoutingEngine } from "../../../src/core/routing/routing-engine.js";

const errRule = { ruleId: "err", name: "Retry on Error", conditionKey: "error_count", operator: ">", conditionValue: 0, decision: "retry", priority: 90 };
const retryOnError: RouterInput = { strategy: "conditional", rules: [errRule] };

function fails(fn: () => unknown): ConsortError {
  try {
    fn();
  } catch (e) {
    return e as ConsortError;
  }
  throw new Error("expected an error");
}

describe("routing engine", () => {
  it("stores, replaces, lists and deletes policies", () => {
    const e = createRoutingEngine();
    expect(e.putPolicy("p1", [retryOnError]).created).toBe(true);
    const again = e.putPolicy("p1", [retryOnError, { strategy: "priority" }]);
    expect(again.created).toBe(false);
    expect(again.policy.routers.map((r) => r.strategy)).toEqual(["conditional", "priority"]);
    e.putPolicy("p0", []);
    expect(e.listPolicies({}).policies.map((p) => p.policyId)).toEqual(["p0", "p1"]);
    const page = e.listPolicies({ pageSize: 1 });
    expect(page.policies.map((p) => p.policyId)).toEqual(["p0"]);
    expect(e.listPolicies({ pageSize: 1, pageToken: page.nextPageToken }).policies.map((p) => p.policyId)).toEqual(["p1"]);
    e.route({ policyId: "p1", currentTask: "t", state: { error_count: 1 } });
    expect(e.deletePolicy("p1")).toBe(1);
    expect(fails(() => e.getPolicy("p1")).kind).toBe("not_found");
    expect(fails(() => e.route({ policyId: "p1", currentTask: "t" })).kind).toBe("not_found");
  });

  it("rejects invalid policies naming the field", () => {
    const e = createRoutingEngine();
    const cases: [RouterInput[], RegExp][] = [
      [[retryOnError, retryOnError], /^policy\.routers\[1\]: a policy holds at most one conditional router/],
      [[{ strategy: "conditional", rules: [errRule, errRule] }], /^policy\.routers\[0\]\.conditional\.rules\[1\]\.rule_id: must be unique/],
      [[{ strategy: "conditional", rules: [{ ruleId: "a", conditionKey: "k", operator: ">", decision: "end", priority: 101 }] }], /rules\[0\]\.priority: must be an integer from 0 to 100/],
      [[{ strategy: "conditional", rules: [{ ruleId: "a", conditionKey: "k", operator: "", decision: "end" }] }], /rules\[0\]\.operator/],
      [[{ strategy: "conditional", rules: [{ ruleId: "a", conditionKey: "k", operator: "==", decision: "" }] }], /rules\[0\]\.decision/],
      [[{ strategy: "parallel", hints: [{ taskGroup: [], dependencies: [], estimatedDurationMs: 0 }] }], /hints\[0\]\.task_group: must hold at least one task/],
      [[{ strategy: "state_analysis", maxComplexityScore: 1.5 }], /max_complexity_score: must be between 0 and 1/],
      [[{ strategy: "priority", highThreshold: 10, lowThreshold: 20 }], /low_threshold: must be at most high_threshold/],
      [[{ strategy: "priority", highThreshold: 120 }], /high_threshold: must be between 0 and 100/],
      [[{ strategy: "" }], /^policy\.routers\[0\]: must set one router kind/],
    ];
    for (const [routers, message] of cases) {
      const err = fails(() => e.putPolicy("p", routers));
      expect(err.kind).toBe("invalid");
      expect(err.message).toMatch(message);
    }
    expect(fails(() => e.putPolicy("", [])).message).toMatch(/^policy\.policy_id/);
    expect(e.listPolicies({}).policies).toEqual([]);
  });

  it("lists every invalid field of a policy in one error, and stores nothing", () => {
    const e = createRoutingEngine();
    const err = fails(() =>
      e.putPolicy("", [
        { strategy: "conditional", rules: [{ ruleId: "", conditionKey: "", operator: "", decision: "" }] },
        { strategy: "priority", highThreshold: 120 },
      ]),
    );
    expect(err.reason).toBe("FIELD_INVALID");
    const rule = "policy.routers[0].conditional.rules[0]";
    expect(err.violations.map((v) => v.field)).toEqual([
      "policy.policy_id",
      `${rule}.rule_id`,
      `${rule}.condition_key`,
      `${rule}.operator`,
      `${rule}.decision`,
      "policy.routers[1].priority.config.high_threshold",
    ]);
    expect(err.message).toMatch(/\(and 5 more invalid fields\)$/);
    expect(e.listPolicies({}).policies).toEqual([]);
  });

  it("cuts pages of policies and of history short by their byte budget, with a token to go on", () => {
    const e = createRoutingEngine();
    for (const id of ["a", "b", "c"]) e.putPolicy(id, []);
    for (let i = 0; i < 3; i++) e.route({ policyId: "a", currentTask: "t" });
    const budget = { maxBytes: 25, sizeOf: () => 10 };
    const p1 = e.listPolicies({ budget });
    const p2 = e.listPolicies({ budget, pageToken: p1.nextPageToken });
    expect([p1.policies.map((p) => p.policyId), p2.policies.map((p) => p.policyId), p2.nextPageToken]).toEqual([["a", "b"], ["c"], ""]);
    const h1 = e.listHistory({ policyId: "a", budget });
    const h2 = e.listHistory({ policyId: "a", budget, pageToken: h1.nextPageToken });
    expect([h1.records.length, h2.records.length, h2.nextPageToken]).toEqual([2, 1, ""]);
  });

  it("validates the routing context", () => {
    const e = createRoutingEngine();
    e.putPolicy("p", []);
    expect(fails(() => e.route({ policyId: "p", currentTask: "" })).message).toMatch(/^current_task: must not be empty/);
    expect(fails(() => e.route({ policyId: "p", currentTask: "x".repeat(257) })).message).toMatch(/^current_task: must be at most 256/);
    expect(fails(() => e.route({ policyId: "p", currentTask: "t", executionTimeMs: -1 })).message).toMatch(/^execution_time_ms/);
    expect(fails(() => e.route({ policyId: "p", currentTask: "t", retryCount: -1 })).message).toMatch(/^retry_count/);
    expect(fails(() => e.route({ currentTask: "t" })).message).toMatch(/^policy_source/);
  });

  it("records results newest first, filters by task, paginates, and computes stats (SPEC case 16)", () => {
    const e = createRoutingEngine();
    e.putPolicy("p", [retryOnError]);
    e.route({ policyId: "p", currentTask: "a", state: { error_count: 1 }, correlationId: "c1" });
    e.route({ policyId: "p", currentTask: "b", state: {} });
    e.route({ policyId: "p", currentTask: "a", state: {} });
    const all = e.listHistory({ policyId: "p" }).records;
    expect(all.map((r) => [r.currentTask, r.decision])).toEqual([["a", "continue"], ["b", "continue"], ["a", "retry"]]);
    expect(all[2]?.correlationId).toBe("c1");
    expect(e.listHistory({ policyId: "p", currentTask: "a" }).records).toHaveLength(2);
    const p1 = e.listHistory({ policyId: "p", pageSize: 2 });
    expect(e.listHistory({ policyId: "p", pageSize: 2, pageToken: p1.nextPageToken }).records.map((r) => r.currentTask)).toEqual(["a"]);
    const s = e.stats("p");
    expect(s.totalRoutings).toBe(3);
    expect(s.decisions).toEqual({ retry: 1, continue: 2 });
    expect(s.strategies).toEqual({ conditional: 3 });
    expect(s.minRoutingTimeMs).toBeGreaterThan(0);
    expect(s.avgRoutingTimeMs).toBeGreaterThanOrEqual(s.minRoutingTimeMs);
    expect(s.maxRoutingTimeMs).toBeGreaterThanOrEqual(s.avgRoutingTimeMs);
    expect(e.clearHistory("p")).toBe(3);
    expect(e.stats("p")).toEqual({ totalRoutings: 0, avgRoutingTimeMs: 0, minRoutingTimeMs: 0, maxRoutingTimeMs: 0, decisions: {}, strategies: {} });
  });

  it("bounds history per policy id", () => {
    const e = createRoutingEngine({ limits: { ...defaultLimits, maxRoutingHistory: 3 } });
    e.putPolicy("p", []);
    for (let i = 0; i < 5; i++) e.route({ policyId: "p", currentTask: `t${i}` });
    expect(e.listHistory({ policyId: "p" }).records.map((r) => r.currentTask)).toEqual(["t4", "t3", "t2"]);
  });

  it("routes inline policies under their id, and measures time with a high-resolution clock", () => {
    const e = createRoutingEngine();
    const r = e.route({ inline: { policyId: "inline", routers: [retryOnError] }, currentTask: "t", state: { error_count: 2 } });
    expect(r.decision).toBe("retry");
    expect(r.routingTimeMs).toBeGreaterThan(0);
    expect(r.routersEvaluated).toBe(1);
    expect(r.routingId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.stats("inline").totalRoutings).toBe(1);
    expect(fails(() => e.getPolicy("inline")).kind).toBe("not_found");
  });

  it("skips a failing router and reports it", () => {
    const failures: string[] = [];
    const e = createRoutingEngine({ onRouterError: (_p, strategy) => failures.push(strategy) });
    e.putPolicy("p", [{ strategy: "priority" }, { strategy: "parallel", hints: [] }]);
    const r = e.route({ policyId: "p", currentTask: "t", state: { task_priority: "urgent" } });
    expect(r.strategy).toBe("parallel");
    expect(r.routersEvaluated).toBe(2);
    expect(failures).toEqual(["priority"]);
  });
});

describe("policy bounds", () => {
  const rule = (i: number, value: unknown = i) => ({ ...errRule, ruleId: `r${i}`, conditionValue: value as never });

  it("refuses more rules or hints than a router may hold, before looking at each, naming the list", () => {
    const e = createRoutingEngine({ limits: { ...defaultLimits, maxRulesPerRouter: 3 } });
    const tooMany = fails(() => e.putPolicy("p", [{ strategy: "conditional", rules: Array.from({ length: 4 }, (_, i) => rule(i)) }]));
    expect(tooMany.violations.map((v) => v.field)).toEqual(["policy.routers[0].conditional.rules"]);
    const hints = Array.from({ length: 4 }, () => ({ taskGroup: ["a"], dependencies: [], estimatedDurationMs: 0 }));
    expect(fails(() => e.putPolicy("p", [{ strategy: "parallel", hints }])).violations.map((v) => v.field)).toEqual(["policy.routers[0].parallel.hints"]);
    expect(() => e.getPolicy("p")).toThrow();
    expect(e.putPolicy("p", [{ strategy: "conditional", rules: Array.from({ length: 3 }, (_, i) => rule(i)) }]).created).toBe(true);
  });

  it("refuses condition values larger together than a signal's payload", () => {
    const e = createRoutingEngine({ limits: { ...defaultLimits, maxPayloadBytes: 100 } });
    const err = fails(() => e.putPolicy("p", [{ strategy: "conditional", rules: [rule(1, "x".repeat(60)), rule(2, "y".repeat(60))] }]));
    expect(err.violations[0]).toMatchObject({ field: "policy.routers[0].conditional.rules" });
    expect(err.violations[0]?.description).toContain("at most 100 bytes");
  });

  it("refuses a policy that could not be read back in one message, POLICY_TOO_LARGE, and keeps the one stored", () => {
    const e = createRoutingEngine({ policySize: { oversize: (p) => (p.routers.length > 1 ? 999 : undefined), maxBytes: 500 } });
    e.putPolicy("p", [retryOnError]);
    const err = fails(() => e.putPolicy("p", [retryOnError, { strategy: "priority" }]));
    expect(err).toMatchObject({ kind: "exhausted", reason: "POLICY_TOO_LARGE", metadata: { size_bytes: "999", limit_bytes: "500" } });
    expect(e.getPolicy("p").routers).toHaveLength(1);
  });
});

describe("routing history bounded in bytes", () => {
  it("drops the oldest results first, across every history (inline policies included), past the byte bound", () => {
    const e = createRoutingEngine({ limits: { ...defaultLimits, maxRoutingHistoryBytes: 3000 } });
    const route = (policyId: string) => e.route({ inline: { policyId, routers: [retryOnError] }, currentTask: "t", state: { error_count: 1 } });
    for (let i = 0; i < 10; i++) route("first");
    const firstKept = e.listHistory({ policyId: "first", pageSize: 100 }).records.length;
    expect(firstKept).toBeLessThanOrEqual(3000 / 256); // each result counts its fixed part at least
    expect(firstKept).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) route("second");
    expect(e.listHistory({ policyId: "first", pageSize: 100 }).records).toHaveLength(0);
    const kept = e.listHistory({ policyId: "second", pageSize: 100 }).records;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(10);
    // Clearing a history gives its bytes back: the other history is no longer cut.
    e.clearHistory("second");
    for (let i = 0; i < 3; i++) route("third");
    expect(e.listHistory({ policyId: "third", pageSize: 100 }).records).toHaveLength(3);
  });
});

describe("routing history bytes after deletes and clears", () => {
  it("counts a deleted or cleared history's bytes once: the remaining histories keep what the bound allows", () => {
    const e = createRoutingEngine({ limits: { ...defaultLimits, maxRoutingHistoryBytes: 4000 } });
    const route = (policyId: string) => e.route({ policyId, currentTask: "t", state: { error_count: 1 } });
    e.putPolicy("a", [retryOnError]);
    e.putPolicy("b", [retryOnError]);
    for (let i = 0; i < 6; i++) route("a");
    e.deletePolicy("a");
    for (let i = 0; i < 40; i++) route("b");
    const capacity = e.listHistory({ policyId: "b", pageSize: 100 }).records.length;
    // Again, with nothing deleted first: the same number of results fits.
    const f = createRoutingEngine({ limits: { ...defaultLimits, maxRoutingHistoryBytes: 4000 } });
    f.putPolicy("b", [retryOnError]);
    for (let i = 0; i < 40; i++) f.route({ policyId: "b", currentTask: "t", state: { error_count: 1 } });
    expect(capacity).toBe(f.listHistory({ policyId: "b", pageSize: 100 }).records.length);
  });
});
