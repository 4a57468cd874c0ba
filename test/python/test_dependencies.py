"""End-to-end tests of Consort's DependencyService through the generated Python client (consort.v1) over native gRPC.

SPEC.md §6 cases 20–23 each have their own tests (`test_case_NN_…`); the rest cover what a client relies on beyond
them: completions that fail, waits from a distributed context's assignment, retries that join an open wait or get
the recorded result, deadlines and cancellation, wait cycles, clearing, records and errors. Completions are
published through the SignalService, as agents do. Dependency timeouts are short (1 s at most where a test waits
them out) and every call has a deadline, so each test takes well under 5 s and a server bug fails it instead of
hanging it.
"""
from __future__ import annotations

import time

import grpc
import pytest
from conftest import status_detail, struct
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from consort.v1 import context_pb2, context_pb2_grpc
from consort.v1 import dependency_pb2 as pb
from consort.v1 import dependency_pb2_grpc
from consort.v1 import signal_pb2, signal_pb2_grpc

CALL_TIMEOUT = 5  # seconds, every unary call; also the deadline of ResolveDependencies calls
AT_ONCE = 0.5  # seconds within which a call that should not wait returns

RESOLVED = pb.DEPENDENCY_STATUS_RESOLVED
FAILED = pb.DEPENDENCY_STATUS_FAILED
TIMEOUT = pb.DEPENDENCY_STATUS_TIMEOUT
IN_PROGRESS = pb.DEPENDENCY_STATUS_IN_PROGRESS


# Helpers -----------------------------------------------------------------------------------------------------------

@pytest.fixture
def deps(server) -> dependency_pb2_grpc.DependencyServiceStub:
    return dependency_pb2_grpc.DependencyServiceStub(server.channel)


@pytest.fixture
def signals(server) -> signal_pb2_grpc.SignalServiceStub:
    return signal_pb2_grpc.SignalServiceStub(server.channel)


def seconds(value: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(value * 1e9))
    return d


def completion(dependency_id: str, agent_id: str, timeout: float | None = None,
               require_success: bool | None = None) -> pb.Dependency:
    target = pb.AgentCompletionTarget(agent_id=agent_id)
    if require_success is not None:
        target.require_success = require_success
    return pb.Dependency(dependency_id=dependency_id, agent_completion=target,
                         timeout=seconds(timeout) if timeout is not None else None)


def gate(dependency_id: str, gate_id: str, threshold: float | None = None, timeout: float | None = None) -> pb.Dependency:
    target = pb.QualityGateTarget(gate_id=gate_id)
    if threshold is not None:
        target.threshold = threshold
    return pb.Dependency(dependency_id=dependency_id, quality_gate=target,
                         timeout=seconds(timeout) if timeout is not None else None)


def resource(dependency_id: str, resource_id: str, timeout: float | None = None) -> pb.Dependency:
    return pb.Dependency(dependency_id=dependency_id, resource=pb.ResourceTarget(resource_id=resource_id),
                         timeout=seconds(timeout) if timeout is not None else None)


def request(coordination_id: str, agent_id: str, *dependencies: pb.Dependency) -> pb.ResolveDependenciesRequest:
    return pb.ResolveDependenciesRequest(coordination_id=coordination_id, agent_id=agent_id,
                                         dependencies=list(dependencies))


def resolve(stub, coordination_id: str, agent_id: str, *dependencies: pb.Dependency,
            deadline: float = CALL_TIMEOUT) -> tuple[pb.ResolveDependenciesResponse, float]:
    """Resolves and returns the response with the call's elapsed seconds; checks one result per dependency."""
    started = time.monotonic()
    response = stub.ResolveDependencies(request(coordination_id, agent_id, *dependencies), timeout=deadline)
    elapsed = time.monotonic() - started
    check_results(response, dependencies)
    return response, elapsed


def resolve_async(stub, coordination_id: str, agent_id: str, *dependencies: pb.Dependency,
                  deadline: float = CALL_TIMEOUT) -> grpc.Future:
    return stub.ResolveDependencies.future(request(coordination_id, agent_id, *dependencies), timeout=deadline)


