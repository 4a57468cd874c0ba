"""What every Python example agent shares: its command line, one channel to Consort, and the calls agents repeat.

Every agent is one process: `python <scenario>.py <role> --addr HOST:PORT --coord COORDINATION_ID`. It prints
what it does, one line at a time, and exits non-zero when anything fails. Every call has a deadline, so an
example never hangs.
"""
from __future__ import annotations

import argparse
import queue
import sys
import threading
from typing import Callable, Iterable

import grpc
from google.protobuf import duration_pb2, struct_pb2
from google.rpc import code_pb2, status_pb2

from consort.v1 import context_pb2 as ctx_pb
from consort.v1 import context_pb2_grpc as ctx_rpc
from consort.v1 import dependency_pb2 as dep_pb
from consort.v1 import dependency_pb2_grpc as dep_rpc
from consort.v1 import routing_pb2_grpc as routing_rpc
from consort.v1 import signal_pb2 as sig_pb
from consort.v1 import signal_pb2_grpc as sig_rpc

CALL_TIMEOUT_S = 10  # unary calls
WAIT_TIMEOUT_S = 30  # a dependency's own timeout, and how long a stream may stay open
# ResolveDependencies' deadline is longer than its dependencies' timeouts, so that a dependency that times out is
# reported in the results (DEPENDENCY_STATUS_TIMEOUT) rather than as DEADLINE_EXCEEDED.
RESOLVE_DEADLINE_S = WAIT_TIMEOUT_S + 5
PUBLISH_WINDOW = 32  # requests a Publisher has sent whose outcome has not come back yet, at most


