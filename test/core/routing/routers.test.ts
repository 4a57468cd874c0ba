import { describe, expect, it } from "vitest";
import { Violations } from "../../../src/core/errors.js";
import type { JsonObject } from "../../../src/core/json.js";
import { defaultLimits } from "../../../src/core/limits.js";
import { aggregate, defaultRouterResult } from "../../../src/core/routing/aggregate.js";
import { validateRouters, type RouterInput } from "../../../src/core/routing/policy.js";
import { compileRouter, nestedDepth, settled, type CompiledRouter } from "../../../src/core/routing/routers.js";
import type { RouterResult, RoutingContext, RoutingStrategy } from "../../../src/core/routing/types.js";

const ctx = (state: JsonObject = {}, currentTask = "t", customData: JsonObject = {}): RoutingContext => ({
  currentTask,
  state,
  executionTimeMs: 0,
  retryCount: 0,
  customData,
  correlationId: "",
});
const compile = (...routers: RouterInput[]) => {
  const v = new Violations();
  const specs = validateRouters(v, "routers", routers, defaultLimits);
  v.throwIfAny();
  return specs.map(compileRouter);
};
const one = (r: RouterInput, c: RoutingContext) => settled((compile(r)[0] as CompiledRouter).evaluate(c));
const rule = (ruleId: string, key: string, operator: string, value: JsonObject[string], decision: string, priority?: number, extra: object = {}) => ({
  ruleId,
  name: `Rule ${ruleId}`,
  conditionKey: key,
  operator,
  conditionValue: value,
  decision,
  ...(priority !== undefined && { priority }),
  ...extra,
});

describe("conditional router", () => {
  it("takes the highest-priority matching rule (SPEC case 9) with confidence 1.0 and its metadata", () => {
    const r = one(
      { strategy: "conditional", rules: [rule("low", "x", "==", 1, "continue", 50), rule("high", "x", "==", 1, "end", 90, { nextTask: "wrap_up" })] },
      ctx({ x: 1 }),
    );
    expect(r).toEqual({
      decision: "end",
      confidence: 1.0,
      reasoning: "Conditional rule 'Rule high' matched: x == 1",
      strategy: "conditional",
      nextTask: "wrap_up",
      metadata: { rule_id: "high", rule_name: "Rule high", rule_priority: 90 },
    });
  });

  it("formats the reasoning like the original (SPEC case 10)", () => {
    const r = one({ strategy: "conditional", rules: [{ ...rule("e", "error_count", ">", 0, "retry", 90), name: "Retry on Error" }] }, ctx({ error_count: 1 }));
    expect([r.decision, r.confidence, r.reasoning]).toEqual(["retry", 1.0, "Conditional rule 'Retry on Error' matched: error_count > 0"]);
    const list = one({ strategy: "conditional", rules: [rule("l", "stage", "in", ["a", "b"], "skip")] }, ctx({ stage: "a" }));
    expect(list.reasoning).toBe("Conditional rule 'Rule l' matched: stage in ['a', 'b']");
    const flag = one({ strategy: "conditional", rules: [rule("f", "ok", "==", true, "end")] }, ctx({ ok: true }));
    expect(flag.reasoning).toBe("Conditional rule 'Rule f' matched: ok == True");
  });

  it("keeps insertion order among equal priorities and defaults priority to 50", () => {
    const r = one({ strategy: "conditional", rules: [rule("a", "x", "==", 1, "skip"), rule("b", "x", "==", 1, "end"), rule("c", "x", "==", 1, "retry", 49)] }, ctx({ x: 1 }));
    expect(r.metadata).toEqual({ rule_id: "a", rule_name: "Rule a", rule_priority: 50 });
  });

  it("continues with 0.5 when nothing matches", () => {
    const r = one({ strategy: "conditional", rules: [rule("a", "x", "==", 1, "end"), rule("b", "y", ">", 1, "end")] }, ctx({ y: "2" }));
    expect(r).toEqual({
      decision: "continue",
      confidence: 0.5,
      reasoning: "No conditional rules matched, continuing with default behavior",
      strategy: "conditional",
      nextTask: "",
      metadata: { rules_evaluated: 2 },
    });
  });
});