def outcome(future: grpc.Future, dependencies: tuple[pb.Dependency, ...] | list = ()) -> pb.ResolveDependenciesResponse:
    response = future.result(timeout=CALL_TIMEOUT)
    if dependencies:
        check_results(response, dependencies)
    return response


def check_results(response: pb.ResolveDependenciesResponse, dependencies) -> None:
    """One result per dependency, in request order; success iff all resolved; a message iff not resolved."""
    assert [r.dependency_id for r in response.results] == [d.dependency_id for d in dependencies]
    assert response.success == all(r.status == RESOLVED for r in response.results)
    for r in response.results:
        assert r.status in (RESOLVED, FAILED, TIMEOUT), r
        assert (r.message == "") == (r.status == RESOLVED), r


def statuses(response: pb.ResolveDependenciesResponse) -> list[int]:
    return [r.status for r in response.results]


def publish_completion(signals, coordination_id: str, sender: str, data: dict | None = None) -> signal_pb2.Signal:
    return signals.Publish(signal_pb2.PublishRequest(coordination_id=coordination_id,
                                                     type=signal_pb2.SIGNAL_TYPE_AGENT_COMPLETED,
                                                     sender_agent_id=sender, data=struct(data)),
                           timeout=CALL_TIMEOUT).signal


def record(stub, coordination_id: str, agent_id: str, dependency_id: str) -> pb.DependencyRecord:
    return stub.GetDependencyStatus(pb.GetDependencyStatusRequest(coordination_id=coordination_id, agent_id=agent_id,
                                                                  dependency_id=dependency_id),
                                    timeout=CALL_TIMEOUT).record


def record_when_finished(stub, coordination_id: str, agent_id: str, dependency_id: str,
                         within: float = 2.0) -> pb.DependencyRecord:
    """The record once its wait has finished; the server notices a caller's cancel asynchronously: poll briefly."""
    deadline = time.monotonic() + within
    while True:
        rec = record(stub, coordination_id, agent_id, dependency_id)
        if rec.HasField("finished_at") or time.monotonic() > deadline:
            return rec
        time.sleep(0.02)


def resolved_signals(signals, coordination_id: str) -> list[signal_pb2.Signal]:
    response = signals.ListSignals(signal_pb2.ListSignalsRequest(
        coordination_id=coordination_id, types=[signal_pb2.SIGNAL_TYPE_DEPENDENCY_RESOLVED]), timeout=CALL_TIMEOUT)
    return list(response.signals)


def rpc_error(call, req) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(req, timeout=CALL_TIMEOUT)
    return raised.value


def invalid_argument(call, req, field_part: str) -> grpc.RpcError:
    """Expects INVALID_ARGUMENT (FIELD_INVALID) whose first BadRequest violation names a field containing
    `field_part`."""
    error = rpc_error(call, req)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()} {error.details()}"
    assert status_detail(error, error_details_pb2.ErrorInfo).reason == "FIELD_INVALID"
    violations = status_detail(error, error_details_pb2.BadRequest).field_violations
    assert violations and field_part in violations[0].field, violations
    assert violations[0].description
    return error


# SPEC.md §6 case 20: agent completion ------------------------------------------------------------------------------

def test_case_20_completion_timeout_without_signal(deps, signals, coordination_id):
    # Near misses that must not count: another type from the agent, another agent's completion, another
    # coordination's completion.
    signals.Publish(signal_pb2.PublishRequest(coordination_id=coordination_id, sender_agent_id="producer",
                                              type=signal_pb2.SIGNAL_TYPE_STAGE_COMPLETED,
                                              data=struct({"agent_id": "producer"})), timeout=CALL_TIMEOUT)
    publish_completion(signals, coordination_id, "someone-else", {"agent_id": "someone-else"})
    publish_completion(signals, f"{coordination_id}-other", "producer")

    dep = completion("wait-producer", "producer", timeout=1)
    response, elapsed = resolve(deps, coordination_id, "consumer", dep)
    assert not response.success
    (result,) = response.results
    assert result.status == TIMEOUT
    assert result.message == "Dependency 'wait-producer' timed out after 1s"
    assert 0.9 <= result.duration.ToNanoseconds() / 1e9 < 2
    assert 0.9 <= elapsed < 2.5

    rec = record(deps, coordination_id, "consumer", "wait-producer")
    assert (rec.coordination_id, rec.agent_id) == (coordination_id, "consumer")
    assert rec.type == pb.DEPENDENCY_TYPE_AGENT_COMPLETION
    assert rec.status == TIMEOUT
    assert rec.message == result.message
    assert rec.dependency.agent_completion.agent_id == "producer"
    assert rec.dependency.agent_completion.HasField("require_success")  # effective value filled in
    assert rec.dependency.agent_completion.require_success
    assert rec.dependency.timeout.ToNanoseconds() == 1_000_000_000
    assert rec.started_at.seconds > 0 and rec.HasField("finished_at")
    assert rec.finished_at.ToNanoseconds() >= rec.started_at.ToNanoseconds()
    # No dependency_resolved signal for an unsuccessful call.
    assert resolved_signals(signals, coordination_id) == []


