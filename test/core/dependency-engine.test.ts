import { describe, expect, it } from "vitest";
import { createContextEngine } from "../../src/core/context/context-engine.js";
import { createDependencyEngine } from "../../src/core/dependencies/dependency-engine.js";
import type { DependencyInput } from "../../src/core/dependencies/types.js";
import type { ConsortError } from "../../src/core/errors.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createSignalEngine } from "../../src/core/signals/signal-engine.js";
import { createStore } from "../../src/core/store.js";
import { errorOf } from "./thrown.js";

function setup(limits: Partial<typeof defaultLimits> = {}) {
  const store = createStore();
  const all = { ...defaultLimits, ...limits };
  const signals = createSignalEngine({ store, limits: all });
  const contexts = createContextEngine({ store, limits: all });
  let pendingGauge = 0;
  const deps = createDependencyEngine({
    store,
    signals,
    assignmentDependencies: contexts.assignmentDependencies,
    limits: all,
    hooks: { onPendingChanged: (d) => (pendingGauge += d) },
  });
  const complete = (agent: string, data: Record<string, unknown> = {}, sender = agent) =>
    signals.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: sender, data: data as never });
  return { store, signals, contexts, deps, complete, pending: () => pendingGauge };
}

const completion = (dependencyId: string, agentId: string, timeoutMs = 5000, requireSuccess?: boolean): DependencyInput => ({
  dependencyId,
  timeoutMs,
  target: { type: "agent_completion", agentId, ...(requireSuccess !== undefined && { requireSuccess }) },
});
const gate = (dependencyId: string, gateId: string, threshold?: number, timeoutMs = 5000): DependencyInput => ({
  dependencyId,
  timeoutMs,
  target: { type: "quality_gate", gateId, ...(threshold !== undefined && { threshold }) },
});
const resource = (dependencyId: string, resourceId: string, timeoutMs = 5000): DependencyInput => ({ dependencyId, timeoutMs, target: { type: "resource_availability", resourceId } });


