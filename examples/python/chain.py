"""Common pattern 1, a signal-driven workflow, as three processes: model-gen -> validator-gen -> test-gen. Each
agent subscribes to the completion of the one before it, works, and announces its own completion.

    python examples/python/chain.py model-gen|validator-gen|test-gen --addr 127.0.0.1:50051 --coord ID
"""
from common import Agent, run
from consort.v1 import signal_pb2 as sig_pb

UPSTREAM = {"validator-gen": "model-gen", "test-gen": "validator-gen"}
QUALITY = {"model-gen": 0.95, "validator-gen": 0.92, "test-gen": 0.9}


def agent(a: Agent) -> None:
    upstream = UPSTREAM.get(a.agent_id)
    if upstream:
        signal = a.wait_for_completion_of(upstream)
        a.say(f"{upstream} completed with quality {signal.data['quality_score']:.2f}, starting {a.agent_id}")
    else:
        a.say(f"Starting {a.agent_id}...")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_COMPLETED,
              {"agent_id": a.agent_id, "quality_score": QUALITY[a.agent_id], "success": True})
    a.say(f"{a.agent_id} completed")
    if a.agent_id == "test-gen":  # the end of the chain cleans up
        a.signals.ClearSignals(sig_pb.ClearSignalsRequest(coordination_id=a.coord), timeout=10)
        a.say("Chain finished: signals cleared")


if __name__ == "__main__":
    run({name: agent for name in QUALITY})