def test_case_20_completion_half_a_second_later_resolves(deps, signals, coordination_id):
    dep = completion("wait-producer", "producer", timeout=1)
    started = time.monotonic()
    future = resolve_async(deps, coordination_id, "consumer", dep)
    time.sleep(0.5)
    assert not future.done()
    waiting = record(deps, coordination_id, "consumer", "wait-producer")
    assert waiting.status == IN_PROGRESS
    assert not waiting.HasField("finished_at") and waiting.message == ""
    assert waiting.duration.ToNanoseconds() > 0  # the time so far

    publish_completion(signals, coordination_id, "producer", {"success": True})
    response = outcome(future, [dep])
    elapsed = time.monotonic() - started
    assert response.success
    assert statuses(response) == [RESOLVED]
    assert 0.4 <= response.results[0].duration.ToNanoseconds() / 1e9 < 1
    assert elapsed < 1  # woken by the completion, not by the timeout
    rec = record(deps, coordination_id, "consumer", "wait-producer")
    assert rec.status == RESOLVED and rec.message == "" and rec.HasField("finished_at")


def test_completion_matches_data_agent_id_and_counts_before_the_wait(deps, signals, coordination_id):
    # A completion reported by another sender on the agent's behalf (data.agent_id), during the wait.
    dep = completion("wait-reviewer", "reviewer", timeout=1)
    future = resolve_async(deps, coordination_id, "consumer", dep)
    time.sleep(0.2)
    publish_completion(signals, coordination_id, "orchestrator", {"agent_id": "reviewer"})
    assert statuses(outcome(future, [dep])) == [RESOLVED]

    # A completion published before the wait started resolves it at once.
    publish_completion(signals, coordination_id, "early-bird")
    response, elapsed = resolve(deps, coordination_id, "consumer", completion("wait-early", "early-bird", timeout=1))
    assert response.success and elapsed < AT_ONCE


def test_failed_completion_fails_at_once_when_success_is_required(deps, signals, coordination_id):
    # Published before the wait: data.success false, and data.error set.
    publish_completion(signals, coordination_id, "flaky", {"success": False})
    publish_completion(signals, coordination_id, "broken", {"error": "disk full"})
    dependencies = (completion("on-flaky", "flaky", timeout=1), completion("on-broken", "broken", timeout=1))
    response, elapsed = resolve(deps, coordination_id, "consumer", *dependencies)
    assert not response.success
    assert statuses(response) == [FAILED, FAILED]
    assert all(r.message for r in response.results)
    assert elapsed < AT_ONCE

    # Published during the wait: fails at once, not at the 1 s timeout.
    dep = completion("on-late", "late", timeout=1)
    started = time.monotonic()
    future = resolve_async(deps, coordination_id, "consumer", dep)
    time.sleep(0.2)
    publish_completion(signals, coordination_id, "orchestrator", {"agent_id": "late", "success": False})
    response = outcome(future, [dep])
    assert statuses(response) == [FAILED]
    assert time.monotonic() - started < 0.8
    assert record(deps, coordination_id, "consumer", "on-late").status == FAILED

    # Without require_success the same completions resolve.
    dependencies = (completion("any-flaky", "flaky", timeout=1, require_success=False),
                    completion("any-broken", "broken", timeout=1, require_success=False))
    response, elapsed = resolve(deps, coordination_id, "consumer", *dependencies)
    assert response.success and statuses(response) == [RESOLVED, RESOLVED]
    assert elapsed < AT_ONCE
    assert not record(deps, coordination_id, "consumer", "any-flaky").dependency.agent_completion.require_success


