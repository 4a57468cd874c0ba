"""End-to-end tests of Consort's ContextService through the generated Python client (consort.v1) over native gRPC.

SPEC.md §6 cases 17–19 each have their own test (`test_case_NN_…`); the rest cover what a client relies on beyond
them: validation, re-distribution, pagination, clearing, and WatchAgentContext (`absent` for an agent without a
context, the context arriving on the same stream, resuming by revision). Every call has a deadline and every wait
on a stream is bounded, so a server bug fails a test instead of hanging it.
"""
from __future__ import annotations

import queue

import grpc
import pytest
from conftest import StreamReader, status_detail, struct
from google.protobuf import json_format
from google.rpc import error_details_pb2

from consort.v1 import context_pb2 as pb
from consort.v1 import context_pb2_grpc

CALL_TIMEOUT = 5  # seconds, every unary call
STREAM_TIMEOUT = 30  # seconds, deadline of every WatchAgentContext stream
WAIT = 5  # seconds, longest wait for one expected stream message
QUIET = 0.3  # seconds a stream must stay silent when no message is expected

TYPE_REGISTRY = pb.SHARED_INTELLIGENCE_PART_TYPE_REGISTRY
PATTERN_LIBRARY = pb.SHARED_INTELLIGENCE_PART_PATTERN_LIBRARY
VALIDATION = pb.SHARED_INTELLIGENCE_PART_VALIDATION_RULES
NAMING_CONVENTIONS = pb.SHARED_INTELLIGENCE_PART_NAMING_CONVENTIONS
DEPENDENCY_GRAPH = pb.SHARED_INTELLIGENCE_PART_DEPENDENCY_GRAPH

# SPEC.md §3 defaults.
DEFAULT_ALLOCATION = dict(max_execution_time_ms=300_000, max_retry_attempts=3, max_memory_mb=512,
                          quality_threshold=0.8, timeout_ms=30_000, concurrency_limit=10)
DEFAULT_PROTOCOLS = dict(update_interval_ms=5_000, heartbeat_interval_ms=10_000, status_channel="state",
                         result_channel="state", error_channel="state")


# Helpers -----------------------------------------------------------------------------------------------------------

@pytest.fixture
def contexts(server) -> context_pb2_grpc.ContextServiceStub:
    return context_pb2_grpc.ContextServiceStub(server.channel)


def assignment(agent_id: str, **fields) -> pb.AgentAssignment:
    fields.setdefault("objective", f"objective of {agent_id}")
    for key in ("input_data", "output_requirements", "success_criteria"):
        if key in fields:
            fields[key] = struct(fields[key])
    return pb.AgentAssignment(agent_id=agent_id, **fields)


def shared_intelligence() -> pb.SharedIntelligence:
    return pb.SharedIntelligence(
        type_registry=struct({"User": {"id": "string"}}),
        pattern_library={"api": pb.StringList(values=["rest", "grpc"])},
        validation_rules=struct({"max_length": 100}),
        naming_conventions={"class": "PascalCase"},
        dependency_graph={"api": pb.StringList(values=["models"])},
    )


def distribute(stub, coordination_id: str, *assignments: pb.AgentAssignment, session_id: str = "session-1",
               shared: pb.SharedIntelligence | None = None, **fields) -> pb.DistributeContextResponse:
    request = pb.DistributeContextRequest(coordination_id=coordination_id, session_id=session_id,
                                          shared_intelligence=shared, assignments=list(assignments), **fields)
    response = stub.DistributeContext(request, timeout=CALL_TIMEOUT)
    assert response.next_page_token == ""
    assert [c.coordination_metadata.agent_id for c in response.contexts] == [a.agent_id for a in assignments]
    assert all(c.context_version == 1 for c in response.contexts)
    assert response.revision > 0
    return response


def get(stub, coordination_id: str, agent_id: str) -> pb.AgentContext:
    request = pb.GetAgentContextRequest(coordination_id=coordination_id, agent_id=agent_id)
    return stub.GetAgentContext(request, timeout=CALL_TIMEOUT).context


def update(stub, coordination_id: str, part, data: dict, *targets: str,
           increment_version: bool | None = None) -> pb.UpdateSharedIntelligenceResponse:
    request = pb.UpdateSharedIntelligenceRequest(coordination_id=coordination_id, update_type=part,
                                                 update_data=struct(data), target_agent_ids=list(targets))
    if increment_version is not None:
        request.increment_version = increment_version
    return stub.UpdateSharedIntelligence(request, timeout=CALL_TIMEOUT)