describe("waiting without polling", () => {
  it("resolves at once what is already satisfied, and a completion published before the wait counts (no lost wake-up)", async () => {
    const { deps, complete } = setup();
    complete("gen");
    deps.setGateScore("c", "g", 0.9);
    deps.setResourceAvailability("c", "r", true);
    const r = await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d1", "gen"), gate("d2", "g"), resource("d3", "r")] }).result;
    expect(r.success).toBe(true);
    expect(r.results.map((x) => x.status)).toEqual(["resolved", "resolved", "resolved"]);
  });

  it("is woken by the event itself, synchronously within its publish: the wait is released before publish returns", async () => {
    const { deps, complete } = setup();
    const call = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] });
    expect(deps.status("c", "v", "d").status).toBe("in_progress");
    complete("someone-else", { agent_id: "gen" }); // named in data.agent_id, not the sender
    expect(deps.status("c", "v", "d").status).toBe("resolved");
    expect(deps.pendingCount).toBe(0);
    expect((await call.result).success).toBe(true);
  });

  it("never loses a wake-up, whatever the interleaving of the completion and the wait (no call waits out its timeout)", async () => {
    const { deps, signals } = setup();
    // Each round: the completion lands before, at the same turn as, or after the wait registers, by a random
    // number of microtask and timer hops either way.
    const hop = async (n: number) => {
      for (let i = 0; i < n; i++) await (i % 2 === 0 ? Promise.resolve() : new Promise((r) => setImmediate(r)));
    };
    const rounds = Array.from({ length: 300 }, (_, i) => i);
    const results = await Promise.all(
      rounds.map(async (i) => {
        const agent = `gen-${i}`;
        const complete = hop(i % 7).then(() => signals.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: agent }));
        const wait = hop((i * 5) % 7).then(() => deps.resolve({ coordinationId: "c", agentId: `v-${i}`, dependencies: [completion("d", agent, 10_000)] }).result);
        await complete;
        return wait;
      }),
    );
    expect(results.every((r) => r.success)).toBe(true);
    expect(deps.pendingCount).toBe(0);
  });

  it("times out a dependency with the original message; other dependencies of the call are awaited together (SPEC case 20)", async () => {
    const { deps, complete } = setup();
    const call = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("slow", "nobody", 40), completion("fast", "gen", 2000)] });
    setTimeout(() => complete("gen"), 10);
    const r = await call.result;
    expect(r.success).toBe(false);
    expect(r.results).toMatchObject([
      { dependencyId: "slow", status: "timeout", message: "Dependency 'slow' timed out after 0.04s" },
      { dependencyId: "fast", status: "resolved", message: "" },
    ]);
  });

  it("resolves a gate when a score reaches its threshold, not below it (SPEC case 21)", async () => {
    const { deps } = setup();
    const call = deps.resolve({ coordinationId: "c", agentId: "t", dependencies: [gate("cov", "coverage")] });
    expect(deps.setGateScore("c", "coverage", 0.7)).toBe(0);
    expect(deps.setGateScore("c", "coverage", 0.8)).toBe(1);
    expect((await call.result).success).toBe(true);
  });

  it("releases 10,000 waiters on one gate with one score", async () => {
    const { deps, pending } = setup();
    const calls = Array.from({ length: 10_000 }, (_, i) => deps.resolve({ coordinationId: "c", agentId: `a${i}`, dependencies: [gate("g", "gate", 0.5)] }));
    expect(pending()).toBe(10_000);
    expect(deps.setGateScore("c", "gate", 0.6)).toBe(10_000);
    expect(pending()).toBe(0);
    const results = await Promise.all(calls.map((c) => c.result));
    expect(results.every((r) => r.success)).toBe(true);
  });

  it("tells the calls of a large release 256 per event-loop turn, so others get the loop in between", async () => {
    const { deps } = setup();
    const settled: number[] = [];
    const calls = Array.from({ length: 1000 }, (_, i) => deps.resolve({ coordinationId: "c", agentId: `a${i}`, dependencies: [gate("g", "gate", 0.5)] }));
    calls.forEach((c, i) => void c.result.then(() => settled.push(i)));
    deps.setGateScore("c", "gate", 1);
    await new Promise((r) => setTimeout(r, 0)); // microtasks and timers of this turn, before the next check phase
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.length).toBeLessThanOrEqual(256);
    await Promise.all(calls.map((c) => c.result));
    expect(settled).toHaveLength(1000);
    expect(settled).toEqual([...settled].sort((x, y) => x - y)); // in release order
  });

  it("fails a wait at once on an unsuccessful completion with require_success, and resolves it without (SPEC §4)", async () => {
    const { deps, complete } = setup();
    const strict = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] });
    const lax = deps.resolve({ coordinationId: "c", agentId: "w", dependencies: [completion("d", "gen", 5000, false)] });
    complete("gen", { error: "model invalid" });
    expect((await strict.result).results[0]).toMatchObject({ status: "failed", message: "Dependency 'd' failed: agent 'gen' completed unsuccessfully" });
    expect((await lax.result).success).toBe(true);
    // Decided at once against the recorded completion too.
    const late = await deps.resolve({ coordinationId: "c", agentId: "x", dependencies: [completion("d", "gen")] }).result;
    expect(late.results[0]?.status).toBe("failed");
    complete("gen", { success: true }); // a later successful completion replaces it
    expect((await deps.resolve({ coordinationId: "c", agentId: "y", dependencies: [completion("d", "gen")] }).result).success).toBe(true);
  });

  it("tracks completions apart from the bounded history", async () => {
    const { deps, complete, signals } = setup({ maxHistory: 2 });
    complete("gen");
    for (let i = 0; i < 5; i++) signals.publish({ coordinationId: "c", type: "inter_agent_message" });
    expect(signals.list({ coordinationId: "c" }).signals.some((s) => s.type === "agent_completed")).toBe(false);
    expect((await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] }).result).success).toBe(true);
  });

  it("remembers the completions of at most max_agents_per_coordination agents, forgetting the one heard longest ago", async () => {
    const { deps, complete } = setup({ maxAgentsPerCoordination: 3 });
    for (const a of ["a", "b", "c"]) complete(a);
    complete("a"); // heard again: now the newest
    complete("d"); // one too many: "b" is forgotten
    const r = await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: ["a", "c", "d"].map((a) => completion(`on-${a}`, a)) }).result;
    expect(r.results.map((x) => x.status)).toEqual(["resolved", "resolved", "resolved"]);
    const forgotten = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("on-b", "b")] });
    expect(deps.status("c", "v", "on-b").status).toBe("in_progress");
    complete("b");
    expect((await forgotten.result).success).toBe(true);
  });
});

