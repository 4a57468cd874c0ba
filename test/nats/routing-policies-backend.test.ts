import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { startSharedPolicies } from "../../src/backend/nats/routing-policies.js";
import { ConsortError } from "../../src/core/errors.js";
import { createRoutingEngine } from "../../src/core/routing/routing-engine.js";
import type { PolicyRecord } from "../../src/core/routing/policy-backend.js";
import { useNatsServer } from "./fixture.js";
import { startNatsServer } from "./nats-server.js";

/** The shared routing policies (`routing-policies.ts`) on their own, against a real nats-server. */

const nats = useNatsServer();

describe("the shared routing policies", () => {
  it("a delete that could not be written fails unavailable, and closing afterwards rejects nothing left unawaited", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const nc = await connect({ servers: nats.url });
      const target = createRoutingEngine();
      const shared = await startSharedPolicies({ connection: nc, target, bucket: "POLICIES_DELETE", storage: "memory" });
      const record: PolicyRecord = { policyId: "p", routers: [{ strategy: "conditional", rules: [] } as never], createdAt: 1, updatedAt: 1 };
      await shared.put(record);
      await nc.close();
      const refused = await shared.delete("p").then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(ConsortError);
      expect((refused as ConsortError).reason).toBe("BACKEND_UNAVAILABLE");
      await shared.close();
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("refuses a policy whose stored record exceeds the server's max_payload before sending it, POLICY_TOO_LARGE", async () => {
    const small = await startNatsServer({ config: "max_payload: 65536" });
    const nc = await connect({ servers: small.url });
    try {
      const target = createRoutingEngine();
      const shared = await startSharedPolicies({ connection: nc, target, bucket: "POLICIES_SIZE", storage: "memory" });
      const rule = (i: number) => ({ ruleId: `rule-${i}`.padEnd(90, "x"), conditionKey: "k".repeat(200), operator: ">", conditionValue: i, decision: "retry" });
      const big: PolicyRecord = { policyId: "big", routers: [{ strategy: "conditional", rules: Array.from({ length: 500 }, (_, i) => rule(i)) }], createdAt: 1, updatedAt: 1 };
      const refused = await shared.put(big).then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(ConsortError);
      expect(refused).toMatchObject({ kind: "exhausted", reason: "POLICY_TOO_LARGE", metadata: { limit_bytes: String(65536 - 4096) } });
      expect(() => target.getPolicy("big")).toThrow(expect.objectContaining({ reason: "POLICY_NOT_FOUND" }));
      // One that fits is stored as ever.
      expect(await shared.put({ ...big, policyId: "fits", routers: [{ strategy: "conditional", rules: [rule(1)] }] })).toEqual({ created: true });
      await shared.close();
    } finally {
      await nc.close();
      await small.stop();
    }
  });
});