def as_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def string_lists(m) -> dict:
    return {k: list(v.values) for k, v in m.items()}


def allocation(ctx: pb.AgentContext) -> dict:
    return {f: getattr(ctx.resource_allocation, f) for f in DEFAULT_ALLOCATION}


def protocols(ctx: pb.AgentContext) -> dict:
    return {f: getattr(ctx.coordination_protocols, f) for f in DEFAULT_PROTOCOLS}


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=CALL_TIMEOUT)
    return raised.value


def invalid_argument(call, request, field_part: str) -> grpc.RpcError:
    """Expects INVALID_ARGUMENT, reason FIELD_INVALID, whose first BadRequest violation names a field containing
    `field_part`, and whose message names that field."""
    error = rpc_error(call, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()} {error.details()}"
    assert status_detail(error, error_details_pb2.ErrorInfo).reason == "FIELD_INVALID"
    violations = status_detail(error, error_details_pb2.BadRequest).field_violations
    assert violations and field_part in violations[0].field, violations
    assert violations[0].description
    assert violations[0].field in error.details(), error.details()
    return error


def assert_context_not_found(stub, coordination_id: str, agent_id: str) -> None:
    error = rpc_error(stub.GetAgentContext, pb.GetAgentContextRequest(coordination_id=coordination_id,
                                                                      agent_id=agent_id))
    assert error.code() == grpc.StatusCode.NOT_FOUND, f"{error.code()} {error.details()}"
    assert status_detail(error, error_details_pb2.ErrorInfo).reason == "CONTEXT_NOT_FOUND"


