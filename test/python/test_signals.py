"""End-to-end tests of Consort's SignalService through the generated Python client (consort.v1) over native gRPC.

Every call has a deadline and every wait on a stream is bounded, so a server bug fails a test instead of hanging it.
"""
from __future__ import annotations

import queue
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

import grpc
import pytest
from conftest import StreamReader, status_detail, struct
from google.protobuf import duration_pb2, json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from consort.v1 import coordination_pb2, coordination_pb2_grpc
from consort.v1 import signal_pb2 as pb
from consort.v1 import signal_pb2_grpc

CALL_TIMEOUT = 5  # seconds, every unary call
STREAM_TIMEOUT = 30  # seconds, deadline of every Subscribe stream
WAIT = 10  # seconds, longest wait for one expected stream message

COMPLETED = pb.SIGNAL_TYPE_AGENT_COMPLETED
STAGE = pb.SIGNAL_TYPE_STAGE_COMPLETED
MESSAGE = pb.SIGNAL_TYPE_INTER_AGENT_MESSAGE


def publish(stub, coordination_id: str, type_=COMPLETED, data: dict | None = None, **fields) -> pb.PublishResponse:
    request = pb.PublishRequest(coordination_id=coordination_id, type=type_, data=struct(data), **fields)
    return stub.Publish(request, timeout=CALL_TIMEOUT)


class Subscription(StreamReader):
    """A Subscribe stream (see StreamReader)."""

    name = "Subscribe"

    def __init__(self, stub, request: pb.SubscribeRequest):
        super().__init__(stub.Subscribe(request, timeout=STREAM_TIMEOUT))

    def next(self, timeout: float = WAIT) -> pb.SubscribeResponse:
        return super().next(timeout)

    def error(self, timeout: float = WAIT) -> grpc.RpcError:
        """Skips responses until the stream fails, and returns the error."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"Subscribe did not fail within {timeout} s")
            if isinstance(item, grpc.RpcError):
                return item
            if item is self._END:
                pytest.fail("Subscribe stream ended without an error")

    def subscribed(self) -> pb.SubscribedEvent:
        first = self.next()
        assert first.HasField("subscribed"), f"first Subscribe message is not `subscribed`: {first}"
        assert not first.signals and not first.HasField("heartbeat")
        return first.subscribed

    def signals(self, count: int, timeout: float = WAIT) -> list[pb.Signal]:
        """The next `count` signals (across batches); fails if they don't all arrive within `timeout`."""
        received: list[pb.Signal] = []
        deadline = time.monotonic() + timeout
        while len(received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"got {len(received)} of {count} signals within {timeout} s: "
                            f"{[s.sequence for s in received]}")
            response = self.next(timeout=remaining)
            if response.HasField("heartbeat"):
                continue
            assert not response.HasField("subscribed"), "a second `subscribed` message"
            assert response.signals, "a Subscribe message with neither signals, subscribed nor heartbeat"
            received.extend(response.signals)
        return received

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(timeout=5)


@pytest.fixture
def subscribe(stub):
    opened: list[Subscription] = []

    def open_(coordination_id: str, agent_id: str = "observer", **fields) -> Subscription:
        sub = Subscription(stub, pb.SubscribeRequest(coordination_id=coordination_id, agent_id=agent_id, **fields))
        opened.append(sub)
        return sub

    yield open_
    for sub in opened:
        sub.close()


def sequences(signals: Iterable[pb.Signal]) -> list[int]:
    return [s.sequence for s in signals]


def list_all(stub, coordination_id: str) -> list[pb.Signal]:
    response = stub.ListSignals(pb.ListSignalsRequest(coordination_id=coordination_id, page_size=1000),
                                timeout=CALL_TIMEOUT)
    assert not response.next_page_token
    return list(response.signals)


# (a) ---------------------------------------------------------------------------------------------------------------

def test_replay_then_live_without_gap_or_duplicate(stub, subscribe, coordination_id):
    for i in range(50):
        assert publish(stub, coordination_id, data={"i": i}).signal.sequence == i + 1

    sub = subscribe(coordination_id, after_sequence=0)
    event = sub.subscribed()
    assert event.head_sequence == 50
    assert event.oldest_sequence == 1
    for i in range(50, 100):
        assert publish(stub, coordination_id, data={"i": i}).signal.sequence == i + 1

    received = sub.signals(100)
    assert sequences(received) == list(range(1, 101))
    assert [s.data["i"] for s in received] == list(range(100))
    assert all(s.coordination_id == coordination_id for s in received)
    # A marker published last must be the very next signal: nothing was delivered twice after 100 either.
    publish(stub, coordination_id, type_=STAGE)
    assert sequences(sub.signals(1)) == [101]


