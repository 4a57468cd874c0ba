"""Pytest fixtures for Consort's Python end-to-end tests: one built server per session, reached over native gRPC."""
from __future__ import annotations

import collections
import contextlib
import json
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Iterator

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_status import rpc_status

from consort.v1 import signal_pb2_grpc

REPO = pathlib.Path(__file__).resolve().parents[2]
MAIN_JS = REPO / "dist" / "src" / "main.js"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def _test_backend() -> str:
    """The suite's backend switch (test/test-backend.ts): CONSORT_TEST_BACKEND=nats, or memory when unset or empty."""
    value = os.environ.get("CONSORT_TEST_BACKEND", "")
    if value in ("", "memory"):
        return "memory"
    if value == "nats":
        return "nats"
    raise pytest.UsageError(f"CONSORT_TEST_BACKEND must be memory or nats, got {value!r}")


ON_NATS = _test_backend() == "nats"
"""Whether the switch puts the servers on NATS (for the few tests that state a documented difference)."""


@contextlib.contextmanager
def _test_backend_args() -> Iterator[list[str]]:
    """
    The extra options of one Consort server per CONSORT_TEST_BACKEND: none in memory; on NATS `--backend` to a
    throwaway `nats-server -js` of its own (127.0.0.1, a random port read from its ports file, a fresh store;
    NATS_SERVER names another executable), stopped after the Consort server, as test/nats/nats-server.ts does.
    """
    if _test_backend() == "memory":
        yield []
        return
    executable = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")
    tmp = tempfile.mkdtemp(prefix="consort-nats-")
    with open(os.path.join(tmp, "server.log"), "wb") as log:
        proc = subprocess.Popen(
            [executable, "-js", "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", tmp, "-sd", os.path.join(tmp, "store")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        ports_file = os.path.join(tmp, f"nats-server_{proc.pid}.ports")
        deadline = time.monotonic() + START_TIMEOUT_S
        url = None
        while url is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(tmp, "server.log"), errors="replace") as f:
                    pytest.fail(f"nats-server did not start (exit code {proc.returncode}):\n{f.read()[-4000:]}")
            try:
                with open(ports_file) as f:
                    url = json.load(f)["nats"][0]
            except (OSError, ValueError, KeyError, IndexError):
                time.sleep(0.02)
        yield ["--backend", url]
    finally:
        stop_server(proc)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Server:
    channel: grpc.Channel
    grpc_port: int
    http_port: int
    process: subprocess.Popen
    output: collections.deque  # the server's recent stdout lines, for failure messages

    def log_tail(self, n: int = 50) -> str:
        return "".join(list(self.output)[-n:])


def _drain(stream, output: collections.deque, lines: "queue.Queue[str | None]") -> None:
    """Reads the server's stdout until EOF so the pipe never fills; hands each line to the starter too."""
    for line in iter(stream.readline, ""):
        output.append(line)
        lines.put(line)
    lines.put(None)


@contextlib.contextmanager
def start_server(*extra_args: str) -> Iterator[Server]:
    """
    Starts `node dist/src/main.js` on free ports, waits for "consort listening", stops it with SIGTERM. Under
    CONSORT_TEST_BACKEND=nats its signals are on a throwaway nats-server of its own, stopped after it.
    """
    if not MAIN_JS.exists():
        pytest.fail(f"{MAIN_JS} is missing: run `npm run build` first")
    with _test_backend_args() as backend_args:
        with _start_server(*backend_args, *extra_args) as srv:
            yield srv


@contextlib.contextmanager
def _start_server(*extra_args: str) -> Iterator[Server]:
    proc = subprocess.Popen(
        ["node", str(MAIN_JS), "--grpc-port", "0", "--http-port", "0", "--log-level", "info", *extra_args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    output: collections.deque = collections.deque(maxlen=2000)
    lines: "queue.Queue[str | None]" = queue.Queue()
    threading.Thread(target=_drain, args=(proc.stdout, output, lines), daemon=True).start()

    ports = None
    deadline = time.monotonic() + START_TIMEOUT_S
    while ports is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:  # the server exited
            break
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("msg") == "consort listening":
            ports = (int(entry["grpcPort"]), int(entry["httpPort"]))
    if ports is None:
        stop_server(proc)
        pytest.fail(
            f"server did not report 'consort listening' within {START_TIMEOUT_S:.0f} s "
            f"(exit code {proc.returncode}); output:\n{''.join(output)}"
        )

    channel = grpc.insecure_channel(f"127.0.0.1:{ports[0]}")
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield Server(channel, ports[0], ports[1], proc, output)
    finally:
        channel.close()
        stop_server(proc)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One server for the whole session; tests stay independent through their own coordination ids."""
    with start_server() as srv:
        yield srv


@pytest.fixture
def own_server() -> Iterator[Server]:
    """A server of the test's own, for tests that stop it."""
    with start_server() as srv:
        yield srv


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the server has not exited within STOP_TIMEOUT_S."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture
def stub(server: Server) -> signal_pb2_grpc.SignalServiceStub:
    return signal_pb2_grpc.SignalServiceStub(server.channel)


@pytest.fixture
def coordination_id() -> str:
    """A fresh coordination per test, so tests never see each other's signals."""
    return f"py-{uuid.uuid4()}"


def status_detail(error: grpc.RpcError, message_type):
    """The first detail of `message_type` in the call's google.rpc.Status (grpc-status-details-bin)."""
    status = rpc_status.from_call(error)
    assert status is not None, f"no grpc-status-details-bin on {error.code()} {error.details()}"
    assert status.code == error.code().value[0]
    for detail in status.details:
        if detail.Is(message_type.DESCRIPTOR):
            message = message_type()
            detail.Unpack(message)
            return message
    pytest.fail(f"no {message_type.DESCRIPTOR.full_name} in the details: {status.details}")


def struct(values: dict | None) -> struct_pb2.Struct | None:
    """A google.protobuf.Struct of `values`; None stays None (the field is left unset)."""
    if values is None:
        return None
    s = struct_pb2.Struct()
    s.update(values)
    return s


class StreamReader:
    """A server stream read by a background thread into a queue, so a test can wait on it with a timeout."""

    _END = object()
    name = "stream"

    def __init__(self, call):
        self.call = call
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self._queue.put(response)
        except grpc.RpcError as error:
            self._queue.put(error)
            return
        self._queue.put(self._END)

    def next(self, timeout: float):
        """The next message; fails on timeout, on a stream error and on the end of the stream."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no {self.name} message within {timeout} s")
        if isinstance(item, grpc.RpcError):
            pytest.fail(f"{self.name} failed: {item.code()} {item.details()}")
        if item is self._END:
            pytest.fail(f"{self.name} stream ended")
        return item
