import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { startSharedPolicies } from "../../src/backend/nats/routing-policies.js";
import { ConsortError } from "../../src/core/errors.js";
import { createRoutingEngine } from "../../src/core/routing/routing-engine.js";
import type { PolicyRecord } from "../../src/core/routing/policy-backend.js";
import { useNatsServer } from "./fixture.js";

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
});