def test_replay_races_concurrent_publishers(stub, subscribe, coordination_id):
    """Publishes racing the registration end up either replayed or live, each exactly once."""
    for _ in range(50):
        publish(stub, coordination_id)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(publish, stub, coordination_id) for _ in range(50)]
        sub = subscribe(coordination_id, after_sequence=0)
        published = sorted(f.result().signal.sequence for f in futures)
    assert published == list(range(51, 101))
    event = sub.subscribed()
    assert 50 <= event.head_sequence <= 100
    assert sequences(sub.signals(100)) == list(range(1, 101))
    publish(stub, coordination_id, type_=STAGE)
    assert sequences(sub.signals(1)) == [101]


# (b) ---------------------------------------------------------------------------------------------------------------

def test_live_subscription_and_recipient_filter(stub, subscribe, coordination_id):
    publish(stub, coordination_id)  # before the subscription: not delivered without after_sequence
    sub = subscribe(coordination_id, agent_id="agent-b")
    event = sub.subscribed()
    assert event.subscription_id
    assert event.head_sequence == 1

    broadcast = publish(stub, coordination_id, type_=MESSAGE, sender_agent_id="agent-a",
                        data={"text": "to everyone"}).signal
    got = sub.signals(1)[0]
    assert got.sequence == broadcast.sequence == 2
    assert got.signal_id == broadcast.signal_id
    assert got.sender_agent_id == "agent-a"
    assert got.type == MESSAGE
    assert got.data["text"] == "to everyone"
    assert got.created_at.seconds > 0

    # Delivery is in sequence order, so if the signal for agent-x were delivered it would come first.
    publish(stub, coordination_id, type_=MESSAGE, sender_agent_id="agent-a", recipient_agent_ids=["agent-x"])
    mine = publish(stub, coordination_id, type_=MESSAGE, sender_agent_id="agent-a",
                   recipient_agent_ids=["agent-x", "agent-b"]).signal
    got = sub.signals(1)[0]
    assert got.sequence == mine.sequence == 4
    assert list(got.recipient_agent_ids) == ["agent-x", "agent-b"]

    # An agent receives its own broadcasts.
    own = publish(stub, coordination_id, type_=MESSAGE, sender_agent_id="agent-b").signal
    assert sequences(sub.signals(1)) == [own.sequence]


def test_observer_receives_every_recipients_signals_and_is_no_agent(server, stub, subscribe, coordination_id):
    sub = subscribe(coordination_id, agent_id="dashboard", observer=True)
    sub.subscribed()
    directed = publish(stub, coordination_id, type_=MESSAGE, sender_agent_id="agent-a", recipient_agent_ids=["agent-b"]).signal
    got = sub.signals(1)[0]
    assert got.sequence == directed.sequence
    assert list(got.recipient_agent_ids) == ["agent-b"]
    coordinations = coordination_pb2_grpc.CoordinationServiceStub(server.channel)
    got = coordinations.GetCoordination(coordination_pb2.GetCoordinationRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert [a.agent_id for a in got.agents] == ["agent-a"]  # the sender; the observer is not an agent
    assert got.coordination.open_subscriptions == 1


def test_type_and_sender_filters(stub, subscribe, coordination_id):
    by_type = subscribe(coordination_id, types=[STAGE])
    by_sender = subscribe(coordination_id, sender_agent_ids=["planner"])
    by_type.subscribed()
    by_sender.subscribed()

    publish(stub, coordination_id, type_=COMPLETED, sender_agent_id="worker")  # 1: neither
    publish(stub, coordination_id, type_=COMPLETED, sender_agent_id="planner")  # 2: by_sender
    publish(stub, coordination_id, type_=STAGE, sender_agent_id="worker")  # 3: by_type
    publish(stub, coordination_id, type_=STAGE, sender_agent_id="planner")  # 4: both

    got = by_type.signals(2)
    assert sequences(got) == [3, 4]
    assert all(s.type == STAGE for s in got)
    assert sequences(by_sender.signals(2)) == [2, 4]


def test_heartbeat(stub, subscribe, coordination_id):
    publish(stub, coordination_id)
    sub = subscribe(coordination_id, heartbeat_interval=duration_pb2.Duration(nanos=200_000_000))
    sub.subscribed()
    beat = sub.next(timeout=5)
    assert beat.HasField("heartbeat"), beat
    assert beat.heartbeat.head_sequence == 1
    assert beat.heartbeat.sent_at.seconds > 0


# (c) ---------------------------------------------------------------------------------------------------------------

def test_resume_after_sequence(stub, subscribe, coordination_id):
    for _ in range(10):
        publish(stub, coordination_id)

    sub = subscribe(coordination_id, after_sequence=6)
    assert sub.subscribed().head_sequence == 10
    assert sequences(sub.signals(4)) == [7, 8, 9, 10]
    publish(stub, coordination_id)
    assert sequences(sub.signals(1)) == [11]

    # Resuming at the head replays nothing and continues live.
    at_head = subscribe(coordination_id, after_sequence=11)
    at_head.subscribed()
    publish(stub, coordination_id)
    assert sequences(at_head.signals(1)) == [12]
    assert sequences(sub.signals(1)) == [12]


def test_resume_beyond_head_is_out_of_range(stub, subscribe, coordination_id):
    for _ in range(3):
        publish(stub, coordination_id)
    error = subscribe(coordination_id, after_sequence=4).error()
    assert error.code() == grpc.StatusCode.OUT_OF_RANGE
    info = status_detail(error, error_details_pb2.ErrorInfo)
    assert info.reason == "SEQUENCE_AHEAD"
    assert info.metadata["head_sequence"] == "3"


# (d) ---------------------------------------------------------------------------------------------------------------

def invalid_argument(call, *args) -> tuple[grpc.RpcError, error_details_pb2.BadRequest]:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, timeout=CALL_TIMEOUT)
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()} {error.details()}"
    return error, status_detail(error, error_details_pb2.BadRequest)