describe("cycles", () => {
  it("fails at once a wait that would close a cycle of agents waiting on each other, naming it", async () => {
    const { deps, complete } = setup();
    const ab = deps.resolve({ coordinationId: "c", agentId: "a", dependencies: [completion("on-b", "b")] });
    const bc = deps.resolve({ coordinationId: "c", agentId: "b", dependencies: [completion("on-c", "c")] });
    const ca = await deps.resolve({ coordinationId: "c", agentId: "c", dependencies: [completion("on-a", "a")] }).result;
    expect(ca.results[0]).toMatchObject({ status: "failed", message: "Dependency 'on-a' would close a wait cycle: c -> a -> b -> c" });
    const self = await deps.resolve({ coordinationId: "c", agentId: "s", dependencies: [completion("me", "s")] }).result;
    expect(self.results[0]?.message).toContain("s -> s");
    complete("c");
    expect((await bc.result).success).toBe(true);
    complete("b");
    expect((await ab.result).success).toBe(true);
  });
});

describe("calls: re-attach, deadline, cancel", () => {
  it("a repeated call joins the open wait; after it finished it returns the recorded result", async () => {
    const { deps, complete, signals } = setup();
    const first = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] });
    const retry = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] });
    expect(deps.pendingCount).toBe(1);
    first.abandon("cancelled"); // the first connection dropped: the retry still holds the wait
    expect(deps.status("c", "v", "d").status).toBe("in_progress");
    complete("gen");
    expect((await retry.result).success).toBe(true);
    const again = await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] }).result;
    expect(again.results[0]?.status).toBe("resolved");
    // One dependency_resolved, however many calls saw the success.
    expect(signals.list({ coordinationId: "c", types: ["dependency_resolved"] }).signals).toHaveLength(1);
  });

  it("refuses a repeated dependency id with a different target before registering anything", () => {
    const { deps } = setup();
    deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] });
    const err = errorOf(() => deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("new", "x"), gate("d", "g")] }));
    expect(err).toMatchObject({ kind: "failed_precondition", reason: "DEPENDENCY_MISMATCH" });
    expect(errorOf(() => deps.status("c", "v", "new")).kind).toBe("not_found");
  });

  it("ends the waits of the last caller: deadline → timeout, cancel → failed; no waiter is left behind", async () => {
    const { deps, pending } = setup();
    const a = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d1", "gen")] });
    a.abandon("deadline");
    expect(deps.status("c", "v", "d1")).toMatchObject({ status: "timeout" });
    expect(deps.status("c", "v", "d1").message).toMatch(/^Dependency 'd1' timed out after [\d.]+s: the call's deadline passed$/);
    const b = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d2", "gen")] });
    b.abandon("cancelled");
    expect(deps.status("c", "v", "d2")).toMatchObject({ status: "failed", message: "Dependency 'd2' cancelled" });
    expect(pending()).toBe(0);
    expect((await b.result).success).toBe(false);
  });

  it("starts a wait again when a later call names it after all its callers left (a retry after a dropped connection)", async () => {
    const { deps, complete } = setup();
    deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] }).abandon("cancelled");
    expect(deps.status("c", "v", "d").status).toBe("failed");
    const retry = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] });
    expect(deps.status("c", "v", "d").status).toBe("in_progress");
    complete("gen");
    expect((await retry.result).success).toBe(true);
    // A wait that ended on its own (resolved, or failed by its event) keeps its recorded result.
    expect((await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen")] }).result).results[0]?.status).toBe("resolved");
  });

  it("keeps at most the newest finished records per coordination, dropping the oldest finished first", async () => {
    const { deps } = setup({ maxDependencyRecords: 3 });
    const open = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [resource("open", "never")] });
    deps.setGateScore("c", "g", 0.5);
    for (let i = 0; i < 6; i++) await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate(`g${i}`, "g", 0, 1000)] }).result;
    const kept = deps.list({ coordinationId: "c" }).records.map((r) => r.dependencyId);
    expect(kept).toEqual(["g5", "g4", "g3", "open"]);
    open.abandon("cancelled");
  });

  it("ClearDependencies fails open waits 'cleared' and forgets scores, resources and completions", async () => {
    const { deps, complete } = setup();
    complete("gen");
    deps.setGateScore("c", "g", 1);
    const call = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [resource("r", "res")] });
    expect(deps.clear("c")).toBe(1);
    expect((await call.result).results[0]).toMatchObject({ status: "failed", message: "Dependency 'r' cleared" });
    const after = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("d", "gen", 30), gate("g", "g", 0.5, 30)] });
    expect((await after.result).results.map((r) => r.status)).toEqual(["timeout", "timeout"]);
  });

  it("refuses a quality gate or resource beyond the coordination's limit; existing ones still change", () => {
    const { deps } = setup({ maxGatesPerCoordination: 2 });
    deps.setGateScore("c", "g1", 0.1);
    deps.setGateScore("c", "g2", 0.2);
    expect(errorOf(() => deps.setGateScore("c", "g3", 0.3))).toMatchObject({ kind: "exhausted", reason: "TOO_MANY_GATES", metadata: { limit: "2" } });
    deps.setGateScore("c", "g2", 0.9);
    deps.setResourceAvailability("c", "r1", true);
    deps.setResourceAvailability("c", "r2", false);
    expect(errorOf(() => deps.setResourceAvailability("c", "r3", true))).toMatchObject({ kind: "exhausted", reason: "TOO_MANY_RESOURCES" });
    deps.setResourceAvailability("c", "r2", true);
    // Another coordination has its own.
    deps.setGateScore("other", "g3", 0.3);
  });

  it("refuses waits beyond the pending limit with RESOURCE_EXHAUSTED, registering none of the call's", () => {
    const { deps } = setup({ maxPendingWaits: 2 });
    deps.resolve({ coordinationId: "c", agentId: "a", dependencies: [resource("1", "r")] });
    const err = errorOf(() => deps.resolve({ coordinationId: "c", agentId: "b", dependencies: [resource("2", "r"), resource("3", "r")] }));
    expect(err).toMatchObject({ kind: "exhausted", reason: "TOO_MANY_WAITS" });
    expect(deps.pendingCount).toBe(1);
  });

  it("an empty list waits on the agent's distributed assignment; without one it succeeds at once (SPEC case 23)", async () => {
    const { deps, contexts, complete } = setup();
    expect(await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [] }).result).toEqual({ success: true, results: [] });
    contexts.distribute({ coordinationId: "c", sessionId: "s", assignments: [{ agentId: "gen" }, { agentId: "v", dependencies: ["gen"] }] });
    const call = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [] });
    expect(deps.status("c", "v", "gen").status).toBe("in_progress");
    complete("gen");
    expect((await call.result).results).toMatchObject([{ dependencyId: "gen", status: "resolved" }]);
  });

  it("validates every dependency: ids, duplicates, timeouts, targets, thresholds", () => {
    const { deps } = setup();
    const err = errorOf(() =>
      deps.resolve({
        coordinationId: "c",
        agentId: "v",
        dependencies: [
          { dependencyId: "", target: undefined },
          { ...gate("g", "", 1.5), timeoutMs: 0 },
          completion("g", "x"),
        ],
      }),
    );
    expect(err.violations.map((v) => v.field).sort()).toEqual([
      "dependencies[0].dependency_id",
      "dependencies[0].target",
      "dependencies[1].quality_gate.gate_id",
      "dependencies[1].quality_gate.threshold",
      "dependencies[1].timeout",
      "dependencies[2].dependency_id",
    ]);
  });
});

