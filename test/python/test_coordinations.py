"""CoordinationService through the generated Python client: list, get and delete a coordination; the delete ends a
pending ResolveDependencies call ABORTED (COORDINATION_DELETED) and the id starts over in a new epoch."""
from __future__ import annotations

import threading
import time

import grpc
import pytest
from conftest import status_detail
from google.rpc import error_details_pb2

from consort.v1 import coordination_pb2 as pb
from consort.v1 import coordination_pb2_grpc, dependency_pb2, dependency_pb2_grpc, signal_pb2, signal_pb2_grpc


@pytest.fixture
def coordinations(server) -> coordination_pb2_grpc.CoordinationServiceStub:
    return coordination_pb2_grpc.CoordinationServiceStub(server.channel)


def publish(signals, coordination_id: str, sender: str) -> signal_pb2.Signal:
    req = signal_pb2.PublishRequest(coordination_id=coordination_id, type=signal_pb2.SIGNAL_TYPE_INTER_AGENT_MESSAGE, sender_agent_id=sender)
    return signals.Publish(req, timeout=5).signal


def test_list_get_and_delete_a_coordination(server, coordinations, coordination_id):
    signals = signal_pb2_grpc.SignalServiceStub(server.channel)
    deps = dependency_pb2_grpc.DependencyServiceStub(server.channel)
    first = publish(signals, coordination_id, "py-agent")
    publish(signals, coordination_id, "py-agent")

    # Listed, in pages of 1 followed to the end (other tests' coordinations share the server).
    listed, token = {}, ""
    while True:
        page = coordinations.ListCoordinations(pb.ListCoordinationsRequest(page_size=1, page_token=token), timeout=5)
        assert len(page.coordinations) <= 1
        listed.update({c.coordination_id: c for c in page.coordinations})
        token = page.next_page_token
        if not token:
            break
    assert listed[coordination_id].head_sequence == 2 and listed[coordination_id].epoch == first.epoch

    # A wait on a gate nobody scores, on a thread: the delete must end it.
    ended: dict = {}

    def wait() -> None:
        dep = dependency_pb2.Dependency(dependency_id="d", quality_gate=dependency_pb2.QualityGateTarget(gate_id="g"))
        try:
            deps.ResolveDependencies(dependency_pb2.ResolveDependenciesRequest(coordination_id=coordination_id, agent_id="waiter", dependencies=[dep]), timeout=10)
        except grpc.RpcError as error:
            ended["error"] = error

    waiter = threading.Thread(target=wait)
    waiter.start()
    deadline = time.monotonic() + 5
    while coordinations.GetCoordination(pb.GetCoordinationRequest(coordination_id=coordination_id), timeout=5).coordination.open_waits == 0:
        assert time.monotonic() < deadline, "the wait never showed"
        time.sleep(0.01)

    got = coordinations.GetCoordination(pb.GetCoordinationRequest(coordination_id=coordination_id), timeout=5)
    agents = {a.agent_id: a for a in got.agents}
    assert got.agent_count == 2
    assert agents["py-agent"].last_sent_sequence == 2 and not agents["py-agent"].has_context
    assert agents["waiter"].open_wait_count == 1 and agents["waiter"].open_waits[0].dependency.dependency_id == "d"

    deleted = coordinations.DeleteCoordination(pb.DeleteCoordinationRequest(coordination_id=coordination_id), timeout=5)
    assert deleted.deleted and deleted.coordination.open_waits == 1
    waiter.join(timeout=5)
    error = ended["error"]
    assert error.code() == grpc.StatusCode.ABORTED
    assert status_detail(error, error_details_pb2.ErrorInfo).reason == "COORDINATION_DELETED"

    with pytest.raises(grpc.RpcError) as missing:
        coordinations.GetCoordination(pb.GetCoordinationRequest(coordination_id=coordination_id), timeout=5)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    info = status_detail(missing.value, error_details_pb2.ErrorInfo)
    assert info.reason == "COORDINATION_NOT_FOUND" and info.metadata["coordination_id"] == coordination_id
    assert not coordinations.DeleteCoordination(pb.DeleteCoordinationRequest(coordination_id=coordination_id, allow_missing=True), timeout=5).deleted

    again = publish(signals, coordination_id, "py-agent")
    assert again.sequence == 1 and again.epoch != first.epoch


def test_watch_sees_a_coordination_appear_and_its_removal(server, coordinations, coordination_id):
    """WatchCoordinations: after the snapshot, a publish shows the new coordination, DeleteCoordination its removal
    (DELETED). Every read is bounded by the call's deadline."""
    signals = signal_pb2_grpc.SignalServiceStub(server.channel)
    watch = coordinations.WatchCoordinations(pb.WatchCoordinationsRequest(), timeout=20)
    try:
        for response in watch:
            assert response.watch_epoch
            if response.caught_up:
                break

        def until(kind: str):
            for response in watch:
                for change in response.changes:
                    if change.WhichOneof("change") == kind and getattr(change, kind).coordination_id == coordination_id:
                        return change
            raise AssertionError(f"the watch ended before the {kind} change of {coordination_id}")

        publish(signals, coordination_id, "py-agent")
        created = until("updated")
        assert created.updated.head_sequence == 1 and created.revision > 0

        coordinations.DeleteCoordination(pb.DeleteCoordinationRequest(coordination_id=coordination_id), timeout=5)
        removed = until("removed")
        assert removed.removed.reason == pb.COORDINATION_REMOVAL_REASON_DELETED
        assert removed.revision > created.revision
    finally:
        watch.cancel()