def test_invalid_publish_is_rejected_and_stores_nothing(stub, coordination_id):
    error, bad = invalid_argument(stub.Publish, pb.PublishRequest(coordination_id="", type=COMPLETED))
    assert error.details().startswith("coordination_id")
    assert [v.field for v in bad.field_violations] == ["coordination_id"]
    assert bad.field_violations[0].description

    error, bad = invalid_argument(stub.Publish, pb.PublishRequest(coordination_id=coordination_id))
    assert error.details().startswith("type")
    assert [v.field for v in bad.field_violations] == ["type"]

    error, bad = invalid_argument(stub.Publish, pb.PublishRequest(
        coordination_id=coordination_id, type=COMPLETED, recipient_agent_ids=["ok", ""]))
    assert error.details().startswith("recipient_agent_ids[1]")
    assert [v.field for v in bad.field_violations] == ["recipient_agent_ids[1]"]

    error, bad = invalid_argument(stub.Publish, pb.PublishRequest(coordination_id="x" * 101, type=COMPLETED))
    assert [v.field for v in bad.field_violations] == ["coordination_id"]

    assert list_all(stub, coordination_id) == []
    metrics = stub.GetSignalMetrics(pb.GetSignalMetricsRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert metrics.total_signals_sent == 0
    assert metrics.head_sequence == 0
    # The first valid publish still gets sequence 1: nothing was consumed by the rejected ones.
    assert publish(stub, coordination_id).signal.sequence == 1


def test_data_at_the_json_depth_limit_reads_back_here_and_one_level_more_is_refused(stub, coordination_id):
    """32 levels (the server's limit, below the ~40 generated Python clients can read) arrive intact; 33 are
    refused naming the field, and nothing is stored."""
    def nest(levels: int) -> dict:
        value: dict = {"leaf": True}
        for _ in range(levels - 1):
            value = {"k": value}
        return value

    publish(stub, coordination_id, data=nest(32))
    [signal] = list_all(stub, coordination_id)
    assert json_format.MessageToDict(signal.data) == nest(32)
    error, bad = invalid_argument(stub.Publish, pb.PublishRequest(coordination_id=coordination_id, type=COMPLETED,
                                                                   data=struct(nest(33))))
    assert [v.field for v in bad.field_violations] == ["data"]
    assert len(list_all(stub, coordination_id)) == 1


def test_invalid_subscribe_and_list(stub, subscribe, coordination_id):
    error = subscribe("", agent_id="a").error()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("coordination_id")
    bad = status_detail(error, error_details_pb2.BadRequest)
    assert [v.field for v in bad.field_violations] == ["coordination_id"]

    error = subscribe(coordination_id, types=[pb.SIGNAL_TYPE_UNSPECIFIED]).error()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert status_detail(error, error_details_pb2.BadRequest).field_violations[0].field.startswith("types")

    _, bad = invalid_argument(stub.ListSignals, pb.ListSignalsRequest(coordination_id=coordination_id, page_size=-1))
    assert [v.field for v in bad.field_violations] == ["page_size"]


# (e) ---------------------------------------------------------------------------------------------------------------

def test_clear_then_resume_from_old_sequence_is_out_of_range(stub, subscribe, coordination_id):
    for _ in range(3):
        publish(stub, coordination_id)
    cleared = stub.ClearSignals(pb.ClearSignalsRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert cleared.cleared_signals == 3
    assert cleared.head_sequence == 3
    assert list_all(stub, coordination_id) == []

    error = subscribe(coordination_id, after_sequence=1).error()
    assert error.code() == grpc.StatusCode.OUT_OF_RANGE, f"{error.code()} {error.details()}"
    info = status_detail(error, error_details_pb2.ErrorInfo)
    assert info.reason == "HISTORY_TRIMMED"
    assert info.domain
    # The history is empty and numbering continues from the head (3), so the oldest sequence to come is 4.
    assert info.metadata["oldest_sequence"] == "4"

    # Numbering continues from the head; a subscriber resuming at the head gets only new signals.
    sub = subscribe(coordination_id, after_sequence=3)
    sub.subscribed()
    assert publish(stub, coordination_id).signal.sequence == 4
    assert sequences(sub.signals(1)) == [4]


# (f) ---------------------------------------------------------------------------------------------------------------

def test_list_newest_first_with_pagination(stub, coordination_id):
    types = [COMPLETED, STAGE, COMPLETED, COMPLETED, STAGE, COMPLETED, STAGE]
    for i, type_ in enumerate(types):
        publish(stub, coordination_id, type_=type_, sender_agent_id=f"agent-{i % 2}", data={"i": i})

    pages, token = [], ""
    for _ in range(10):  # bounded: a broken token can't loop forever
        page = stub.ListSignals(pb.ListSignalsRequest(coordination_id=coordination_id, page_size=3, page_token=token),
                                timeout=CALL_TIMEOUT)
        pages.append(sequences(page.signals))
        token = page.next_page_token
        if not token:
            break
    assert pages == [[7, 6, 5], [4, 3, 2], [1]]

    only_stage = stub.ListSignals(pb.ListSignalsRequest(coordination_id=coordination_id, types=[STAGE]),
                                  timeout=CALL_TIMEOUT)
    assert sequences(only_stage.signals) == [7, 5, 2]
    by_data = stub.ListSignals(pb.ListSignalsRequest(coordination_id=coordination_id, data_equals=struct({"i": 3})),
                               timeout=CALL_TIMEOUT)
    assert sequences(by_data.signals) == [4]
    by_sender = stub.ListSignals(pb.ListSignalsRequest(coordination_id=coordination_id, sender_agent_id="agent-1"),
                                 timeout=CALL_TIMEOUT)
    assert sequences(by_sender.signals) == [6, 4, 2]


def test_metrics_count_sent_by_type_and_received(stub, subscribe, coordination_id):
    get = lambda: stub.GetSignalMetrics(pb.GetSignalMetricsRequest(coordination_id=coordination_id),
                                        timeout=CALL_TIMEOUT)
    zero = get()
    assert zero.total_signals_sent == 0 and zero.total_signals_received == 0 and not zero.signals_by_type

    for type_ in [COMPLETED, COMPLETED, COMPLETED, STAGE]:
        publish(stub, coordination_id, type_=type_)
    metrics = get()
    assert metrics.total_signals_sent == 4
    assert dict(metrics.signals_by_type) == {"agent_completed": 3, "stage_completed": 1}
    assert metrics.head_sequence == 4 and metrics.oldest_sequence == 1
    assert metrics.total_signals_received == 0

    sub = subscribe(coordination_id, after_sequence=0)
    sub.subscribed()
    assert sequences(sub.signals(4)) == [1, 2, 3, 4]
    publish(stub, coordination_id, type_=COMPLETED)
    assert sequences(sub.signals(1)) == [5]

    deadline = time.monotonic() + 5  # the counter is updated as the stream is written: poll briefly
    while (metrics := get()).total_signals_received < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metrics.total_signals_received == 5
    assert metrics.total_signals_sent == 5
    assert metrics.signals_by_type["agent_completed"] == 4
    assert metrics.active_subscriptions == 1
    assert metrics.max_propagation_ms >= metrics.average_propagation_ms >= 0

    sub.close()
    deadline = time.monotonic() + 5
    while (metrics := get()).active_subscriptions != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metrics.active_subscriptions == 0


# (g) ---------------------------------------------------------------------------------------------------------------

def test_idempotency_key(stub, subscribe, coordination_id):
    sub = subscribe(coordination_id)
    sub.subscribed()
    first = publish(stub, coordination_id, data={"attempt": 1}, idempotency_key="complete-model-generator")
    assert not first.duplicate
    assert first.signal.idempotency_key == "complete-model-generator"

    retry = publish(stub, coordination_id, data={"attempt": 2}, idempotency_key="complete-model-generator")
    assert retry.duplicate
    assert retry.signal.sequence == first.signal.sequence == 1
    assert retry.signal.signal_id == first.signal.signal_id
    assert retry.signal.data["attempt"] == 1  # the original is returned, not the retry's payload

    history = list_all(stub, coordination_id)
    assert sequences(history) == [1]
    metrics = stub.GetSignalMetrics(pb.GetSignalMetricsRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert metrics.total_signals_sent == 1

    # Subscribers saw the signal once; the next one (another key) is next in line.
    other = publish(stub, coordination_id, idempotency_key="another-key")
    assert not other.duplicate and other.signal.sequence == 2
    assert sequences(sub.signals(2)) == [1, 2]


# Shutdown ----------------------------------------------------------------------------------------------------------

def test_sigterm_ends_open_streams_with_unavailable(own_server, coordination_id):
    stub = signal_pb2_grpc.SignalServiceStub(own_server.channel)
    sub = Subscription(stub, pb.SubscribeRequest(coordination_id=coordination_id, agent_id="a"))
    try:
        sub.subscribed()
        publish(stub, coordination_id)
        publish(stub, coordination_id)
        assert sequences(sub.signals(2)) == [1, 2]

        own_server.process.terminate()  # SIGTERM
        error = sub.error()
        assert error.code() == grpc.StatusCode.UNAVAILABLE, f"{error.code()} {error.details()}"
        metadata = {}
        status = rpc_status.from_call(error)
        for detail in status.details if status else []:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                metadata = dict(info.metadata)
        assert metadata.get("last_delivered_sequence") == "2", status
        assert own_server.process.wait(timeout=10) == 0, own_server.log_tail()
    finally:
        sub.close()


# (h) Responses fit the client: a replay of large signals arrives in batches a Python client (4 MiB) can read,
#     pages of large signals are cut short with a token, and every error names its condition.

def _largest_numbers_struct(limit: int) -> dict:
    """{"nums": [0..9, 0..9, …]} as long as its protobuf encoding stays within `limit` bytes (~5.5× its JSON)."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if struct({"nums": [i % 10 for i in range(mid)]}).ByteSize() <= limit:
            lo = mid
        else:
            hi = mid - 1
    return {"nums": [i % 10 for i in range(lo)]}


def test_replay_of_large_signals_fits_a_python_client(stub, subscribe, coordination_id):
    data = _largest_numbers_struct(64 * 1024)
    for _ in range(100):
        publish(stub, coordination_id, data=data)
    sub = subscribe(coordination_id, after_sequence=0)
    assert sub.subscribed().head_sequence == 100
    received = sub.signals(100, timeout=60)
    assert sequences(received) == list(range(1, 101))
    assert list(received[-1].data["nums"])[:12] == [float(i % 10) for i in range(12)]

    seen, token, pages = [], "", 0
    while True:
        page = stub.ListSignals(pb.ListSignalsRequest(coordination_id=coordination_id, page_token=token),
                                timeout=CALL_TIMEOUT)
        seen.extend(s.sequence for s in page.signals)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == list(range(100, 0, -1))
    assert pages > 1


def test_errors_name_their_condition(stub, coordination_id):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Publish(pb.PublishRequest(coordination_id="", type=pb.SIGNAL_TYPE_UNSPECIFIED), timeout=CALL_TIMEOUT)
    error = caught.value
    assert status_detail(error, error_details_pb2.ErrorInfo).reason == "FIELD_INVALID"
    fields = [v.field for v in status_detail(error, error_details_pb2.BadRequest).field_violations]
    assert fields == ["type", "coordination_id"]
    assert "SIGNAL_TYPE_AGENT_INITIALIZED" in error.details()