# SPEC.md §6 case 21: quality gates ---------------------------------------------------------------------------------

def test_case_21_gate_below_threshold_times_out(deps, coordination_id):
    deps.SetQualityGateScore(pb.SetQualityGateScoreRequest(coordination_id=coordination_id, gate_id="review",
                                                           score=0.7), timeout=CALL_TIMEOUT)
    response, elapsed = resolve(deps, coordination_id, "publisher", gate("review-passed", "review", timeout=1))
    assert not response.success
    assert statuses(response) == [TIMEOUT]
    assert response.results[0].message == "Dependency 'review-passed' timed out after 1s"
    assert elapsed >= 0.9
    rec = record(deps, coordination_id, "publisher", "review-passed")
    assert rec.type == pb.DEPENDENCY_TYPE_QUALITY_GATE
    assert rec.dependency.quality_gate.HasField("threshold") and rec.dependency.quality_gate.threshold == 0.8


def test_case_21_gate_at_or_above_threshold_resolves(deps, coordination_id):
    set_score = lambda score: deps.SetQualityGateScore(pb.SetQualityGateScoreRequest(
        coordination_id=coordination_id, gate_id="review", score=score), timeout=CALL_TIMEOUT)
    assert set_score(0.9).released_waits == 0  # nobody waits yet
    response, elapsed = resolve(deps, coordination_id, "publisher", gate("review-passed", "review", timeout=1))
    assert response.success and statuses(response) == [RESOLVED]
    assert elapsed < AT_ONCE

    # Equal to an explicit threshold passes (score ≥ threshold).
    set_score(0.5)
    response, elapsed = resolve(deps, coordination_id, "publisher",
                                gate("half-passed", "review", threshold=0.5, timeout=1))
    assert response.success and elapsed < AT_ONCE


def test_case_21_score_raised_during_the_wait_resolves(deps, coordination_id):
    set_score = lambda score: deps.SetQualityGateScore(pb.SetQualityGateScoreRequest(
        coordination_id=coordination_id, gate_id="review", score=score), timeout=CALL_TIMEOUT)
    set_score(0.5)
    dependencies = (gate("passed-a", "review", timeout=2), gate("passed-b", "review", threshold=0.95, timeout=2))
    future_a = resolve_async(deps, coordination_id, "agent-a", dependencies[0])
    future_b = resolve_async(deps, coordination_id, "agent-b", dependencies[1])
    time.sleep(0.3)
    assert set_score(0.79).released_waits == 0  # still below both thresholds
    started = time.monotonic()
    assert set_score(0.85).released_waits == 1  # agent-a's wait only
    assert statuses(outcome(future_a, dependencies[:1])) == [RESOLVED]
    assert time.monotonic() - started < AT_ONCE
    assert not future_b.done()
    assert set_score(1.0).released_waits == 1
    assert statuses(outcome(future_b, dependencies[1:])) == [RESOLVED]


# SPEC.md §6 case 22: resources -------------------------------------------------------------------------------------

def test_case_22_resource_marked_available_resolves(deps, coordination_id):
    def set_available(available: bool) -> int:
        return deps.SetResourceAvailability(pb.SetResourceAvailabilityRequest(
            coordination_id=coordination_id, resource_id="gpu-1", available=available),
            timeout=CALL_TIMEOUT).released_waits

    dep = resource("gpu", "gpu-1", timeout=2)
    future = resolve_async(deps, coordination_id, "trainer", dep)
    time.sleep(0.3)
    assert set_available(False) == 0
    assert not future.done()
    started = time.monotonic()
    assert set_available(True) == 1
    response = outcome(future, [dep])
    assert response.success and statuses(response) == [RESOLVED]
    assert time.monotonic() - started < AT_ONCE
    rec = record(deps, coordination_id, "trainer", "gpu")
    assert rec.type == pb.DEPENDENCY_TYPE_RESOURCE_AVAILABILITY and rec.status == RESOLVED

    # Already available: resolves at once. Marked unavailable afterwards: the finished wait stays resolved.
    response, elapsed = resolve(deps, coordination_id, "evaluator", resource("gpu", "gpu-1", timeout=1))
    assert response.success and elapsed < AT_ONCE
    assert set_available(False) == 0
    assert record(deps, coordination_id, "evaluator", "gpu").status == RESOLVED


