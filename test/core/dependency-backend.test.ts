import { describe, expect, it } from "vitest";
import { createDependencyEngine } from "../../src/core/dependencies/dependency-engine.js";
import type { DependencyInput } from "../../src/core/dependencies/types.js";
import { ConsortError } from "../../src/core/errors.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createSignalEngine } from "../../src/core/signals/signal-engine.js";
import type { PublishInput } from "../../src/core/signals/types.js";
import { createStore } from "../../src/core/store.js";
import { createFakeSharedLog } from "./fake-shared-backend.js";
import { createFakeDependencyFeed, type FakeDependencyFeed } from "./fake-dependency-backend.js";

/**
 * The dependency engine's backend seam (`dependency-backend.ts`): engines ("replicas") with their own stores share
 * signals through a fake shared log and dependency changes through a fake ordered feed.
 */

const completion = (dependencyId: string, agentId: string, timeoutMs = 5000): DependencyInput => ({ dependencyId, timeoutMs, target: { type: "agent_completion", agentId } });
const gate = (dependencyId: string, gateId: string, timeoutMs = 5000): DependencyInput => ({ dependencyId, timeoutMs, target: { type: "quality_gate", gateId } });
const resource = (dependencyId: string, resourceId: string, timeoutMs = 5000): DependencyInput => ({ dependencyId, timeoutMs, target: { type: "resource_availability", resourceId } });

/** `n` replicas serving coordination "c": each a store, a signal engine and a dependency engine on the shared feeds. */
function replicas(n: number, feed: FakeDependencyFeed = createFakeDependencyFeed(), mirrorGraceMs?: number) {
  const log = createFakeSharedLog();
  const made = Array.from({ length: n }, (_, i) => replica(`r${i}`));
  function replica(replicaId: string) {
    const store = createStore();
    const signals = createSignalEngine({ store, limits: defaultLimits, backend: log.replica() });
    // Served here: the signal log's view exists (a real backend's load step).
    signals.subscribe({ coordinationId: "c", agentId: "serving" });
    const announced: PublishInput[] = [];
    const backend = feed.replica(replicaId);
    const deps = createDependencyEngine({
      store,
      signals: {
        addAppendListener: (l) => signals.addAppendListener(l),
        publish: (input: PublishInput) => {
          announced.push(input);
          return signals.publish(input);
        },
      },
      limits: defaultLimits,
      backend,
      ...(mirrorGraceMs !== undefined && { mirrorGraceMs }),
    });
    return { store, signals, deps, backend, announced };
  }
  return { replicas: made, replica, settled: async () => {
    await feed.settled();
    await log.settled();
    await feed.settled();
  } };
}

describe("the in-memory path", () => {
  it("returns numbers, not promises, and decides a wait within the call", () => {
    const store = createStore();
    const deps = createDependencyEngine({ store, signals: createSignalEngine({ store }) });
    const call = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("d", "g")] });
    expect(deps.status("c", "v", "d").status).toBe("in_progress");
    const released = deps.setGateScore("c", "g", 0.9);
    expect(released).not.toBeInstanceOf(Promise);
    expect(released).toBe(1);
    expect(deps.setResourceAvailability("c", "r", true)).toBe(0);
    expect(deps.clear("c")).toBe(1);
    call.abandon("cancelled");
  });
});

