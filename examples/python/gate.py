"""Common pattern 3, a quality-gate dependency, as two processes: test-gen waits until the gate "coverage_gate"
reaches 0.8; coverage reports a score of 0.85. Either may start first: the wait is checked against the gate's
current score when it registers, then woken by the score.

    python examples/python/gate.py test-gen|coverage --addr 127.0.0.1:50051 --coord ID
"""
from google.protobuf import duration_pb2

from common import WAIT_TIMEOUT_S, Agent, run
from consort.v1 import dependency_pb2 as dep_pb
from consort.v1 import signal_pb2 as sig_pb


def test_gen(a: Agent) -> None:
    a.say("Waiting for quality gate coverage_gate (threshold 0.80)...")
    a.resolve([dep_pb.Dependency(dependency_id="coverage_gate", timeout=duration_pb2.Duration(seconds=WAIT_TIMEOUT_S),
                                 quality_gate=dep_pb.QualityGateTarget(gate_id="coverage_gate", threshold=0.8))])
    a.say("Quality gate passed, starting test-gen")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_COMPLETED, {"agent_id": "test-gen", "quality_score": 0.9, "success": True})
    a.say("test-gen completed")
    a.dependencies.ClearDependencies(dep_pb.ClearDependenciesRequest(coordination_id=a.coord), timeout=10)
    a.signals.ClearSignals(sig_pb.ClearSignalsRequest(coordination_id=a.coord), timeout=10)
    a.say("Cleanup: dependencies and signals cleared")


def coverage(a: Agent) -> None:
    a.say("Measuring coverage...")
    a.dependencies.SetQualityGateScore(
        dep_pb.SetQualityGateScoreRequest(coordination_id=a.coord, gate_id="coverage_gate", score=0.85), timeout=10)
    a.say("coverage_gate score 0.85 recorded")


if __name__ == "__main__":
    run({"test-gen": test_gen, "coverage": coverage})