def test_gates_and_resources_are_scoped_per_coordination(deps, coordination_id):
    other = f"{coordination_id}-other"
    deps.SetResourceAvailability(pb.SetResourceAvailabilityRequest(coordination_id=other, resource_id="db",
                                                                   available=True), timeout=CALL_TIMEOUT)
    deps.SetQualityGateScore(pb.SetQualityGateScoreRequest(coordination_id=other, gate_id="lint", score=1.0),
                             timeout=CALL_TIMEOUT)
    dependencies = (resource("db", "db", timeout=0.5), gate("lint", "lint", timeout=0.5))
    response, _ = resolve(deps, coordination_id, "agent", *dependencies)
    assert statuses(response) == [TIMEOUT, TIMEOUT]
    response, elapsed = resolve(deps, other, "agent", *dependencies)
    assert statuses(response) == [RESOLVED, RESOLVED] and elapsed < AT_ONCE


# SPEC.md §6 case 23: several types together, and the empty list ----------------------------------------------------

def test_case_23_three_types_satisfied_succeeds_and_signals(deps, signals, coordination_id):
    publish_completion(signals, coordination_id, "model-generator")
    deps.SetQualityGateScore(pb.SetQualityGateScoreRequest(coordination_id=coordination_id, gate_id="schema",
                                                           score=0.95), timeout=CALL_TIMEOUT)
    dependencies = (completion("models", "model-generator", timeout=2), gate("schema-ok", "schema", timeout=2),
                    resource("db-ready", "database", timeout=2))
    future = resolve_async(deps, coordination_id, "api-generator", *dependencies)
    time.sleep(0.2)
    assert not future.done()  # the resource is not available yet
    deps.SetResourceAvailability(pb.SetResourceAvailabilityRequest(coordination_id=coordination_id,
                                                                   resource_id="database", available=True),
                                 timeout=CALL_TIMEOUT)
    response = outcome(future, dependencies)
    assert response.success
    assert statuses(response) == [RESOLVED, RESOLVED, RESOLVED]

    (signal,) = resolved_signals(signals, coordination_id)
    assert signal.sender_agent_id == "system"
    assert signal.data["resolver_agent"] == "api-generator"
    assert signal.data["dependency_count"] == 3
    assert signal.data["timestamp"]
    types = {r.dependency.dependency_id: r.type for r in deps.ListDependencies(pb.ListDependenciesRequest(
        coordination_id=coordination_id), timeout=CALL_TIMEOUT).records}
    assert types == {"models": pb.DEPENDENCY_TYPE_AGENT_COMPLETION, "schema-ok": pb.DEPENDENCY_TYPE_QUALITY_GATE,
                     "db-ready": pb.DEPENDENCY_TYPE_RESOURCE_AVAILABILITY}


def test_case_23_empty_list_succeeds(deps, coordination_id):
    response, elapsed = resolve(deps, coordination_id, "independent-agent")
    assert response.success
    assert list(response.results) == []
    assert elapsed < AT_ONCE


def test_dependencies_are_awaited_together(deps, coordination_id):
    """Two 1 s timeouts end together after about 1 s, not one after the other; one failure fails the call."""
    deps.SetResourceAvailability(pb.SetResourceAvailabilityRequest(coordination_id=coordination_id,
                                                                   resource_id="present", available=True),
                                 timeout=CALL_TIMEOUT)
    dependencies = (completion("c", "nobody", timeout=1), resource("r", "present", timeout=1),
                    gate("g", "never-scored", timeout=1))
    response, elapsed = resolve(deps, coordination_id, "agent", *dependencies)
    assert not response.success
    assert statuses(response) == [TIMEOUT, RESOLVED, TIMEOUT]
    assert 0.9 <= elapsed < 1.8


