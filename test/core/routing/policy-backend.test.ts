import { describe, expect, it } from "vitest";
import type { RouterInput } from "../../../src/core/routing/policy.js";
import type { PolicyRecord } from "../../../src/core/routing/policy-backend.js";
import { createRoutingEngine, type RoutingEngine } from "../../../src/core/routing/routing-engine.js";

/**
 * The routing engine with a shared policy backend (`PolicyBackend`): puts and deletes go through the backend and
 * take effect when it applies them (as every replica's does), in the order it applies them; validation, limits and
 * reads stay the engine's, synchronous.
 */

const errRule = { ruleId: "err", conditionKey: "error_count", operator: ">", conditionValue: 0, decision: "retry" };
const retryOnError: RouterInput = { strategy: "conditional", rules: [errRule] };

/** A backend shared by `engines`: each write is applied to every engine, the writer's last, after a turn. */
function sharedBy() {
  const engines: RoutingEngine[] = [];
  const written: PolicyRecord[] = [];
  const records = new Map<string, PolicyRecord>();
  const backend = {
    async put(record: PolicyRecord) {
      await Promise.resolve();
      const existing = records.get(record.policyId);
      const stored = { ...record, createdAt: existing?.createdAt ?? record.createdAt };
      records.set(record.policyId, stored);
      written.push(stored);
      for (const e of engines) e.applyPolicy(stored);
      return { created: existing === undefined };
    },
    async delete(policyId: string) {
      await Promise.resolve();
      records.delete(policyId);
      return engines.map((e) => e.applyDelete(policyId)).at(-1) ?? 0;
    },
  };
  return { engines, written, backend };
}

describe("routing engine with a shared policy backend", () => {
  it("puts through the backend: nothing stored before it applies, then on every engine, createdAt kept on replace", async () => {
    const shared = sharedBy();
    let clock = 1_000;
    const a = createRoutingEngine({ policyBackend: shared.backend, now: () => clock });
    const b = createRoutingEngine({ policyBackend: shared.backend, now: () => clock });
    shared.engines.push(a, b);
    const pending = a.putPolicy("p", [retryOnError]);
    expect(pending).toBeInstanceOf(Promise);
    expect(() => a.getPolicy("p")).toThrow(expect.objectContaining({ reason: "POLICY_NOT_FOUND" }));
    const first = await pending;
    expect(first.created).toBe(true);
    expect(b.getPolicy("p")).toEqual(first.policy);
    clock = 2_000;
    const second = await b.putPolicy("p", [retryOnError, { strategy: "priority" }]);
    expect(second).toMatchObject({ created: false, policy: { createdAt: 1_000, updatedAt: 2_000 } });
    expect(a.getPolicy("p")).toEqual(second.policy);
    expect(a.route({ policyId: "p", currentTask: "t", state: { error_count: 1 } }).decision).toBe("retry");
  });

  it("refuses an invalid put before writing, and deletes through the backend on every engine", async () => {
    const shared = sharedBy();
    const a = createRoutingEngine({ policyBackend: shared.backend });
    const b = createRoutingEngine({ policyBackend: shared.backend });
    shared.engines.push(a, b);
    expect(() => a.putPolicy("", [retryOnError])).toThrow(expect.objectContaining({ kind: "invalid" }));
    expect(() => a.deletePolicy("missing")).toThrow(expect.objectContaining({ reason: "POLICY_NOT_FOUND" }));
    expect(shared.written).toEqual([]);
    await a.putPolicy("p", [retryOnError]);
    b.route({ policyId: "p", currentTask: "t" });
    expect(await a.deletePolicy("p")).toBe(1); // b's history of it, the last engine applied
    expect(() => b.getPolicy("p")).toThrow(expect.objectContaining({ reason: "POLICY_NOT_FOUND" }));
    expect(b.stats("p").totalRoutings).toBe(0);
  });

  it("refuses a record from elsewhere that does not validate (an unknown strategy), the policy unchanged", () => {
    const e = createRoutingEngine();
    e.applyPolicy({ policyId: "p", routers: [retryOnError], createdAt: 5, updatedAt: 6 });
    expect(e.getPolicy("p")).toMatchObject({ createdAt: 5, updatedAt: 6 });
    expect(() => e.applyPolicy({ policyId: "p", routers: [{ strategy: "nope" } as unknown as RouterInput], createdAt: 5, updatedAt: 7 })).toThrow(expect.objectContaining({ kind: "invalid" }));
    expect(e.getPolicy("p").updatedAt).toBe(6);
  });
});
