"""A high-rate publisher as two processes: worker streams STEPS progress signals (inter_agent_message, data.step
counting from 1) over its Publisher, then announces agent_completed with one unary Publish; monitor follows the
worker's signals and checks that every step arrives, in order, before the completion.

    python examples/python/progress.py worker|monitor --addr 127.0.0.1:50051 --coord ID
"""
from common import CALL_TIMEOUT_S, PUBLISH_WINDOW, WAIT_TIMEOUT_S, Agent, run
from consort.v1 import signal_pb2 as sig_pb

STEPS = 500


def worker(a: Agent) -> None:
    a.say(f"Streaming {STEPS} progress signals over PublishStream (at most {PUBLISH_WINDOW} unacknowledged)...")
    with a.publisher() as p:
        for step in range(1, STEPS + 1):
            p.publish(sig_pb.SIGNAL_TYPE_INTER_AGENT_MESSAGE, {"step": step, "total": STEPS})
    a.say(f"{STEPS} progress signals acknowledged, the last at sequence {p.last_ack.sequence}")
    a.publish(sig_pb.SIGNAL_TYPE_AGENT_COMPLETED,  # a one-off signal: unary Publish
              {"agent_id": a.agent_id, "steps": STEPS, "success": True})
    a.say("worker completed")


def monitor(a: Agent) -> None:
    """Subscribes from after_sequence 0, so the steps published before it registered are replayed first."""
    call = a.signals.Subscribe(
        sig_pb.SubscribeRequest(coordination_id=a.coord, agent_id=a.agent_id,
                                types=[sig_pb.SIGNAL_TYPE_INTER_AGENT_MESSAGE, sig_pb.SIGNAL_TYPE_AGENT_COMPLETED],
                                sender_agent_ids=["worker"], after_sequence=0),
        timeout=WAIT_TIMEOUT_S)
    try:
        steps = count_steps(a, call)
    finally:
        call.cancel()  # ends the subscription
    a.say(f"Received {steps} progress signals in order, then worker's completion")
    a.signals.ClearSignals(sig_pb.ClearSignalsRequest(coordination_id=a.coord), timeout=CALL_TIMEOUT_S)
    a.say("Cleanup: signals cleared")


def count_steps(a: Agent, messages) -> int:
    """The number of progress steps received before the worker's completion; fails on a step out of order."""
    steps = 0
    for message in messages:
        if message.HasField("subscribed"):
            a.say("Subscribed, following worker's progress")
        for signal in message.signals:
            if signal.type == sig_pb.SIGNAL_TYPE_AGENT_COMPLETED:
                if int(signal.data["steps"]) != steps:
                    raise RuntimeError(f"worker completed after {int(signal.data['steps'])} steps, {steps} received")
                return steps
            if int(signal.data["step"]) != steps + 1:
                raise RuntimeError(f"progress step {int(signal.data['step'])} after step {steps} "
                                   f"(sequence {signal.sequence})")
            steps += 1
    raise RuntimeError("Subscribe ended before worker completed")


if __name__ == "__main__":
    run({"worker": worker, "monitor": monitor})
