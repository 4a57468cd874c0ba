"""Consort's publish → subscriber latency with the Python client: grpcio and the generated consort.v1 package.

The probe of bench/go (probe.go) in Python: one process, so both timestamps come from one clock
(time.perf_counter_ns). A subscriber on its own channel reads its Subscribe stream in a thread; once it has read
`subscribed`, the publisher, on another channel, publishes the ~200-byte payload of bench/go/payload.go at a fixed
rate: rate/2 signals of warm-up, then --count measured. Each send time is taken just before the publish, each
receipt time when the subscriber's thread gets the stream message. Modes, as bench/go's:

  --mode signal (default): unary Publish, each waiting for its acknowledgement before the next (main.go);
  --mode signal-stream: one PublishStream call, requests sent at the rate without waiting for their outcomes,
    which a thread of their own reads (each must be an ack; stream.go). grpcio's synchronous API sends a stream's
    requests from an iterator it consumes in a thread of its own: here the send time is taken just before the
    request is handed to that iterator.

Prints one JSON line: {"p50", "p90", "p99", "p999", "max"} in milliseconds from the sorted samples (the sample at
index int(q * (n - 1)), as probe.go), "count" (measured) and "warmup". Exits 1 with a message on stderr if a call
fails, a publish is refused or the run takes longer than --timeout seconds.

Usage: .venv/bin/python bench/python/latency.py --addr 127.0.0.1:50051 [--mode signal-stream] [--rate 1000]
[--count 5000] [--timeout 100]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import sys
import threading
import time

import grpc
from google.protobuf import struct_pb2

from consort.v1 import signal_pb2 as pb
from consort.v1 import signal_pb2_grpc

# The data of every latency and fan-out case (bench/go/payload.go), carried as the Struct of a PublishRequest.
PAYLOAD = {
    "agent_id": "model-generator",
    "result_summary": "Generated 5 Pydantic models",
    "quality_score": 0.95,
    "execution_time_ms": 1234.5,
    "success": True,
}


def fail(message: object) -> None:
    """Prints `message` and ends the process with status 1, from any thread."""
    print(f"bench/python: {message}", file=sys.stderr, flush=True)
    os._exit(1)


def channel(addr: str) -> grpc.Channel:
    """A channel with a connection of its own (grpcio shares connections between channels of equal arguments)."""
    return grpc.insecure_channel(addr, options=[("grpc.use_local_subchannel_pool", 1)])


class Probe:
    """Send and receipt times of messages 1..total, numbered in publish order; the first `warmup` are not sampled."""

    def __init__(self, rate: int, count: int):
        self.rate, self.warmup = rate, rate // 2
        self.total = self.warmup + count
        self.sent_at: dict[int, int] = {}  # written by the publisher before the publish, read after receipt
        self.received = 0  # the subscriber's thread only
        self.samples: list[int] = []  # nanoseconds
        self.done = threading.Event()

    def got(self, i: int, now: int) -> None:
        """Records the receipt of message i at `now`. Called from one thread, in order of receipt."""
        t = self.sent_at.get(i)
        if t is not None and i > self.warmup:
            self.samples.append(now - t)
        self.received += 1
        if self.received == self.total:
            self.done.set()

    def run(self, publish, deadline: float) -> None:
        """Calls publish(i) for i = 1..total at the probe's rate, then waits until every message was received."""
        interval = 1_000_000_000 // self.rate
        start = time.perf_counter_ns()
        for i in range(1, self.total + 1):
            wait = start + (i - 1) * interval - time.perf_counter_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
            self.sent_at[i] = time.perf_counter_ns()
            publish(i)
        if not self.done.wait(max(0.0, deadline - time.monotonic())):
            fail(f"timed out waiting for signals ({self.received} of {self.total} received)")

    def print(self) -> None:
        s = sorted(self.samples)
        pct = lambda q: s[int(q / 100 * (len(s) - 1))] / 1e6  # noqa: E731
        print(json.dumps({"p50": pct(50), "p90": pct(90), "p99": pct(99), "p999": pct(99.9), "max": s[-1] / 1e6,
                          "count": len(s), "warmup": self.warmup}), flush=True)