describe("parallel router", () => {
  const hints = [
    { taskGroup: ["x", "y"], dependencies: ["never"], estimatedDurationMs: 5 },
    { taskGroup: ["a", "b", "c", "d"], dependencies: ["parse"], estimatedDurationMs: 1200 },
  ];
  it("parallelizes with the group's other uncompleted members once dependencies are done (SPEC case 11)", () => {
    const r = one({ strategy: "parallel", hints }, ctx({ completed_tasks: ["parse", "c"] }, "a"));
    expect(r).toEqual({
      decision: "parallel",
      confidence: 0.9,
      reasoning: "Task 'a' can be parallelized with ['b', 'd']",
      strategy: "parallel",
      nextTask: "",
      metadata: { parallel_tasks: ["b", "d"], dependencies: ["parse"], estimated_duration_ms: 1200 },
    });
  });
  it("continues with 0.7 when dependencies are missing or the task is in no group", () => {
    for (const c of [ctx({ completed_tasks: [] }, "a"), ctx({ completed_tasks: ["parse"] }, "zzz"), ctx({ completed_tasks: "parse" }, "a")]) {
      expect(one({ strategy: "parallel", hints }, c)).toMatchObject({
        decision: "continue",
        confidence: 0.7,
        reasoning: "No parallel execution opportunities identified",
        metadata: { hints_checked: 2 },
      });
    }
  });
});

describe("state-analysis router", () => {
  const sa = (extra: object = {}): RouterInput => ({ strategy: "state_analysis", ...extra });
  it("routes errors to the error decision with 0.95 (SPEC case 12)", () => {
    const r = one(sa(), ctx({ error_count: 3 }));
    expect([r.decision, r.confidence, r.reasoning]).toEqual(["retry", 0.95, "State contains errors (key_count=1, complexity=0.03)"]);
    expect(one(sa({ errorHandlingDecision: "error" }), ctx({ failed: true })).decision).toBe("error");
    for (const s of [{ error: "" }, { errors: [] }, { error_count: 0 }, { failed: false }]) expect(one(sa(), ctx(s)).decision).toBe("continue");
  });
  it("skips incomplete data with 0.8 (SPEC case 13)", () => {
    for (const s of [{ required_data: null }, { mandatory_fields: [] }, { required_data: 0 }]) {
      expect(one(sa(), ctx(s))).toMatchObject({ decision: "skip", confidence: 0.8, reasoning: "State has incomplete data, skipping task" });
    }
  });
  it("branches above the complexity threshold with 0.85 (SPEC case 14)", () => {
    const state: JsonObject = {};
    for (let i = 0; i < 100; i++) state[`k${i}`] = { a: { b: { c: { d: i } } } };
    expect(nestedDepth(state)).toBe(5);
    const r = one(sa({ maxComplexityScore: 0.5 }), ctx(state));
    expect(r.decision).toBe("branch");
    expect(r.confidence).toBe(0.85);
    expect(r.reasoning).toMatch(/^State complexity \(0\.55\) exceeds threshold \(0\.50\), branching to handle complexity$/);
    expect((r.metadata["complexity_metrics"] as JsonObject)["key_count"]).toBe(100);
  });
  it("continues with 0.9 within the normal range and always reports metrics", () => {
    const r = one(sa(), ctx({ a: 1 }));
    expect([r.decision, r.confidence, r.reasoning]).toEqual(["continue", 0.9, "State complexity (0.03) within normal range"]);
    expect(r.metadata["complexity_metrics"]).toMatchObject({ key_count: 1, nested_depth: 1, has_errors: false, has_incomplete_data: false });
  });
  it("measures nesting depth of objects", () => {
    expect([nestedDepth({}), nestedDepth({ a: 1 }), nestedDepth({ a: { b: 1 } }), nestedDepth({ a: {} }), nestedDepth({ a: [{ b: 1 }] })]).toEqual([0, 1, 2, 1, 1]);
  });
});