def test_empty_list_waits_for_the_assignment_dependencies(server, deps, signals, coordination_id):
    contexts = context_pb2_grpc.ContextServiceStub(server.channel)
    contexts.DistributeContext(context_pb2.DistributeContextRequest(
        coordination_id=coordination_id, session_id="s",
        assignments=[context_pb2.AgentAssignment(agent_id="schema-designer"),
                     context_pb2.AgentAssignment(agent_id="api-generator",
                                                 dependencies=["schema-designer", "external-auditor"])]),
        timeout=CALL_TIMEOUT)
    publish_completion(signals, coordination_id, "external-auditor")
    future = resolve_async(deps, coordination_id, "api-generator")
    time.sleep(0.2)
    assert not future.done()
    waiting = record(deps, coordination_id, "api-generator", "schema-designer")
    assert waiting.status == IN_PROGRESS
    assert waiting.type == pb.DEPENDENCY_TYPE_AGENT_COMPLETION
    assert waiting.dependency.agent_completion.agent_id == "schema-designer"
    assert waiting.dependency.agent_completion.require_success
    assert waiting.dependency.timeout.ToNanoseconds() == 120 * 10**9  # the default timeout

    publish_completion(signals, coordination_id, "schema-designer", {"success": True})
    response = future.result(timeout=CALL_TIMEOUT)
    assert response.success
    assert [(r.dependency_id, r.status) for r in response.results] == \
        [("schema-designer", RESOLVED), ("external-auditor", RESOLVED)]

    # An agent whose assignment has no dependencies: success at once, no results.
    response, elapsed = resolve(deps, coordination_id, "schema-designer")
    assert response.success and list(response.results) == [] and elapsed < AT_ONCE


# Retries, deadlines, cancellation ----------------------------------------------------------------------------------