describe("a shared backend", () => {
  it("releases a wait on A by a completion published on B and a gate score set on C; C's answer counts A's wait", async () => {
    const { replicas: [a, b, c], settled } = replicas(3);
    const call = a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [completion("gen", "generator"), gate("cov", "coverage")] });
    await settled();
    expect(a!.deps.openWaitCount("c")).toBe(2);
    expect(c!.deps.openWaitCount("c")).toBe(2); // mirrors
    await b!.signals.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "generator" });
    const released = c!.deps.setGateScore("c", "coverage", 0.9);
    expect(released).toBeInstanceOf(Promise);
    expect(await released).toBe(1);
    const r = await call.result;
    expect(r.results.map((x) => x.status)).toEqual(["resolved", "resolved"]);
    await settled();
    for (const x of [a, b, c]) {
      expect(x!.deps.openWaitCount("c")).toBe(0);
      expect(x!.deps.status("c", "v", "cov").status).toBe("resolved");
    }
    // Only the owner counts the wait as its own.
    expect(a!.deps.pendingCount).toBe(0);
  });

  it("mirrors A's wait on B: in progress until the owner's final record, which B shows as is", async () => {
    const { replicas: [a, b], settled } = replicas(2);
    const call = a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [resource("db", "database", 60)] });
    await settled();
    expect(b!.deps.status("c", "v", "db").status).toBe("in_progress");
    expect(b!.deps.list({ coordinationId: "c" }).records.map((r) => r.dependencyId)).toEqual(["db"]);
    expect(b!.deps.pendingCount).toBe(0);
    const r = await call.result;
    expect(r.results[0]?.status).toBe("timeout");
    await settled();
    const onB = b!.deps.status("c", "v", "db");
    expect(onB.status).toBe("timeout");
    expect(onB.message).toBe(r.results[0]?.message);
  });

  it("refuses a wait cycle made across replicas: of two racing waits exactly one fails, the later in the feed, whatever the delays", async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { replicas: [a, b], settled } = replicas(2, createFakeDependencyFeed(seed));
      const x = a!.deps.resolve({ coordinationId: "c", agentId: "x", dependencies: [completion("needs-y", "y")] });
      const y = b!.deps.resolve({ coordinationId: "c", agentId: "y", dependencies: [completion("needs-x", "x")] });
      await settled();
      const states = [a!.deps.status("c", "x", "needs-y"), b!.deps.status("c", "y", "needs-x")];
      expect(states.map((s) => s.status).sort()).toEqual(["failed", "in_progress"]);
      expect(states.find((s) => s.status === "failed")?.message).toContain("would close a wait cycle");
      // Every replica tells the same story.
      expect(b!.deps.status("c", "x", "needs-y").status).toBe(states[0]!.status);
      expect(a!.deps.status("c", "y", "needs-x").status).toBe(states[1]!.status);
      x.abandon("cancelled");
      y.abandon("cancelled");
    }
  });

  it("clears every replica's waits, records and gates from one ClearDependencies", async () => {
    const { replicas: [a, b], settled } = replicas(2);
    await a!.deps.setGateScore("c", "lint", 1);
    const call = b!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [resource("r", "artifact")] });
    await settled();
    expect(await a!.deps.clear("c")).toBe(1);
    const r = await call.result;
    expect(r.results[0]).toMatchObject({ status: "failed", message: "Dependency 'r' cleared" });
    await settled();
    for (const x of [a, b]) {
      expect(x!.deps.list({ coordinationId: "c" }).records).toEqual([]);
      expect(x!.deps.openWaitCount("c")).toBe(0);
    }
    expect(b!.deps.pendingCount).toBe(0);
    const again = b!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "lint", 30)] });
    expect((await again.result).results[0]?.status).toBe("timeout");
  });

  it("keeps every replica's records alike when a wait's release races a clear (its final record made before the clear is skipped)", async () => {
    let raced = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const { replicas: [a, b], settled } = replicas(2, createFakeDependencyFeed(seed));
      const call = a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
      await settled();
      const [released] = await Promise.all([a!.deps.setGateScore("c", "cov", 1), b!.deps.clear("c")]);
      await call.result;
      await settled();
      // Released before the clear in the feed's order: its final record was made before the clear, and lands after it.
      if (released === 1) raced++;
      const records = (x: typeof a) => x!.deps.list({ coordinationId: "c" }).records.map((r) => `${r.dependencyId}:${r.status}`);
      expect(records(b)).toEqual(records(a));
      expect(records(a)).toEqual([]);
    }
    expect(raced).toBeGreaterThan(0);
  });

  it("ends a mirror whose owner went silent after startedAt + timeout + grace, and lets a later call start it again", async () => {
    const { replicas: [a, b], settled } = replicas(2, createFakeDependencyFeed(), 40);
    a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "never", 40)] });
    await settled();
    expect(b!.deps.status("c", "v", "g").status).toBe("in_progress");
    a!.backend.kill();
    await new Promise((r) => setTimeout(r, 150));
    const ended = b!.deps.status("c", "v", "g");
    expect(ended.status).toBe("timeout");
    expect(ended.message).toContain("the replica that owned it sent no result");
    expect(b!.deps.openWaitCount("c")).toBe(0);
    const again = b!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "never", 40)] });
    await settled();
    expect(b!.deps.status("c", "v", "g").status).toBe("in_progress");
    await again.result;
  });

  it("announces dependency_resolved under one key when calls on two replicas joined the same wait", async () => {
    const { replicas: [a, b], settled } = replicas(2);
    const onA = a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
    await settled();
    const onB = b!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
    await a!.deps.setGateScore("c", "cov", 1);
    expect((await onA.result).success).toBe(true);
    expect((await onB.result).success).toBe(true);
    const keys = [...a!.announced, ...b!.announced].map((p) => p.idempotencyKey);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    await settled();
    expect(a!.signals.list({ coordinationId: "c", types: ["dependency_resolved"] }).signals).toHaveLength(1);
  });

  it("makes one wait of two starts of the same dependency racing on two replicas: the later joins the earlier", async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { replicas: [a, b], settled } = replicas(2, createFakeDependencyFeed(seed));
      const onA = a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
      const onB = b!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
      await settled();
      expect(a!.deps.openWaitCount("c")).toBe(1);
      expect(b!.deps.openWaitCount("c")).toBe(1);
      expect(a!.deps.pendingCount + b!.deps.pendingCount).toBe(1);
      expect(await b!.deps.setGateScore("c", "cov", 1)).toBe(1);
      const [ra, rb] = await Promise.all([onA.result, onB.result]);
      expect(ra).toEqual(rb);
      expect(ra.success).toBe(true);
      await settled();
      expect(a!.signals.list({ coordinationId: "c", types: ["dependency_resolved"] }).signals).toHaveLength(1);
    }
  });

  it("keeps calls on other replicas waiting when the owner's caller cancels: they start the wait again, as one wait", async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const { replicas: [a, b, c], settled } = replicas(3, createFakeDependencyFeed(seed));
      const onA = a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
      await settled();
      const onB = b!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
      const onC = c!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
      await settled();
      onA.abandon("cancelled");
      expect((await onA.result).results[0]?.message).toBe("Dependency 'g' cancelled");
      await settled();
      // B and C never left: their calls still wait, on one wait every replica knows.
      for (const x of [a, b, c]) expect(x!.deps.openWaitCount("c")).toBe(1);
      expect(a!.deps.pendingCount + b!.deps.pendingCount + c!.deps.pendingCount).toBe(1);
      await a!.deps.setGateScore("c", "cov", 1);
      const [rb, rc] = await Promise.all([onB.result, onC.result]);
      expect(rb.success).toBe(true);
      expect(rc).toEqual(rb);
      await settled();
      for (const x of [a, b, c]) {
        expect(x!.deps.status("c", "v", "g").status).toBe("resolved");
        expect(x!.deps.openWaitCount("c")).toBe(0);
      }
      expect(a!.signals.list({ coordinationId: "c", types: ["dependency_resolved"] }).signals).toHaveLength(1);
    }
  });

  it("fails a joined call with the coordination's drop, and ends the mirrors there", async () => {
    const { replicas: [a, b], settled } = replicas(2);
    a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
    await settled();
    const onB = b!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
    b!.store.delete("c", "deleted");
    const e = await onB.result.then(() => undefined, (x: unknown) => x);
    expect((e as ConsortError).reason).toBe("COORDINATION_DELETED");
    expect(b!.deps.openWaitCount("c")).toBe(0);
  });

  it("fails a call whose start could not be shared; a start that landed all the same ends failed on every replica", async () => {
    const { replicas: [a, b], settled } = replicas(2);
    a!.backend.refuse = { error: new ConsortError("unavailable", "no answer", { reason: "BACKEND_UNAVAILABLE" }), landed: true };
    const call = a!.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("g", "cov")] });
    const refused = await call.result.then(() => undefined, (e: unknown) => e);
    expect((refused as ConsortError).reason).toBe("BACKEND_UNAVAILABLE");
    a!.backend.refuse = undefined;
    await settled();
    for (const x of [a, b]) {
      expect(x!.deps.status("c", "v", "g").status).toBe("failed");
      expect(x!.deps.openWaitCount("c")).toBe(0);
    }
    expect(a!.deps.pendingCount).toBe(0);
  });

  it("brings a replica that comes later up to date in the feed's order (its load)", async () => {
    const feed = createFakeDependencyFeed();
    const { replicas: [a], replica, settled } = replicas(1, feed);
    await a!.deps.setGateScore("c", "security", 0.99);
    await a!.deps.setResourceAvailability("c", "gpu", true);
    const late = replica("late");
    await settled();
    const r = await late.deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [gate("s", "security"), resource("gpu", "gpu")] }).result;
    expect(r.results.map((x) => x.status)).toEqual(["resolved", "resolved"]);
    expect(late.backend.applied.slice(0, 2)).toEqual(["gate", "resource"]);
  });
});
