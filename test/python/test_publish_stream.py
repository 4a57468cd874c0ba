"""PublishStream through the generated Python client: many signals over one call, one outcome each, in order."""
from __future__ import annotations

import grpc
from conftest import struct
from google.rpc import code_pb2, error_details_pb2

from consort.v1 import signal_pb2 as pb

STREAM_TIMEOUT = 30  # seconds, deadline of the whole call


def test_publish_stream_acknowledges_each_request_in_order_and_refuses_one_without_ending(stub, coordination_id):
    def requests():
        for i in range(1, 301):
            if i == 150:
                yield pb.PublishStreamRequest(publish=pb.PublishRequest(coordination_id=coordination_id))  # no type
            yield pb.PublishStreamRequest(
                publish=pb.PublishRequest(coordination_id=coordination_id, type=pb.SIGNAL_TYPE_INTER_AGENT_MESSAGE, data=struct({"i": i}))
            )

    outcomes = [o for response in stub.PublishStream(requests(), timeout=STREAM_TIMEOUT) for o in response.outcomes]
    assert len(outcomes) == 301
    acks = [o.ack for o in outcomes if o.WhichOneof("outcome") == "ack"]
    assert [a.sequence for a in acks] == list(range(1, 301))
    assert len({a.epoch for a in acks}) == 1
    refused = outcomes[149]
    assert refused.WhichOneof("outcome") == "error"
    assert refused.error.code == code_pb2.INVALID_ARGUMENT
    info = error_details_pb2.ErrorInfo()
    bad = error_details_pb2.BadRequest()
    assert refused.error.details[0].Unpack(info) and info.reason == "FIELD_INVALID"
    assert refused.error.details[1].Unpack(bad) and [v.field for v in bad.field_violations] == ["type"]
    last = stub.ListSignals(pb.ListSignalsRequest(coordination_id=coordination_id, page_size=1), timeout=5).signals[0]
    assert last.sequence == 300 and last.signal_id == acks[-1].signal_id


def test_publish_stream_is_idempotent_per_key_like_publish(stub, coordination_id):
    def requests():
        for _ in range(3):
            yield pb.PublishStreamRequest(
                publish=pb.PublishRequest(coordination_id=coordination_id, type=pb.SIGNAL_TYPE_AGENT_COMPLETED, idempotency_key="once")
            )

    acks = [o.ack for r in stub.PublishStream(requests(), timeout=STREAM_TIMEOUT) for o in r.outcomes]
    assert [(a.sequence, a.duplicate) for a in acks] == [(1, False), (1, True), (1, True)]
    assert len({a.signal_id for a in acks}) == 1