class Watch(StreamReader):
    """A WatchAgentContext stream (see StreamReader)."""

    name = "WatchAgentContext"

    def __init__(self, stub, request: pb.WatchAgentContextRequest):
        super().__init__(stub.WatchAgentContext(request, timeout=STREAM_TIMEOUT))

    def next(self, timeout: float = WAIT) -> pb.WatchAgentContextResponse:
        return super().next(timeout)

    def context(self, timeout: float = WAIT) -> tuple[pb.AgentContext, int]:
        """The next message, which must carry a context; returns it with the message's revision."""
        message = self.next(timeout)
        assert message.WhichOneof("state") == "context", f"expected a context, got {message}"
        return message.context, message.revision

    def absent(self, timeout: float = WAIT) -> int:
        """The next message, which must be `absent`; returns its revision."""
        message = self.next(timeout)
        assert message.WhichOneof("state") == "absent", f"expected `absent`, got {message}"
        return message.revision

    def quiet(self, duration: float = QUIET) -> None:
        """Nothing arrives within `duration` (and the stream stays open)."""
        try:
            item = self._queue.get(timeout=duration)
        except queue.Empty:
            return
        if isinstance(item, grpc.RpcError):
            pytest.fail(f"WatchAgentContext failed: {item.code()} {item.details()}")
        pytest.fail(f"unexpected WatchAgentContext message: {item}")

    def error(self, timeout: float = WAIT) -> grpc.RpcError:
        """The stream's error; fails if a message arrives first or the stream ends cleanly."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"WatchAgentContext did not fail within {timeout} s")
        if not isinstance(item, grpc.RpcError):
            pytest.fail(f"expected the stream to fail, got {item if item is not self._END else 'its end'}")
        return item

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(timeout=5)


@pytest.fixture
def watch(contexts):
    opened: list[Watch] = []

    def open_(coordination_id: str, agent_id: str, after_revision: int | None = None) -> Watch:
        request = pb.WatchAgentContextRequest(coordination_id=coordination_id, agent_id=agent_id)
        if after_revision is not None:
            request.after_revision = after_revision
        w = Watch(contexts, request)
        opened.append(w)
        return w

    yield open_
    for w in opened:
        w.close()


# SPEC.md §6 cases 17–19 --------------------------------------------------------------------------------------------

def test_case_17_custom_allocation_for_two_of_three_agents(contexts, coordination_id):
    """Custom allocations for two of three agents, the defaults for the third."""
    custom = dict(max_execution_time_ms=60_000, max_retry_attempts=0, max_memory_mb=2048, quality_threshold=0.95,
                  timeout_ms=500, concurrency_limit=2)
    response = distribute(
        contexts, coordination_id,
        assignment("model-generator", agent_role="generator", tasks=["models", "schemas"],
                   input_data={"tables": ["users"]}, dependencies=["schema-designer"],
                   resource_allocation=pb.ResourceAllocation(**custom),
                   coordination_protocols=pb.CoordinationProtocols(update_interval_ms=1_000, status_channel="status",
                                                                   coordination_endpoint="grpc://hub:7000")),
        # Only two fields given: the others take their defaults.
        assignment("api-generator", resource_allocation=pb.ResourceAllocation(max_memory_mb=1024, quality_threshold=0.5),
                   coordination_protocols=pb.CoordinationProtocols(heartbeat_interval_ms=100)),
        assignment("test-generator"),
        shared=shared_intelligence(), parent_workflow_id="workflow-7",
    )
    model, api, tests = response.contexts

    assert allocation(model) == custom
    assert protocols(model) == {**DEFAULT_PROTOCOLS, "update_interval_ms": 1_000, "status_channel": "status"}
    assert model.coordination_protocols.coordination_endpoint == "grpc://hub:7000"

    assert allocation(api) == {**DEFAULT_ALLOCATION, "max_memory_mb": 1024, "quality_threshold": 0.5}
    assert protocols(api) == {**DEFAULT_PROTOCOLS, "heartbeat_interval_ms": 100}

    assert allocation(tests) == DEFAULT_ALLOCATION
    assert protocols(tests) == DEFAULT_PROTOCOLS
    # Every effective field is set (the message uses explicit presence), except an absent endpoint.
    for field in DEFAULT_ALLOCATION:
        assert tests.resource_allocation.HasField(field), field
    for field in DEFAULT_PROTOCOLS:
        assert tests.coordination_protocols.HasField(field), field
    assert not tests.coordination_protocols.HasField("coordination_endpoint")

    # Metadata, assignment and shared intelligence.
    meta = model.coordination_metadata
    assert (meta.session_id, meta.coordination_id, meta.agent_id, meta.agent_role, meta.parent_workflow_id) == \
        ("session-1", coordination_id, "model-generator", "generator", "workflow-7")
    assert meta.created_at.seconds > 0
    assert tests.coordination_metadata.agent_role == "test-generator"  # empty role → the agent id
    assert model.agent_assignment.agent_role == "generator"
    assert tests.agent_assignment.agent_role == "test-generator"
    assert list(model.agent_assignment.tasks) == ["models", "schemas"]
    assert as_dict(model.agent_assignment.input_data) == {"tables": ["users"]}
    assert list(model.agent_assignment.dependencies) == ["schema-designer"]  # outside the distribution: allowed
    assert model.agent_assignment.objective == "objective of model-generator"
    # The effective values live in the context's own fields, not in the assignment.
    assert not model.agent_assignment.HasField("resource_allocation")
    assert not model.agent_assignment.HasField("coordination_protocols")
    for ctx in response.contexts:
        assert ctx.shared_intelligence == shared_intelligence()
        assert ctx.context_version == 1
        assert ctx.revision == response.revision
        assert ctx.updated_at.seconds > 0

    # Reads return the same contexts.
    for ctx in response.contexts:
        assert get(contexts, coordination_id, ctx.coordination_metadata.agent_id) == ctx
    listed = contexts.ListAgentContexts(pb.ListAgentContextsRequest(coordination_id=coordination_id),
                                       timeout=CALL_TIMEOUT)
    assert list(listed.contexts) == list(response.contexts)
    assert listed.revision == response.revision
    assert listed.next_page_token == ""


def test_case_18_targeted_update_changes_and_reports_only_targets(contexts, coordination_id):
    distribute(contexts, coordination_id, assignment("agent-a"), assignment("agent-b"), assignment("agent-c"),
               shared=shared_intelligence())

    response = update(contexts, coordination_id, NAMING_CONVENTIONS, {"function": "snake_case"}, "agent-a", "agent-c")
    assert dict(response.results) == {"agent-a": True, "agent-c": True}
    for agent in ("agent-a", "agent-c"):
        ctx = get(contexts, coordination_id, agent)
        # Shallow merge: the new key is added, the existing one kept.
        assert dict(ctx.shared_intelligence.naming_conventions) == {"class": "PascalCase", "function": "snake_case"}
        assert ctx.context_version == 2
        assert ctx.revision == response.revision
    untouched = get(contexts, coordination_id, "agent-b")
    assert dict(untouched.shared_intelligence.naming_conventions) == {"class": "PascalCase"}
    assert untouched.context_version == 1
    assert untouched.shared_intelligence == shared_intelligence()

    # An agent without a context reports false, beside a real target; only targets are reported.
    response = update(contexts, coordination_id, PATTERN_LIBRARY, {"db": ["repository"]}, "agent-b", "ghost")
    assert dict(response.results) == {"agent-b": True, "ghost": False}
    assert string_lists(get(contexts, coordination_id, "agent-b").shared_intelligence.pattern_library) == \
        {"api": ["rest", "grpc"], "db": ["repository"]}
    assert "db" not in get(contexts, coordination_id, "agent-a").shared_intelligence.pattern_library

    # No target: every agent of the coordination. Each top-level key replaces the part's key (no deep merge).
    response = update(contexts, coordination_id, TYPE_REGISTRY, {"User": {"name": "string"}})
    assert dict(response.results) == {"agent-a": True, "agent-b": True, "agent-c": True}
    for agent in ("agent-a", "agent-b", "agent-c"):
        assert as_dict(get(contexts, coordination_id, agent).shared_intelligence.type_registry) == \
            {"User": {"name": "string"}}
    versions = {a: get(contexts, coordination_id, a).context_version for a in ("agent-a", "agent-b", "agent-c")}
    assert versions == {"agent-a": 3, "agent-b": 3, "agent-c": 3}
    revision = response.revision

    # An unspecified part, or data breaking the part's shape: false for every target, nothing changes.
    response = update(contexts, coordination_id, pb.SHARED_INTELLIGENCE_PART_UNSPECIFIED, {"x": "y"}, "agent-a")
    assert dict(response.results) == {"agent-a": False}
    response = update(contexts, coordination_id, PATTERN_LIBRARY, {"bad": "not a list"}, "agent-a", "agent-b")
    assert dict(response.results) == {"agent-a": False, "agent-b": False}
    response = update(contexts, coordination_id, DEPENDENCY_GRAPH, {"api": ["models", 3]}, "agent-c")
    assert dict(response.results) == {"agent-c": False}
    response = update(contexts, coordination_id, NAMING_CONVENTIONS, {"const": ["UPPER"]}, "agent-c")
    assert dict(response.results) == {"agent-c": False}
    assert response.revision == revision  # no context changed
    for agent in ("agent-a", "agent-b", "agent-c"):
        ctx = get(contexts, coordination_id, agent)
        assert ctx.context_version == 3
        assert "bad" not in ctx.shared_intelligence.pattern_library
        assert "const" not in ctx.shared_intelligence.naming_conventions
        assert string_lists(ctx.shared_intelligence.dependency_graph) == {"api": ["models"]}

    # An unknown coordination yields an empty result.
    response = update(contexts, f"{coordination_id}-unknown", NAMING_CONVENTIONS, {"a": "b"}, "agent-a")
    assert dict(response.results) == {}


def test_case_19_twenty_updates_reach_version_21(contexts, coordination_id):
    distribute(contexts, coordination_id, assignment("agent-a"), assignment("agent-b"))
    revisions = []
    for i in range(20):
        response = update(contexts, coordination_id, VALIDATION,
                          {"round": i}, "agent-a")
        assert dict(response.results) == {"agent-a": True}
        revisions.append(response.revision)
    assert revisions == sorted(set(revisions)), f"revisions must only grow: {revisions}"

    ctx = get(contexts, coordination_id, "agent-a")
    assert ctx.context_version == 21
    assert as_dict(ctx.shared_intelligence.validation_rules) == {"round": 19}
    assert ctx.revision == revisions[-1]
    assert get(contexts, coordination_id, "agent-b").context_version == 1

    # increment_version=false changes the data and keeps the version; the revision still grows.
    response = update(contexts, coordination_id, VALIDATION, {"round": "final"}, "agent-a", increment_version=False)
    assert dict(response.results) == {"agent-a": True}
    assert response.revision > revisions[-1]
    ctx = get(contexts, coordination_id, "agent-a")
    assert ctx.context_version == 21
    assert as_dict(ctx.shared_intelligence.validation_rules) == {"round": "final"}
    assert ctx.revision == response.revision

    # Explicitly true behaves as unset.
    update(contexts, coordination_id, VALIDATION, {"round": 21}, "agent-a", increment_version=True)
    assert get(contexts, coordination_id, "agent-a").context_version == 22


# Distribution rules ------------------------------------------------------------------------------------------------

def test_missing_coordination_or_session_id_is_rejected_with_the_original_message(contexts, coordination_id):
    """The original library's message, behind the field it names (every FIELD_INVALID message names its field)."""
    message = "coordination_state must contain 'coordination_id' and 'session_id'"
    for field, request in (
            ("session_id", pb.DistributeContextRequest(coordination_id=coordination_id, assignments=[assignment("a")])),
            ("coordination_id", pb.DistributeContextRequest(session_id="s", assignments=[assignment("a")]))):
        error = invalid_argument(contexts.DistributeContext, request, field)
        assert error.details() == f"{field}: {message}"
        assert [v.field for v in status_detail(error, error_details_pb2.BadRequest).field_violations] == [field]

    # Both missing: BadRequest lists every invalid field.
    error = rpc_error(contexts.DistributeContext, pb.DistributeContextRequest(assignments=[assignment("a")]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()} {error.details()}"
    assert message in error.details()
    fields = {v.field for v in status_detail(error, error_details_pb2.BadRequest).field_violations}
    assert fields == {"coordination_id", "session_id"}
    assert_context_not_found(contexts, coordination_id, "a")


def test_invalid_distributions_are_rejected_and_store_nothing(contexts, coordination_id):
    def request(*assignments: pb.AgentAssignment) -> pb.DistributeContextRequest:
        return pb.DistributeContextRequest(coordination_id=coordination_id, session_id="s",
                                           assignments=list(assignments))

    invalid_argument(contexts.DistributeContext, request(), "assignments")
    invalid_argument(contexts.DistributeContext, request(assignment("a"), assignment("")), "assignments[1]")
    invalid_argument(contexts.DistributeContext, request(assignment("a"), assignment("a")), "assignments[1]")
    invalid_argument(contexts.DistributeContext, request(assignment("a" * 101)), "assignments[0]")
    invalid_argument(contexts.DistributeContext, request(assignment(
        "a", resource_allocation=pb.ResourceAllocation(max_execution_time_ms=999))), "max_execution_time_ms")
    invalid_argument(contexts.DistributeContext, request(assignment(
        "a", resource_allocation=pb.ResourceAllocation(quality_threshold=1.5))), "quality_threshold")
    invalid_argument(contexts.DistributeContext, request(assignment(
        "a", coordination_protocols=pb.CoordinationProtocols(heartbeat_interval_ms=99))), "heartbeat_interval_ms")

    # A dependency cycle among the assignments, and an agent depending on itself.
    error = invalid_argument(contexts.DistributeContext, request(
        assignment("agent-a", dependencies=["agent-b"]), assignment("agent-b", dependencies=["agent-a"])),
        "assignments")
    assert "dependency cycle: agent-a -> agent-b -> agent-a" in error.details(), error.details()
    error = invalid_argument(contexts.DistributeContext, request(assignment("solo", dependencies=["solo"])),
                             "assignments")
    assert "dependency cycle: solo -> solo" in error.details(), error.details()

    for agent in ("a", "agent-a", "agent-b", "solo"):
        assert_context_not_found(contexts, coordination_id, agent)

    # A failed re-distribution leaves the existing contexts alone.
    first = distribute(contexts, coordination_id, assignment("keeper"))
    rpc_error(contexts.DistributeContext, request(assignment("keeper"), assignment("keeper")))
    assert get(contexts, coordination_id, "keeper") == first.contexts[0]


def test_redistribution_replaces_the_whole_set(contexts, coordination_id):
    distribute(contexts, coordination_id, assignment("agent-a"), assignment("agent-b"))
    update(contexts, coordination_id, NAMING_CONVENTIONS, {"x": "y"})
    assert get(contexts, coordination_id, "agent-a").context_version == 2

    second = distribute(contexts, coordination_id, assignment("agent-c"), assignment("agent-a"), session_id="s2")
    assert_context_not_found(contexts, coordination_id, "agent-b")
    ctx = get(contexts, coordination_id, "agent-a")
    assert ctx.context_version == 1  # starts again
    assert ctx.coordination_metadata.session_id == "s2"
    assert dict(ctx.shared_intelligence.naming_conventions) == {}
    listed = contexts.ListAgentContexts(pb.ListAgentContextsRequest(coordination_id=coordination_id),
                                       timeout=CALL_TIMEOUT)
    assert [c.coordination_metadata.agent_id for c in listed.contexts] == ["agent-c", "agent-a"]
    assert listed.revision == second.revision
    # The removed agent is now an unknown target.
    assert dict(update(contexts, coordination_id, NAMING_CONVENTIONS, {"x": "z"}, "agent-b").results) == \
        {"agent-b": False}


def test_a_context_nested_to_the_json_depth_limit_reads_back_in_python(contexts, coordination_id):
    """32 levels of objects (the server's limit) arrive intact here; one more is refused naming the field."""
    def nest(levels: int) -> dict:
        value: dict = {"leaf": True}
        for _ in range(levels - 1):
            value = {"x": value}
        return value

    distribute(contexts, coordination_id, assignment("deep", input_data=nest(32)))
    ctx = get(contexts, coordination_id, "deep")
    assert json_format.MessageToDict(ctx.agent_assignment.input_data) == nest(32)
    error = invalid_argument(contexts.DistributeContext, pb.DistributeContextRequest(
        coordination_id=coordination_id, session_id="s", assignments=[assignment("deeper", input_data=nest(33))]),
        "assignments[0].input_data")
    assert "32 levels" in error.details()


def test_list_pages_in_assignment_order(contexts, coordination_id):
    agents = [f"agent-{i}" for i in (3, 1, 4, 0, 2)]
    distribute(contexts, coordination_id, *(assignment(a) for a in agents))
    seen, token = [], ""
    for _ in range(10):  # bounded: a broken token can't loop forever
        page = contexts.ListAgentContexts(pb.ListAgentContextsRequest(coordination_id=coordination_id, page_size=2,
                                                                      page_token=token), timeout=CALL_TIMEOUT)
        assert len(page.contexts) <= 2
        seen.extend(c.coordination_metadata.agent_id for c in page.contexts)
        token = page.next_page_token
        if not token:
            break
    assert seen == agents

    unknown = contexts.ListAgentContexts(pb.ListAgentContextsRequest(coordination_id=f"{coordination_id}-unknown"),
                                        timeout=CALL_TIMEOUT)
    assert list(unknown.contexts) == [] and unknown.next_page_token == ""
    invalid_argument(contexts.ListAgentContexts,
                     pb.ListAgentContextsRequest(coordination_id=coordination_id, page_size=1001), "page_size")


def test_clear_and_unknown_coordination(contexts, coordination_id):
    assert_context_not_found(contexts, coordination_id, "agent-a")
    cleared = contexts.ClearContexts(pb.ClearContextsRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert not cleared.cleared

    distribute(contexts, coordination_id, assignment("agent-a"), assignment("agent-b"))
    cleared = contexts.ClearContexts(pb.ClearContextsRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert cleared.cleared
    assert_context_not_found(contexts, coordination_id, "agent-a")
    assert_context_not_found(contexts, coordination_id, "agent-b")
    again = contexts.ClearContexts(pb.ClearContextsRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert not again.cleared

    invalid_argument(contexts.GetAgentContext, pb.GetAgentContextRequest(coordination_id=coordination_id),
                     "agent_id")


# WatchAgentContext -------------------------------------------------------------------------------------------------

def test_watch_starts_absent_and_the_context_arrives_on_the_same_stream(contexts, watch, coordination_id):
    w = watch(coordination_id, "agent-b")
    w.absent()
    w.quiet()

    distributed = distribute(contexts, coordination_id, assignment("agent-a"), assignment("agent-b"))
    ctx, revision = w.context()
    assert ctx == distributed.contexts[1]
    assert revision == distributed.revision

    # Another agent's change sends nothing here; this agent's next change is the next message.
    update(contexts, coordination_id, NAMING_CONVENTIONS, {"only": "a"}, "agent-a")
    mine = update(contexts, coordination_id, NAMING_CONVENTIONS, {"only": "b"}, "agent-b")
    ctx, revision = w.context()
    assert (ctx.context_version, dict(ctx.shared_intelligence.naming_conventions)) == (2, {"only": "b"})
    assert revision == mine.revision == ctx.revision

    # An update that keeps the version is still a change.
    kept = update(contexts, coordination_id, NAMING_CONVENTIONS, {"only": "b2"}, "agent-b", increment_version=False)
    ctx, revision = w.context()
    assert (ctx.context_version, dict(ctx.shared_intelligence.naming_conventions)) == (2, {"only": "b2"})
    assert revision == kept.revision

    # Re-distributed without the agent: absent; with it again: version 1; cleared: absent; the stream stays open.
    without = distribute(contexts, coordination_id, assignment("agent-a"))
    assert w.absent() == without.revision
    back = distribute(contexts, coordination_id, assignment("agent-b"), assignment("agent-a"))
    ctx, revision = w.context()
    assert ctx.context_version == 1 and revision == back.revision
    assert contexts.ClearContexts(pb.ClearContextsRequest(coordination_id=coordination_id),
                                  timeout=CALL_TIMEOUT).cleared
    assert w.absent() > back.revision
    w.quiet()
    distribute(contexts, coordination_id, assignment("agent-b"))
    assert w.context()[0].context_version == 1

    # A second watcher starts from the current state.
    current = get(contexts, coordination_id, "agent-b")
    ctx, revision = watch(coordination_id, "agent-b").context()
    assert ctx == current
    assert revision >= current.revision


def test_watch_resumes_after_a_revision_with_exactly_the_later_changes(contexts, watch, coordination_id):
    start = distribute(contexts, coordination_id, assignment("agent-a"), assignment("agent-b")).revision

    # Changes of agent-a (expected on resume) interleaved with changes of agent-b only (not expected).
    expected: list[tuple[str, int, int]] = []  # (state, version, revision)
    r = update(contexts, coordination_id, NAMING_CONVENTIONS, {"step": "1"}, "agent-a").revision
    expected.append(("context", 2, r))
    update(contexts, coordination_id, NAMING_CONVENTIONS, {"step": "b"}, "agent-b")
    r = update(contexts, coordination_id, NAMING_CONVENTIONS, {"step": "2"}, "agent-a", increment_version=False).revision
    expected.append(("context", 2, r))
    r = distribute(contexts, coordination_id, assignment("agent-b")).revision  # agent-a removed
    expected.append(("absent", 0, r))
    update(contexts, coordination_id, NAMING_CONVENTIONS, {"step": "b2"}, "agent-b")
    r = distribute(contexts, coordination_id, assignment("agent-a"), assignment("agent-b")).revision
    expected.append(("context", 1, r))
    r = update(contexts, coordination_id, NAMING_CONVENTIONS, {"step": "3"}, "agent-a").revision
    expected.append(("context", 2, r))
    revisions = [e[2] for e in expected]
    assert revisions == sorted(set(revisions)) and revisions[0] > start

    def received(w: Watch, count: int) -> list[tuple[str, int, int]]:
        out = []
        for _ in range(count):
            message = w.next()
            out.append((message.WhichOneof("state"), message.context.context_version, message.revision))
        return out

    w = watch(coordination_id, "agent-a", after_revision=start)
    assert received(w, len(expected)) == expected
    w.quiet()

    # Resuming from the middle sends only what follows it.
    w2 = watch(coordination_id, "agent-a", after_revision=expected[1][2])
    assert received(w2, 3) == expected[2:]
    w2.quiet()

    # Resuming at the newest revision: no message until the next change, which both watchers get once.
    head = expected[-1][2]
    w3 = watch(coordination_id, "agent-a", after_revision=head)
    w3.quiet()
    last = update(contexts, coordination_id, NAMING_CONVENTIONS, {"step": "4"}, "agent-a")
    for watcher in (w, w3):
        ctx, revision = watcher.context()
        assert (ctx.context_version, revision) == (3, last.revision)
        assert dict(ctx.shared_intelligence.naming_conventions) == {"step": "4"}
        watcher.quiet(0.1)


def test_watch_beyond_the_newest_revision_is_out_of_range(contexts, watch, coordination_id):
    head = distribute(contexts, coordination_id, assignment("agent-a")).revision
    error = watch(coordination_id, "agent-a", after_revision=head + 100).error()
    assert error.code() == grpc.StatusCode.OUT_OF_RANGE, f"{error.code()} {error.details()}"
    info = status_detail(error, error_details_pb2.ErrorInfo)
    assert info.reason == "REVISION_AHEAD"
    assert info.metadata["head_revision"] == str(head)

    error = watch(coordination_id, "").error()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in status_detail(error, error_details_pb2.BadRequest).field_violations] == ["agent_id"]
