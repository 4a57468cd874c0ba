// Common pattern 3, a quality-gate dependency, as two processes: test-gen waits until the gate "coverage_gate"
// reaches 0.8; coverage reports a score of 0.85. Either may start first: the wait is checked against the gate's
// current score when it registers, then woken by the score.
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { CALL_TIMEOUT_MS, dependency, type Agent } from "./agent.js";
import type { Scenario } from "./scenario.js";

const call = { timeoutMs: CALL_TIMEOUT_MS };

async function testGen(a: Agent): Promise<void> {
  a.say("Waiting for quality gate coverage_gate (threshold 0.80)...");
  await a.resolve([
    dependency("coverage_gate", { case: "qualityGate", value: { gateId: "coverage_gate", threshold: 0.8 } }),
  ]);
  a.say("Quality gate passed, starting test-gen");
  await a.publish(SignalType.AGENT_COMPLETED, { agent_id: "test-gen", quality_score: 0.9, success: true });
  a.say("test-gen completed");
  await a.dependencies.clearDependencies({ coordinationId: a.coord }, call);
  await a.signals.clearSignals({ coordinationId: a.coord }, call);
  a.say("Cleanup: dependencies and signals cleared");
}

async function coverage(a: Agent): Promise<void> {
  a.say("Measuring coverage...");
  await a.dependencies.setQualityGateScore({ coordinationId: a.coord, gateId: "coverage_gate", score: 0.85 }, call);
  a.say("coverage_gate score 0.85 recorded");
}

export const qualityGate: Scenario = {
  name: "gate",
  title: "Pattern 3, quality gate: test-gen waits for coverage_gate >= 0.8",
  agents: ["test-gen", "coverage"],
  roles: { "test-gen": testGen, coverage },
};