def test_retry_joins_the_open_wait_then_returns_the_recorded_result(deps, signals, coordination_id):
    dep = completion("wait-producer", "producer", timeout=2)
    first = resolve_async(deps, coordination_id, "consumer", dep)
    time.sleep(0.3)
    retry = resolve_async(deps, coordination_id, "consumer", dep)  # e.g. after a dropped connection
    time.sleep(0.2)
    assert not first.done() and not retry.done()

    publish_completion(signals, coordination_id, "producer")
    for future in (first, retry):
        response = outcome(future, [dep])
        assert response.success and statuses(response) == [RESOLVED]
        # One wait: both report its duration, counted from when the first call started it.
        assert response.results[0].duration.ToNanoseconds() >= 0.45e9
    listed = deps.ListDependencies(pb.ListDependenciesRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert [r.dependency.dependency_id for r in listed.records] == ["wait-producer"]  # one record

    # After it finished: the recorded result, at once.
    response, elapsed = resolve(deps, coordination_id, "consumer", dep)
    assert response.success and statuses(response) == [RESOLVED] and elapsed < AT_ONCE


def test_joined_wait_keeps_its_original_timeout_and_recorded_timeout_is_returned(deps, coordination_id):
    dep = completion("wait-nobody", "nobody", timeout=1)
    started = time.monotonic()
    first = resolve_async(deps, coordination_id, "consumer", dep)
    time.sleep(0.6)
    retry_started = time.monotonic()
    retry = resolve_async(deps, coordination_id, "consumer", dep)
    for future in (first, retry):
        response = outcome(future, [dep])
        assert statuses(response) == [TIMEOUT]
        assert response.results[0].message == "Dependency 'wait-nobody' timed out after 1s"
    assert time.monotonic() - started < 1.6  # the timeout counted from the first call, not the retry
    assert time.monotonic() - retry_started < 0.9

    response, elapsed = resolve(deps, coordination_id, "consumer", dep)
    assert statuses(response) == [TIMEOUT] and elapsed < AT_ONCE


def test_same_dependency_id_with_another_target_is_failed_precondition(deps, coordination_id):
    resolve(deps, coordination_id, "consumer", resource("dep", "gpu", timeout=0.2))
    for changed in (resource("dep", "cpu", timeout=0.2), resource("dep", "gpu", timeout=0.3),
                    gate("dep", "gpu", timeout=0.2)):
        error = rpc_error(deps.ResolveDependencies, request(coordination_id, "consumer", changed))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, f"{error.code()} {error.details()}"
        assert status_detail(error, error_details_pb2.ErrorInfo).reason == "DEPENDENCY_MISMATCH"
    # The same id for another agent is another dependency.
    deps.SetResourceAvailability(pb.SetResourceAvailabilityRequest(coordination_id=coordination_id,
                                                                   resource_id="cpu", available=True),
                                 timeout=CALL_TIMEOUT)
    response, _ = resolve(deps, coordination_id, "other-agent", resource("dep", "cpu", timeout=0.2))
    assert response.success


def test_deadline_ends_an_unjoined_wait_as_a_timeout(deps, coordination_id):
    """The call's deadline passes before the dependency's timeout: DEADLINE_EXCEEDED, recorded as a timeout."""
    with pytest.raises(grpc.RpcError) as raised:
        deps.ResolveDependencies(request(coordination_id, "agent", completion("short", "nobody", timeout=10)),
                                 timeout=0.3)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, raised.value.details()
    rec = record_when_finished(deps, coordination_id, "agent", "short")
    assert rec.status == TIMEOUT, f"{pb.DependencyStatus.Name(rec.status)}: {rec.message}"
    assert 0.25 <= rec.duration.ToNanoseconds() / 1e9 < 1


def test_cancel_ends_an_unjoined_wait_as_cancelled(deps, coordination_id):
    future = resolve_async(deps, coordination_id, "agent", completion("cancelled", "nobody", timeout=10))
    time.sleep(0.2)
    assert future.cancel()
    rec = record_when_finished(deps, coordination_id, "agent", "cancelled")
    assert rec.status == FAILED, f"{pb.DependencyStatus.Name(rec.status)}: {rec.message}"
    assert rec.message == "Dependency 'cancelled' cancelled"


def test_a_joined_wait_survives_the_first_callers_deadline(deps, signals, coordination_id):
    dep = completion("joined", "producer", timeout=3)
    impatient = resolve_async(deps, coordination_id, "agent", dep, deadline=0.5)
    time.sleep(0.2)
    patient = resolve_async(deps, coordination_id, "agent", dep)
    with pytest.raises(grpc.RpcError) as raised:
        impatient.result(timeout=CALL_TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, raised.value.details()
    time.sleep(0.1)
    assert record(deps, coordination_id, "agent", "joined").status == IN_PROGRESS
    assert not patient.done()
    publish_completion(signals, coordination_id, "producer")
    assert statuses(outcome(patient, [dep])) == [RESOLVED]


def test_wait_cycle_fails_at_once_and_clear_ends_open_waits(deps, coordination_id):
    a_waits = completion("a-waits-b", "agent-b", timeout=3)
    future = resolve_async(deps, coordination_id, "agent-a", a_waits)
    time.sleep(0.2)
    response, elapsed = resolve(deps, coordination_id, "agent-b", completion("b-waits-a", "agent-a", timeout=3))
    assert statuses(response) == [FAILED]
    assert response.results[0].message == \
        "Dependency 'b-waits-a' would close a wait cycle: agent-b -> agent-a -> agent-b"
    assert elapsed < AT_ONCE
    assert not future.done()

    cleared = deps.ClearDependencies(pb.ClearDependenciesRequest(coordination_id=coordination_id),
                                     timeout=CALL_TIMEOUT)
    assert cleared.cleared_records == 2
    response = outcome(future, [a_waits])
    assert not response.success
    assert statuses(response) == [FAILED]
    assert response.results[0].message == "Dependency 'a-waits-b' cleared"
    error = rpc_error(deps.GetDependencyStatus, pb.GetDependencyStatusRequest(
        coordination_id=coordination_id, agent_id="agent-a", dependency_id="a-waits-b"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    # Clearing is a fresh start: the same id may wait again.
    response, _ = resolve(deps, coordination_id, "agent-a", completion("a-waits-b", "agent-b", timeout=0.2))
    assert statuses(response) == [TIMEOUT]


# Records and errors ------------------------------------------------------------------------------------------------

def test_list_filters_newest_first_and_unknown_dependency_is_not_found(deps, coordination_id):
    deps.SetResourceAvailability(pb.SetResourceAvailabilityRequest(coordination_id=coordination_id,
                                                                   resource_id="r", available=True),
                                 timeout=CALL_TIMEOUT)
    resolve(deps, coordination_id, "agent-a", resource("first", "r", timeout=1))
    resolve(deps, coordination_id, "agent-b", resource("second", "missing", timeout=0.2))
    resolve(deps, coordination_id, "agent-a", resource("third", "r", timeout=1))

    def listed(**fields) -> list[str]:
        response = deps.ListDependencies(pb.ListDependenciesRequest(coordination_id=coordination_id, **fields),
                                         timeout=CALL_TIMEOUT)
        return [r.dependency.dependency_id for r in response.records]

    assert listed() == ["third", "second", "first"]
    assert listed(agent_id="agent-a") == ["third", "first"]
    assert listed(statuses=[TIMEOUT]) == ["second"]
    assert listed(statuses=[RESOLVED, FAILED]) == ["third", "first"]
    page = deps.ListDependencies(pb.ListDependenciesRequest(coordination_id=coordination_id, page_size=2),
                                 timeout=CALL_TIMEOUT)
    assert [r.dependency.dependency_id for r in page.records] == ["third", "second"] and page.next_page_token
    page = deps.ListDependencies(pb.ListDependenciesRequest(coordination_id=coordination_id, page_size=2,
                                                            page_token=page.next_page_token), timeout=CALL_TIMEOUT)
    assert [r.dependency.dependency_id for r in page.records] == ["first"] and not page.next_page_token
    empty = deps.ListDependencies(pb.ListDependenciesRequest(coordination_id=f"{coordination_id}-unknown"),
                                  timeout=CALL_TIMEOUT)
    assert list(empty.records) == []
    invalid_argument(deps.ListDependencies, pb.ListDependenciesRequest(
        coordination_id=coordination_id, statuses=[pb.DEPENDENCY_STATUS_UNSPECIFIED]), "statuses")

    error = rpc_error(deps.GetDependencyStatus, pb.GetDependencyStatusRequest(
        coordination_id=coordination_id, agent_id="agent-b", dependency_id="first"))
    assert error.code() == grpc.StatusCode.NOT_FOUND, f"{error.code()} {error.details()}"
    assert status_detail(error, error_details_pb2.ErrorInfo).reason == "DEPENDENCY_NOT_FOUND"


def test_invalid_requests_are_rejected(deps, coordination_id):
    def resolve_request(*dependencies: pb.Dependency, agent_id: str = "agent") -> pb.ResolveDependenciesRequest:
        return request(coordination_id, agent_id, *dependencies)

    invalid_argument(deps.ResolveDependencies, resolve_request(completion("d", "x", timeout=0)), "dependencies[0]")
    invalid_argument(deps.ResolveDependencies, resolve_request(pb.Dependency(dependency_id="d")), "dependencies[0]")
    invalid_argument(deps.ResolveDependencies, resolve_request(completion("", "x", timeout=1)), "dependencies[0]")
    invalid_argument(deps.ResolveDependencies, resolve_request(completion("d", "", timeout=1)), "dependencies[0]")
    invalid_argument(deps.ResolveDependencies, resolve_request(gate("d", "g", threshold=1.5, timeout=1)),
                     "dependencies[0]")
    invalid_argument(deps.ResolveDependencies,
                     resolve_request(completion("d", "x", timeout=1), resource("d", "y", timeout=1)),
                     "dependencies[1]")
    invalid_argument(deps.ResolveDependencies, resolve_request(agent_id=""), "agent_id")
    invalid_argument(deps.SetQualityGateScore, pb.SetQualityGateScoreRequest(
        coordination_id=coordination_id, gate_id="g", score=1.5), "score")
    invalid_argument(deps.SetResourceAvailability, pb.SetResourceAvailabilityRequest(
        coordination_id=coordination_id, resource_id="", available=True), "resource_id")
    # Nothing was recorded by the rejected calls.
    listed = deps.ListDependencies(pb.ListDependenciesRequest(coordination_id=coordination_id), timeout=CALL_TIMEOUT)
    assert list(listed.records) == []
