"""Common pattern 2, parallel execution, as four processes: contract_1, contract_2 and contract_3 each get their
context and work at the same time; the coordinator distributes the contexts and waits for all three.

    python examples/python/parallel.py coordinator|contract_1|contract_2|contract_3 --addr 127.0.0.1:50051 --coord ID
"""
from common import Agent, completion, describe, run, struct
from consort.v1 import context_pb2 as ctx_pb
from consort.v1 import dependency_pb2 as dep_pb
from consort.v1 import signal_pb2 as sig_pb

CONTRACTS = ["contract_1", "contract_2", "contract_3"]


def coordinator(a: Agent) -> None:
    a.say("Distributing context to contract_1, contract_2 and contract_3")
    a.contexts.DistributeContext(ctx_pb.DistributeContextRequest(
        coordination_id=a.coord, session_id="session-parallel", assignments=[
            ctx_pb.AgentAssignment(agent_id=c, objective=f"Process contract {c[-1]}", tasks=["process_contract"],
                                   input_data=struct({"contract_path": f"./{c}.yaml"}))
            for c in CONTRACTS]), timeout=10)
    a.say("Waiting for contract_1, contract_2 and contract_3")
    a.resolve([completion(c) for c in CONTRACTS])  # all three awaited together
    a.say("All 3 contracts processed")
    a.contexts.ClearContexts(ctx_pb.ClearContextsRequest(coordination_id=a.coord), timeout=10)
    a.dependencies.ClearDependencies(dep_pb.ClearDependenciesRequest(coordination_id=a.coord), timeout=10)
    a.signals.ClearSignals(sig_pb.ClearSignalsRequest(coordination_id=a.coord), timeout=10)
    a.say("Cleanup: contexts, dependencies and signals cleared")


def contract(a: Agent) -> None:
    a.say("Waiting for context...")
    context = a.wait_for_context()
    a.say(describe(context))
    a.say(f"Starting {a.agent_id}...")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_INITIALIZED, {"agent_id": a.agent_id, "ready": True})
    for task in context.agent_assignment.tasks:
        a.say(f"{task} {context.agent_assignment.input_data['contract_path']}: done")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_COMPLETED, {"agent_id": a.agent_id, "quality_score": 0.9, "success": True})
    a.say(f"{a.agent_id} completed")


if __name__ == "__main__":
    run({"coordinator": coordinator, **{c: contract for c in CONTRACTS}})