def struct(values: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def completion(agent_id: str, dependency_id: str | None = None) -> dep_pb.Dependency:
    """Waits for an `agent_completed` signal whose sender or data.agent_id is `agent_id` (require_success: default)."""
    return dep_pb.Dependency(dependency_id=dependency_id or agent_id,
                             timeout=duration_pb2.Duration(seconds=WAIT_TIMEOUT_S),
                             agent_completion=dep_pb.AgentCompletionTarget(agent_id=agent_id))


def describe(context: ctx_pb.AgentContext) -> str:
    a = context.agent_assignment
    return (f"Context v{context.context_version}: {a.objective}; tasks {', '.join(a.tasks)}; "
            f"depends on {', '.join(a.dependencies) or 'nothing'}")


class Agent:
    """One agent process: its id (the role it was started as), its coordination and the four service stubs."""

    def __init__(self, agent_id: str, addr: str, coordination_id: str):
        self.agent_id = agent_id
        self.coord = coordination_id
        self.channel = grpc.insecure_channel(addr)
        self.signals = sig_rpc.SignalServiceStub(self.channel)
        self.contexts = ctx_rpc.ContextServiceStub(self.channel)
        self.dependencies = dep_rpc.DependencyServiceStub(self.channel)
        self.routing = routing_rpc.RoutingServiceStub(self.channel)

    def say(self, line: str) -> None:
        print(line, flush=True)

    def publish(self, signal_type: int, data: dict) -> sig_pb.Signal:
        """One signal from this agent, as one unary call: for the agent's few one-off signals. An agent that publishes
        often uses `publisher()`."""
        return self.signals.Publish(sig_pb.PublishRequest(coordination_id=self.coord, type=signal_type,
                                                          sender_agent_id=self.agent_id, data=struct(data)),
                                    timeout=CALL_TIMEOUT_S).signal

    def publisher(self) -> Publisher:
        """Opens a PublishStream for this agent's signals (see `Publisher`); use it in a `with` block."""
        return Publisher(self)

    def wait_for_context(self) -> ctx_pb.AgentContext:
        """WatchAgentContext instead of polling: the first message is the agent's current state — its context, or
        `absent` when it has none yet — and a context distributed later arrives on the same stream."""
        call = self.contexts.WatchAgentContext(
            ctx_pb.WatchAgentContextRequest(coordination_id=self.coord, agent_id=self.agent_id),
            timeout=WAIT_TIMEOUT_S)
        try:
            for message in call:
                if message.HasField("context"):
                    return message.context
                self.say("No context yet, watching for it...")
        finally:
            call.cancel()
        raise RuntimeError("WatchAgentContext ended without a context")

    def wait_for_completion_of(self, sender: str) -> sig_pb.Signal:
        """Subscribe to `agent_completed` signals from `sender`. after_sequence=0 replays the retained history first,
        so a completion published before this subscription registered is not missed; the first message,
        `subscribed`, confirms the registration."""
        call = self.signals.Subscribe(
            sig_pb.SubscribeRequest(coordination_id=self.coord, agent_id=self.agent_id,
                                    types=[sig_pb.SIGNAL_TYPE_AGENT_COMPLETED], sender_agent_ids=[sender],
                                    after_sequence=0),
            timeout=WAIT_TIMEOUT_S)
        try:
            for message in call:
                if message.HasField("subscribed"):
                    self.say(f"Subscribed, waiting for {sender}")
                for signal in message.signals:
                    return signal
        finally:
            call.cancel()
        raise RuntimeError(f"Subscribe ended before {sender} completed")

    def resolve(self, dependencies: Iterable[dep_pb.Dependency]) -> dep_pb.ResolveDependenciesResponse:
        """ResolveDependencies: waits for all of them together; fails unless every one resolved."""
        response = self.dependencies.ResolveDependencies(
            dep_pb.ResolveDependenciesRequest(coordination_id=self.coord, agent_id=self.agent_id,
                                              dependencies=list(dependencies)),
            timeout=RESOLVE_DEADLINE_S)
        if not response.success:
            raise RuntimeError("dependencies not resolved: " + "; ".join(
                f"{r.dependency_id} {dep_pb.DependencyStatus.Name(r.status)} {r.message}" for r in response.results))
        return response


class PublishRefused(Exception):
    """A request PublishStream refused in-band, as Publish would have refused it; the stream itself went on.

    `request` is the request's position on the stream, from 1; `status` the google.rpc.Status with its code, message
    and details (an ErrorInfo, and a BadRequest for invalid fields)."""

    def __init__(self, request: int, status: status_pb2.Status):
        super().__init__(f"request {request} refused: {code_pb2.Code.Name(status.code)}: {status.message}")
        self.request = request
        self.status = status


class Publisher:
    """One agent's signals over a single PublishStream call, for an agent that publishes often: a unary Publish costs a
    whole HTTP/2 stream per signal. At most PUBLISH_WINDOW requests are unacknowledged at a time. The server answers
    every request with one outcome, in request order, so the n-th outcome is the n-th request's. One thread publishes;
    the Publisher's own thread reads the outcomes. The stream stays open at most WAIT_TIMEOUT_S.

        with agent.publisher() as p:
            p.publish(sig_pb.SIGNAL_TYPE_INTER_AGENT_MESSAGE, {"step": 1})
        p.last_ack  # the last signal's place in the log
    """

    def __init__(self, agent: Agent):
        self._agent = agent
        self._requests: queue.Queue[sig_pb.PublishStreamRequest | None] = queue.Queue()  # None half-closes
        self._window = threading.Semaphore(PUBLISH_WINDOW)  # a slot per request whose outcome has not come back
        self._sent = 0  # requests sent; only the publishing thread uses it
        self._acked = 0  # outcomes received; only the reading thread writes it
        self._error: Exception | None = None  # the first failure: a PublishRefused or the stream's grpc.RpcError
        self._ended = False
        self.last_ack: sig_pb.PublishAck | None = None  # the last acknowledgement received
        self._call = agent.signals.PublishStream(iter(self._requests.get, None), timeout=WAIT_TIMEOUT_S)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def publish(self, signal_type: int, data: dict) -> None:
        """Sends one signal from the agent, after waiting while PUBLISH_WINDOW requests are unacknowledged; does not
        wait for its own outcome. Raises the first failure seen so far — a PublishRefused naming an earlier request,
        or the stream's grpc.RpcError — and sends nothing once there is one; the requests sent after a refused one
        (fewer than the window) may have been applied."""
        self._window.acquire()
        if self._error is not None:
            raise self._error
        if self._ended:
            raise RuntimeError("PublishStream ended before it was closed")
        self._sent += 1
        self._requests.put(sig_pb.PublishStreamRequest(publish=sig_pb.PublishRequest(
            coordination_id=self._agent.coord, type=signal_type, sender_agent_id=self._agent.agent_id,
            data=struct(data))))

    def close(self) -> sig_pb.PublishAck | None:
        """Half-closes the stream and waits for the outcomes still to come. Returns the last acknowledgement (None when
        there was none); raises the first failure: a PublishRefused, the stream's grpc.RpcError, or a stream that
        ended without an outcome for every request."""
        self._requests.put(None)
        self._reader.join()
        if self._error is not None:
            raise self._error
        if self._acked != self._sent:
            raise RuntimeError(f"PublishStream ended after {self._acked} outcomes for {self._sent} requests")
        return self.last_ack

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.close()
        except Exception:
            if exc is None:
                raise  # else the block's own exception is the one to report

    def _read(self) -> None:
        """Gives each outcome to the oldest request still waiting for one, and frees its window slot."""
        try:
            for response in self._call:
                for outcome in response.outcomes:
                    self._acked += 1
                    if outcome.HasField("error"):
                        self._error = self._error or PublishRefused(self._acked, outcome.error)
                    else:
                        self.last_ack = outcome.ack
                    self._window.release()
        except grpc.RpcError as error:
            self._error = self._error or error
        finally:
            self._ended = True
            self._window.release(PUBLISH_WINDOW)  # wakes a publish waiting for a slot


def run(roles: dict[str, Callable[[Agent], None]]) -> None:
    """The command line of a scenario file: `<role> --addr HOST:PORT --coord ID`; runs that role's function."""
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=sorted(roles))
    parser.add_argument("--addr", default="127.0.0.1:50051", help="Consort's gRPC address")
    parser.add_argument("--coord", required=True, help="the coordination id, unique per run")
    args = parser.parse_args()
    agent = Agent(args.role, args.addr, args.coord)
    try:
        roles[args.role](agent)
    except grpc.RpcError as error:  # one line saying which call failed how, rather than a traceback
        sys.exit(f"{args.role}: {error.code().name}: {error.details()}")
    except PublishRefused as refused:
        sys.exit(f"{args.role}: {refused}")
    finally:
        agent.channel.close()