describe("priority router", () => {
  const pr: RouterInput = { strategy: "priority" };
  it("reads custom_data.priority (0 included), else state.task_priority, else 50", () => {
    expect(one(pr, ctx({ task_priority: 90 }, "t", { priority: 0 }))).toMatchObject({ decision: "skip", confidence: 0.85, reasoning: "Low-priority task (priority=0)" });
    expect(one(pr, ctx({ task_priority: 80 }))).toMatchObject({ decision: "continue", confidence: 0.95, reasoning: "High-priority task (priority=80)" });
    expect(one(pr, ctx())).toMatchObject({ decision: "continue", confidence: 0.8, reasoning: "Medium-priority task (priority=50)", metadata: { priority: 50, high_threshold: 80, low_threshold: 20 } });
    expect(one(pr, ctx({ task_priority: 20.5 }))).toMatchObject({ confidence: 0.8, reasoning: "Medium-priority task (priority=20.5)" });
  });
  it("throws on a non-numeric priority, so the aggregation skips it", () => {
    expect(() => one(pr, ctx({ task_priority: "high" }))).toThrow(/not a number/);
  });
});

describe("weighted winner", () => {
  // A router that returns a fixed result, to pin the aggregation table.
  const fixed = (strategy: RoutingStrategy, confidence: number, decision: RouterResult["decision"] = "continue"): CompiledRouter => ({
    spec: { strategy: "priority", config: {} as never },
    evaluate: () => ({ decision, confidence, reasoning: `${strategy} ${confidence}`, strategy, nextTask: "", metadata: {} }),
  });
  const failing: CompiledRouter = { spec: { strategy: "priority", config: {} as never }, evaluate: () => { throw new Error("boom"); } };

  it.each([
    // [routers, winner reasoning]
    [[fixed("conditional", 1.0), fixed("priority", 0.95)], "conditional 1"], // 100 vs 38 (SPEC case 15)
    [[fixed("conditional", 0.5), fixed("state_analysis", 0.9)], "state_analysis 0.9"], // 50 vs 72
    [[fixed("conditional", 0.5), fixed("parallel", 0.9)], "parallel 0.9"], // 50 vs 54
    [[fixed("conditional", 0.5), fixed("parallel", 0.7)], "conditional 0.5"], // 50 vs 42
    [[fixed("state_analysis", 0.9), fixed("parallel", 0.9)], "state_analysis 0.9"], // 72 vs 54
    [[fixed("parallel", 0.7), fixed("priority", 0.95)], "parallel 0.7"], // 42 vs 38
    [[fixed("priority", 0.95), fixed("parallel", 0.7)], "parallel 0.7"], // order does not matter when scores differ
    [[fixed("conditional", 0.5), fixed("priority", 0.8)], "conditional 0.5"], // 50 vs 32
    [[fixed("state_analysis", 0.625), fixed("conditional", 0.5)], "state_analysis 0.625"], // tie 50/50 → earlier
    [[fixed("conditional", 0.5), fixed("state_analysis", 0.625)], "conditional 0.5"], // tie → earlier
  ] as [CompiledRouter[], string][])("table %#", (routers, winner) => {
    expect(aggregate(routers, ctx()).reasoning).toBe(winner);
  });

  it("skips a router that throws and reports it", () => {
    const errors: unknown[] = [];
    expect(aggregate([failing, fixed("priority", 0.8)], ctx(), (_r, e) => errors.push(e)).reasoning).toBe("priority 0.8");
    expect(errors).toHaveLength(1);
    expect(aggregate([failing], ctx())).toBe(defaultRouterResult);
  });

  it("returns the default with no routers (SPEC case 16)", () => {
    expect(aggregate([], ctx())).toEqual({
      decision: "continue",
      confidence: 0.5,
      reasoning: "No routers available, using default decision",
      strategy: "priority",
      nextTask: "",
      metadata: {},
    });
  });

  it("returns the winner as plain data, its description written (a spread or a serializer sees every field)", () => {
    const routers = compile({ strategy: "state_analysis" }, { strategy: "priority" });
    const won = { ...aggregate(routers, ctx({ error: "boom" })) };
    expect(won).toEqual({
      decision: "retry",
      confidence: 0.95,
      reasoning: "State contains errors (key_count=1, complexity=0.03)",
      strategy: "state_analysis",
      nextTask: "",
      metadata: { complexity_metrics: { key_count: 1, nested_depth: 1, state_size_bytes: 16, complexity_score: 0.0340048, has_errors: true, has_incomplete_data: false } },
    });
  });

  it("real routers: conditional end beats priority-high continue (SPEC case 15)", () => {
    const routers = compile({ strategy: "priority" }, { strategy: "conditional", rules: [rule("r", "done", "==", true, "end")] });
    expect(aggregate(routers, ctx({ done: true, task_priority: 95 })).decision).toBe("end");
  });
});
