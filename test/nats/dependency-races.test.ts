import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { startTestServer, type TestServer } from "../api/harness.js";
import { useNatsServer } from "./fixture.js";

/**
 * Writes of one dependency key made at once on a replica on NATS: every one is applied or settled, none left
 * waiting (with one value kept per key, the second write removed the first before the watch delivered it, and the
 * first call hung until its deadline).
 */
const nats = useNatsServer();
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(["--backend", nats.url]);
});
afterAll(async () => {
  await s?.close();
});

describe("racing writes of one dependency key on NATS", () => {
  it("two identical ResolveDependencies at once (two clients) make one wait, and both calls get its result", async () => {
    for (let round = 0; round < 5; round++) {
      const coordinationId = `race-${round}`;
      const req = { coordinationId, agentId: "v", dependencies: [{ dependencyId: "d", target: { case: "agentCompletion" as const, value: { agentId: "gen" } } }] };
      const first = s.grpc.dependencies.resolveDependencies(req, { timeoutMs: 10_000 });
      const retry = s.connect.dependencies.resolveDependencies(req, { timeoutMs: 10_000 });
      for (let i = 0; i < 500 && s.app.dependencies.list({ coordinationId, statuses: ["in_progress"] }).records.length !== 1; i++) await new Promise((r) => setTimeout(r, 10));
      await s.grpc.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED, senderAgentId: "gen" });
      const [a, b] = await Promise.all([first, retry]);
      expect([a.success, b.success]).toEqual([true, true]);
      expect(s.app.dependencies.list({ coordinationId }).records.map((r) => r.status)).toEqual(["resolved"]);
    }
  });

  it("many SetQualityGateScore of one gate at once all answer, and the gate holds one of the scores", async () => {
    const coordinationId = "race-gate";
    const scores = Array.from({ length: 20 }, (_, i) => i / 20);
    const answers = await Promise.all(scores.map((score, i) => (i % 2 === 0 ? s.grpc : s.connect).dependencies.setQualityGateScore({ coordinationId, gateId: "g", score }, { timeoutMs: 10_000 })));
    expect(answers).toHaveLength(20);
    // A wait on a threshold every score but 0 passes is released at once: the gate holds a score.
    const r = await s.grpc.dependencies.resolveDependencies(
      { coordinationId, agentId: "w", dependencies: [{ dependencyId: "q", target: { case: "qualityGate", value: { gateId: "g", threshold: 0 } } }] },
      { timeoutMs: 10_000 },
    );
    expect(r.success).toBe(true);
  });
});
