"""The quick start's Complete Example as three processes: model_gen -> validator_gen, set up and cleaned up by a
coordinator. Any start order works: agents watch for their context, waits are checked against current state.

    python examples/python/complete.py coordinator|model_gen|validator_gen --addr 127.0.0.1:50051 --coord ID
"""
from google.protobuf import struct_pb2

from common import Agent, completion, describe, run, struct
from consort.v1 import context_pb2 as ctx_pb
from consort.v1 import dependency_pb2 as dep_pb
from consort.v1 import routing_pb2 as routing_pb
from consort.v1 import signal_pb2 as sig_pb

# What comes after validation: retry on errors, else continue with the tests once the quality is high enough.
RULES = [
    routing_pb.ConditionalRule(rule_id="error_handling", name="Retry on Error", condition_key="error_count",
                               operator=routing_pb.CONDITION_OPERATOR_GREATER_THAN,
                               condition_value=struct_pb2.Value(number_value=0),
                               decision=routing_pb.ROUTING_DECISION_RETRY, priority=90),
    routing_pb.ConditionalRule(rule_id="quality_met", name="Quality met", condition_key="quality_score",
                               operator=routing_pb.CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL,
                               condition_value=struct_pb2.Value(number_value=0.9),
                               decision=routing_pb.ROUTING_DECISION_CONTINUE, next_task="generate_tests"),
]


def coordinator(a: Agent) -> None:
    policy_id = a.coord  # policies are server-wide: one per run, like the coordination
    router = routing_pb.Router(conditional=routing_pb.ConditionalRouter(rules=RULES))
    a.routing.PutRoutingPolicy(routing_pb.PutRoutingPolicyRequest(
        policy=routing_pb.RoutingPolicy(policy_id=policy_id, routers=[router])), timeout=10)
    a.say("Distributing context to model_gen and validator_gen")
    a.contexts.DistributeContext(ctx_pb.DistributeContextRequest(
        coordination_id=a.coord, session_id="session-456", assignments=[
            ctx_pb.AgentAssignment(agent_id="model_gen", objective="Generate models",
                                   tasks=["parse_contract", "generate_models"],
                                   input_data=struct({"contract_path": "./contract.yaml"})),
            ctx_pb.AgentAssignment(agent_id="validator_gen", objective="Generate validators",
                                   tasks=["generate_validators"], dependencies=["model_gen"],  # waits for model_gen
                                   input_data=struct({"routing_policy": policy_id})),
        ]), timeout=10)
    a.say("Waiting for model_gen and validator_gen to complete")
    a.resolve([completion("model_gen"), completion("validator_gen")])
    a.say("Workflow complete")
    if not a.contexts.ClearContexts(ctx_pb.ClearContextsRequest(coordination_id=a.coord), timeout=10).cleared:
        raise RuntimeError("ClearContexts found no contexts")
    a.dependencies.ClearDependencies(dep_pb.ClearDependenciesRequest(coordination_id=a.coord), timeout=10)
    a.signals.ClearSignals(sig_pb.ClearSignalsRequest(coordination_id=a.coord), timeout=10)
    a.routing.DeleteRoutingPolicy(routing_pb.DeleteRoutingPolicyRequest(policy_id=policy_id), timeout=10)
    a.say("Cleanup: contexts, dependencies, signals and routing policy cleared")


def model_gen(a: Agent) -> None:
    a.say("Waiting for context...")
    context = a.wait_for_context()
    a.say(describe(context))
    a.say("Starting model_gen...")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_INITIALIZED, {"agent_id": "model_gen", "ready": True})
    for task in context.agent_assignment.tasks:  # the work
        a.say(f"{task}: done")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_COMPLETED, {"agent_id": "model_gen", "quality_score": 0.95, "success": True})
    a.say("model_gen completed")


def validator_gen(a: Agent) -> None:
    a.say("Waiting for context...")
    context = a.wait_for_context()
    a.say(describe(context))
    a.say("Starting validator_gen (waiting for dependencies)...")
    # A completion wait per agent the assignment depends on, named like the original's "model_gen_complete".
    a.resolve([completion(agent, f"{agent}_complete") for agent in context.agent_assignment.dependencies])
    a.say("Dependencies resolved, starting validator_gen")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_INITIALIZED, {"agent_id": "validator_gen", "ready": True})
    for task in context.agent_assignment.tasks:
        a.say(f"{task}: done")
    result = a.routing.Route(routing_pb.RouteRequest(
        policy_id=context.agent_assignment.input_data["routing_policy"], current_task="generate_validators",
        state=struct({"completed_tasks": ["parse_contract", "generate_models", "generate_validators"],
                      "error_count": 0, "quality_score": 0.92})), timeout=10).result
    decision = routing_pb.RoutingDecision.Name(result.decision).removeprefix("ROUTING_DECISION_").lower()
    a.say(f"Next step: {decision} with {result.next_task} ({result.reasoning})")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_COMPLETED,
              {"agent_id": "validator_gen", "quality_score": 0.92, "success": True})
    a.say("validator_gen completed")


if __name__ == "__main__":
    run({"coordinator": coordinator, "model_gen": model_gen, "validator_gen": validator_gen})
