// Common pattern 1, a signal-driven workflow, as three processes: model-gen -> validator-gen -> test-gen. Each agent
// subscribes to the completion of the one before it, works, and announces its own completion.
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { CALL_TIMEOUT_MS, type Agent } from "./agent.js";
import type { Scenario } from "./scenario.js";

const upstream: Record<string, string> = { "validator-gen": "model-gen", "test-gen": "validator-gen" };
const quality: Record<string, number> = { "model-gen": 0.95, "validator-gen": 0.92, "test-gen": 0.9 };

async function agent(a: Agent): Promise<void> {
  const up = upstream[a.id];
  if (up) {
    const signal = await a.waitForCompletionOf(up);
    a.say(`${up} completed with quality ${Number(signal.data?.["quality_score"]).toFixed(2)}, starting ${a.id}`);
  } else {
    a.say(`Starting ${a.id}...`);
  }
  await a.publish(SignalType.AGENT_COMPLETED, { agent_id: a.id, quality_score: quality[a.id] ?? 0, success: true });
  a.say(`${a.id} completed`);
  if (a.id === "test-gen") { // the end of the chain cleans up
    await a.signals.clearSignals({ coordinationId: a.coord }, { timeoutMs: CALL_TIMEOUT_MS });
    a.say("Chain finished: signals cleared");
  }
}

export const signalChain: Scenario = {
  name: "chain",
  title: "Pattern 1, signal-driven workflow: model-gen -> validator-gen -> test-gen",
  agents: ["test-gen", "validator-gen", "model-gen"],
  roles: { "model-gen": agent, "validator-gen": agent, "test-gen": agent },
};