describe("records", () => {
  it("lists newest first, filtered by agent and status, cut by its byte budget with a token that continues it", async () => {
    const { deps } = setup();
    deps.setGateScore("c", "g", 1);
    for (let i = 0; i < 5; i++) await deps.resolve({ coordinationId: "c", agentId: i % 2 === 0 ? "even" : "odd", dependencies: [gate(`d${i}`, "g")] }).result;
    const open = deps.resolve({ coordinationId: "c", agentId: "even", dependencies: [resource("waiting", "r")] });
    const budget = { maxBytes: 25, sizeOf: () => 10 };
    const first = deps.list({ coordinationId: "c", agentId: "even", budget });
    expect(first.records.map((r) => r.dependencyId)).toEqual(["waiting", "d4"]);
    const rest = deps.list({ coordinationId: "c", agentId: "even", pageToken: first.nextPageToken });
    expect(rest.records.map((r) => r.dependencyId)).toEqual(["d2", "d0"]);
    expect(rest.nextPageToken).toBe("");
    expect(deps.list({ coordinationId: "c", statuses: ["in_progress"] }).records.map((r) => r.dependencyId)).toEqual(["waiting"]);
    expect(() => deps.list({ coordinationId: "c", agentId: "odd", pageToken: first.nextPageToken })).toThrow(/different query/);
    open.abandon("cancelled");
  });
});
