// Common pattern 2, parallel execution, as four processes: contract_1, contract_2 and contract_3 each get their
// context and work at the same time; the coordinator distributes the contexts and waits for all three.
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { CALL_TIMEOUT_MS, completion, describe, type Agent } from "./agent.js";
import type { Scenario } from "./scenario.js";

const call = { timeoutMs: CALL_TIMEOUT_MS };
const contracts = ["contract_1", "contract_2", "contract_3"];

async function coordinator(a: Agent): Promise<void> {
  a.say("Distributing context to contract_1, contract_2 and contract_3");
  await a.contexts.distributeContext({
    coordinationId: a.coord,
    sessionId: "session-parallel",
    assignments: contracts.map((c, i) => ({
      agentId: c, objective: `Process contract ${i + 1}`, tasks: ["process_contract"], inputData: { contract_path: `./${c}.yaml` },
    })),
  }, call);
  a.say("Waiting for contract_1, contract_2 and contract_3");
  await a.resolve(contracts.map((c) => completion(c))); // all three awaited together
  a.say("All 3 contracts processed");
  await a.contexts.clearContexts({ coordinationId: a.coord }, call);
  await a.dependencies.clearDependencies({ coordinationId: a.coord }, call);
  await a.signals.clearSignals({ coordinationId: a.coord }, call);
  a.say("Cleanup: contexts, dependencies and signals cleared");
}

async function contract(a: Agent): Promise<void> {
  a.say("Waiting for context...");
  const context = await a.waitForContext();
  a.say(describe(context));
  a.say(`Starting ${a.id}...`);
  await a.publish(SignalType.AGENT_INITIALIZED, { agent_id: a.id, ready: true });
  const path = String(context.agentAssignment?.inputData?.["contract_path"]);
  for (const task of context.agentAssignment?.tasks ?? []) a.say(`${task} ${path}: done`);
  await a.publish(SignalType.AGENT_COMPLETED, { agent_id: a.id, quality_score: 0.9, success: true });
  a.say(`${a.id} completed`);
}

export const parallelExecution: Scenario = {
  name: "parallel",
  title: "Pattern 2, parallel execution: contract_1..3 joined by the coordinator",
  agents: ["coordinator", ...contracts],
  roles: { coordinator, ...Object.fromEntries(contracts.map((c) => [c, contract])) },
};
