"""CoordinationService through the generated Python client: list, get and delete a coordination; the delete ends a
pending ResolveDependencies call ABORTED (COORDINATION_DELETED) and the id starts over in a new epoch. Idle expiry
(TTL 1 s) drops a coordination with its routing results, but not while a Subscribe stream holds it."""
from __future__ import annotations

import threading
import time
import uuid

import grpc
import pytest
from conftest import start_server, status_detail
from google.rpc import error_details_pb2

from consort.v1 import coordination_pb2 as pb
from consort.v1 import (coordination_pb2_grpc, dependency_pb2, dependency_pb2_grpc, routing_pb2, routing_pb2_grpc,
                        signal_pb2, signal_pb2_grpc)


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


# Idle expiry -------------------------------------------------------------------------------------------------------

TTL_S = 1.0  # --idle-coordination-ttl-ms 1000, the shortest: the sweeper runs every second


@pytest.fixture(scope="module")
def expiring():
    """A server of this module's own whose coordinations expire after one idle second."""
    with start_server("--idle-coordination-ttl-ms", str(int(TTL_S * 1000))) as srv:
        yield srv


def exists(coordinations, coordination_id: str) -> bool:
    """Whether GetCoordination finds it; NOT_FOUND must carry COORDINATION_NOT_FOUND naming the id."""
    try:
        coordinations.GetCoordination(pb.GetCoordinationRequest(coordination_id=coordination_id), timeout=5)
        return True
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND, f"{error.code()} {error.details()}"
        info = status_detail(error, error_details_pb2.ErrorInfo)
        assert info.reason == "COORDINATION_NOT_FOUND" and info.metadata["coordination_id"] == coordination_id
        return False


def wait_expired(coordinations, coordination_id: str, within_s: float = 6 * TTL_S) -> None:
    """Polls until the coordination is gone (a sweep comes within two TTLs of idleness; the rest is slack)."""
    deadline = time.monotonic() + within_s
    while exists(coordinations, coordination_id):
        assert time.monotonic() < deadline, f"{coordination_id} did not expire within {within_s} s"
        time.sleep(0.05)


def listed_ids(coordinations) -> set[str]:
    ids, token = set(), ""
    while True:
        page = coordinations.ListCoordinations(pb.ListCoordinationsRequest(page_token=token), timeout=5)
        ids.update(c.coordination_id for c in page.coordinations)
        token = page.next_page_token
        if not token:
            return ids


def test_idle_coordination_expires_with_its_routing_results(expiring, coordination_id):
    coordinations = coordination_pb2_grpc.CoordinationServiceStub(expiring.channel)
    signals = signal_pb2_grpc.SignalServiceStub(expiring.channel)
    routing = routing_pb2_grpc.RoutingServiceStub(expiring.channel)
    policy = routing_pb2.RoutingPolicy(policy_id=f"py-expiry-{uuid.uuid4()}")
    first = publish(signals, coordination_id, "py-agent")
    publish(signals, coordination_id, "py-agent")
    routing.Route(routing_pb2.RouteRequest(policy=policy, current_task="scoped", coordination_id=coordination_id), timeout=5)
    routing.Route(routing_pb2.RouteRequest(policy=policy, current_task="unscoped"), timeout=5)
    assert coordination_id in listed_ids(coordinations)
    stats = routing.GetRoutingStats(routing_pb2.GetRoutingStatsRequest(policy_id=policy.policy_id), timeout=5).stats
    assert stats.total_routings == 2

    wait_expired(coordinations, coordination_id)
    assert coordination_id not in listed_ids(coordinations)
    history = routing.ListRoutingHistory(routing_pb2.ListRoutingHistoryRequest(policy_id=policy.policy_id), timeout=5)
    assert [r.current_task for r in history.results] == ["unscoped"]
    assert routing.GetRoutingStats(routing_pb2.GetRoutingStatsRequest(policy_id=policy.policy_id), timeout=5).stats == stats

    again = publish(signals, coordination_id, "py-agent")
    assert again.sequence == 1 and again.epoch != first.epoch


def test_open_subscription_keeps_a_coordination_from_expiring(expiring, coordination_id):
    coordinations = coordination_pb2_grpc.CoordinationServiceStub(expiring.channel)
    signals = signal_pb2_grpc.SignalServiceStub(expiring.channel)
    publish(signals, coordination_id, "py-agent")
    stream = signals.Subscribe(signal_pb2.SubscribeRequest(coordination_id=coordination_id, agent_id="reader"), timeout=30)
    try:
        assert next(stream).HasField("subscribed")  # registered: the stream holds the coordination
        # A control coordination used after the stream opened: once it has expired, a sweep has passed after the
        # subscribed coordination's TTL too.
        control = f"{coordination_id}-control"
        publish(signals, control, "py-agent")
        wait_expired(coordinations, control)
        got = coordinations.GetCoordination(pb.GetCoordinationRequest(coordination_id=coordination_id), timeout=5)
        assert got.coordination.open_subscriptions == 1
    finally:
        stream.cancel()
    wait_expired(coordinations, coordination_id)


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
