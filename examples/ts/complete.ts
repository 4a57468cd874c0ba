// The quick start's Complete Example as three processes: model_gen -> validator_gen, set up and cleaned up by a
// coordinator. Any start order works: agents watch for their context, waits are checked against current state.
import { fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { ConditionOperator, RoutingDecision, type ConditionalRuleSchema } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { CALL_TIMEOUT_MS, completion, describe, type Agent } from "./agent.js";
import type { Scenario } from "./scenario.js";

const call = { timeoutMs: CALL_TIMEOUT_MS };

// What comes after validation: retry on errors, else continue with the tests once the quality is high enough.
const rules: MessageInitShape<typeof ConditionalRuleSchema>[] = [
  { ruleId: "error_handling", name: "Retry on Error", conditionKey: "error_count", operator: ConditionOperator.GREATER_THAN,
    conditionValue: fromJson(ValueSchema, 0), decision: RoutingDecision.RETRY, priority: 90 },
  { ruleId: "quality_met", name: "Quality met", conditionKey: "quality_score", operator: ConditionOperator.GREATER_THAN_OR_EQUAL,
    conditionValue: fromJson(ValueSchema, 0.9), decision: RoutingDecision.CONTINUE, nextTask: "generate_tests" },
];

async function coordinator(a: Agent): Promise<void> {
  const policyId = a.coord; // policies are server-wide: one per run, like the coordination
  await a.routing.putRoutingPolicy({ policy: { policyId, routers: [{ kind: { case: "conditional", value: { rules } } }] } }, call);
  a.say("Distributing context to model_gen and validator_gen");
  await a.contexts.distributeContext({
    coordinationId: a.coord,
    sessionId: "session-456",
    assignments: [
      { agentId: "model_gen", objective: "Generate models", tasks: ["parse_contract", "generate_models"],
        inputData: { contract_path: "./contract.yaml" } },
      { agentId: "validator_gen", objective: "Generate validators", tasks: ["generate_validators"],
        dependencies: ["model_gen"], // waits for model_gen
        inputData: { routing_policy: policyId } },
    ],
  }, call);
  a.say("Waiting for model_gen and validator_gen to complete");
  await a.resolve([completion("model_gen"), completion("validator_gen")]);
  a.say("Workflow complete");
  const { cleared } = await a.contexts.clearContexts({ coordinationId: a.coord }, call);
  if (!cleared) throw new Error("ClearContexts found no contexts");
  await a.dependencies.clearDependencies({ coordinationId: a.coord }, call);
  await a.signals.clearSignals({ coordinationId: a.coord }, call);
  await a.routing.deleteRoutingPolicy({ policyId }, call);
  a.say("Cleanup: contexts, dependencies, signals and routing policy cleared");
}

async function modelGen(a: Agent): Promise<void> {
  a.say("Waiting for context...");
  const context = await a.waitForContext();
  a.say(describe(context));
  a.say("Starting model_gen...");
  await a.publish(SignalType.AGENT_INITIALIZED, { agent_id: "model_gen", ready: true });
  for (const task of context.agentAssignment?.tasks ?? []) a.say(`${task}: done`); // the work
  await a.publish(SignalType.AGENT_COMPLETED, { agent_id: "model_gen", quality_score: 0.95, success: true });
  a.say("model_gen completed");
}

async function validatorGen(a: Agent): Promise<void> {
  a.say("Waiting for context...");
  const context = await a.waitForContext();
  const assignment = context.agentAssignment;
  a.say(describe(context));
  a.say("Starting validator_gen (waiting for dependencies)...");
  // A completion wait per agent the assignment depends on, named like the original's "model_gen_complete".
  await a.resolve((assignment?.dependencies ?? []).map((agent) => completion(agent, `${agent}_complete`)));
  a.say("Dependencies resolved, starting validator_gen");
  await a.publish(SignalType.AGENT_INITIALIZED, { agent_id: "validator_gen", ready: true });
  for (const task of assignment?.tasks ?? []) a.say(`${task}: done`);
  const { result } = await a.routing.route({
    policySource: { case: "policyId", value: String(assignment?.inputData?.["routing_policy"]) },
    currentTask: "generate_validators",
    state: { completed_tasks: ["parse_contract", "generate_models", "generate_validators"], error_count: 0, quality_score: 0.92 },
  }, call);
  const decision = RoutingDecision[result?.decision ?? RoutingDecision.UNSPECIFIED].toLowerCase();
  a.say(`Next step: ${decision} with ${result?.nextTask} (${result?.reasoning})`);
  await a.publish(SignalType.AGENT_COMPLETED, { agent_id: "validator_gen", quality_score: 0.92, success: true });
  a.say("validator_gen completed");
}

export const completeExample: Scenario = {
  name: "complete",
  title: "Complete Example: model_gen -> validator_gen",
  agents: ["validator_gen", "model_gen", "coordinator"],
  roles: { coordinator, model_gen: modelGen, validator_gen: validatorGen },
};