def subscribed_probe(sub: signal_pb2_grpc.SignalServiceStub, coord: str, rate: int, count: int, timeout: float):
    """Subscribes to `coord` (registered before it returns) and feeds every signal received to a new probe, from a
    thread of its own, until the probe has them all. Returns the probe and the call (to cancel at the end)."""
    call = sub.Subscribe(pb.SubscribeRequest(coordination_id=coord, agent_id="bench"), timeout=timeout)
    try:
        first = next(call)
    except grpc.RpcError as e:
        fail(f"Subscribe: {e.code()} {e.details()}")
    if not first.HasField("subscribed"):
        fail(f"Subscribe: the first message is not `subscribed`: {first}")
    probe = Probe(rate, count)

    def receive() -> None:
        try:
            while probe.received < probe.total:
                response = next(call)
                now = time.perf_counter_ns()
                for s in response.signals:
                    probe.got(s.sequence, now)
        except (grpc.RpcError, StopIteration) as e:
            fail(f"Subscribe ended after {probe.received} of {probe.total} signals: {e}")

    threading.Thread(target=receive, name="subscriber", daemon=True).start()
    return probe, call


def request(coord: str, data: struct_pb2.Struct) -> pb.PublishRequest:
    return pb.PublishRequest(coordination_id=coord, type=pb.SIGNAL_TYPE_INTER_AGENT_MESSAGE, sender_agent_id="bench", data=data)


@contextlib.contextmanager
def probed(addr: str, name: str, rate: int, count: int, timeout: float):
    """A publisher stub and a subscribed probe on their own channels, a fresh coordination and the payload."""
    with channel(addr) as pub_channel, channel(addr) as sub_channel:
        pub, sub = signal_pb2_grpc.SignalServiceStub(pub_channel), signal_pb2_grpc.SignalServiceStub(sub_channel)
        coord = f"{name}-{time.time_ns()}"
        probe, call = subscribed_probe(sub, coord, rate, count, timeout)
        data = struct_pb2.Struct()
        data.update(PAYLOAD)
        yield pub, coord, data, probe, call


def signal_latency(addr: str, rate: int, count: int, timeout: float, deadline: float) -> None:
    """Unary Publish, each waiting for its acknowledgement; publisher and subscriber on their own channels."""
    with probed(addr, "latency-python", rate, count, timeout) as (pub, coord, data, probe, call):

        def publish(_: int) -> None:
            try:
                pub.Publish(request(coord, data), timeout=timeout)
            except grpc.RpcError as e:
                fail(f"Publish: {e.code()} {e.details()}")

        probe.run(publish, deadline)
        call.cancel()
        probe.print()


def signal_stream_latency(addr: str, rate: int, count: int, timeout: float, deadline: float) -> None:
    """The signals over one PublishStream call, sent without waiting for their outcomes (bench/go/stream.go)."""
    with probed(addr, "latency-python-stream", rate, count, timeout) as (pub, coord, data, probe, call):
        outbox: queue.SimpleQueue = queue.SimpleQueue()
        end = object()

        def requests():
            while (r := outbox.get()) is not end:
                yield r

        responses = pub.PublishStream(requests(), timeout=timeout)

        def read_outcomes() -> None:
            try:
                for response in responses:
                    for o in response.outcomes:
                        if o.WhichOneof("outcome") != "ack":
                            fail(f"publish refused: {o.error}")
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.CANCELLED:  # the call ends with the run
                    fail(f"PublishStream: {e.code()} {e.details()}")

        threading.Thread(target=read_outcomes, name="outcomes", daemon=True).start()
        probe.run(lambda _: outbox.put(pb.PublishStreamRequest(publish=request(coord, data))), deadline)
        outbox.put(end)
        call.cancel()
        probe.print()


def main() -> None:
    parser = argparse.ArgumentParser(description="Consort publish → subscriber latency, Python client.")
    parser.add_argument("--addr", default="127.0.0.1:50051", help="Consort's gRPC address")
    parser.add_argument("--mode", choices=["signal", "signal-stream"], default="signal")
    parser.add_argument("--rate", type=int, default=1000, help="signals per second")
    parser.add_argument("--count", type=int, default=5000, help="signals measured after a warm-up of rate/2")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before the run ends with an error")
    args = parser.parse_args()
    if args.rate <= 0 or args.count <= 0:
        parser.error("--rate and --count must be positive")
    watchdog = threading.Timer(args.timeout, fail, [f"--mode {args.mode} did not finish in {args.timeout:g} s"])
    watchdog.daemon = True
    watchdog.start()
    deadline = time.monotonic() + args.timeout
    run = signal_latency if args.mode == "signal" else signal_stream_latency
    run(args.addr, args.rate, args.count, args.timeout, deadline)


if __name__ == "__main__":
    main()
