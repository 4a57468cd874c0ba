"""End-to-end tests of Consort's RoutingService through the generated Python client (consort.v1) over native gRPC.

SPEC.md §6 cases 9–16 each have their own test (`test_case_NN_…`); the rest cover stored versus inline policies,
several clients, errors and the history/stats bookkeeping. Every call has a deadline, and every test uses policy
ids of its own, so the tests share one server without seeing each other's policies or histories.
"""
from __future__ import annotations

import json
import uuid

import grpc
import pytest
from conftest import start_server, status_detail, struct
from google.protobuf import json_format, struct_pb2
from google.rpc import error_details_pb2

from consort.v1 import coordination_pb2, coordination_pb2_grpc
from consort.v1 import routing_pb2 as pb
from consort.v1 import routing_pb2_grpc

CALL_TIMEOUT = 5  # seconds, every unary call

CONTINUE = pb.ROUTING_DECISION_CONTINUE
END = pb.ROUTING_DECISION_END
RETRY = pb.ROUTING_DECISION_RETRY
PARALLEL = pb.ROUTING_DECISION_PARALLEL
SKIP = pb.ROUTING_DECISION_SKIP
BRANCH = pb.ROUTING_DECISION_BRANCH
ERROR = pb.ROUTING_DECISION_ERROR

CONDITIONAL_S = pb.ROUTING_STRATEGY_CONDITIONAL
STATE_S = pb.ROUTING_STRATEGY_STATE_ANALYSIS
PARALLEL_S = pb.ROUTING_STRATEGY_PARALLEL
PRIORITY_S = pb.ROUTING_STRATEGY_PRIORITY

NO_ROUTERS = "No routers available, using default decision"
NO_RULE_MATCHED = "No conditional rules matched, continuing with default behavior"
NO_PARALLEL = "No parallel execution opportunities identified"


# Helpers -----------------------------------------------------------------------------------------------------------

@pytest.fixture
def routing(server) -> routing_pb2_grpc.RoutingServiceStub:
    return routing_pb2_grpc.RoutingServiceStub(server.channel)


@pytest.fixture
def policy_id() -> str:
    """A fresh policy id per test, so tests never see each other's policies or histories."""
    return f"py-policy-{uuid.uuid4()}"


def new_policy_id() -> str:
    return f"py-policy-{uuid.uuid4()}"


def value(v) -> struct_pb2.Value:
    return json_format.ParseDict(v, struct_pb2.Value())


def as_dict(s: struct_pb2.Struct) -> dict:
    return json_format.MessageToDict(s)


def rule(rule_id: str, key: str, operator, condition_value, decision, *, name: str = "", next_task: str = "",
         priority: int | None = None) -> pb.ConditionalRule:
    fields = dict(rule_id=rule_id, name=name, condition_key=key, operator=operator,
                  condition_value=value(condition_value), decision=decision, next_task=next_task)
    if priority is not None:
        fields["priority"] = priority
    return pb.ConditionalRule(**fields)


def conditional(*rules: pb.ConditionalRule) -> pb.Router:
    return pb.Router(conditional=pb.ConditionalRouter(rules=list(rules)))


def parallel(*hints: pb.ParallelHint) -> pb.Router:
    return pb.Router(parallel=pb.ParallelRouter(hints=list(hints)))


def state_analysis(**config) -> pb.Router:
    return pb.Router(state_analysis=pb.StateAnalysisRouter(config=pb.StateAnalysisConfig(**config) if config else None))


def priority_router(**config) -> pb.Router:
    return pb.Router(priority=pb.PriorityRouter(config=pb.PriorityConfig(**config) if config else None))


def put(stub, policy_id: str, *routers: pb.Router) -> pb.PutRoutingPolicyResponse:
    return stub.PutRoutingPolicy(pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id=policy_id,
                                                                                     routers=list(routers))),
                                 timeout=CALL_TIMEOUT)


def route(stub, current_task: str = "task-a", *, policy_id: str | None = None, policy: pb.RoutingPolicy | None = None,
          state: dict | None = None, custom_data: dict | None = None, **fields) -> pb.RoutingResult:
    """Routes once and checks what every result must hold: an id, a positive time, the echoed task."""
    request = pb.RouteRequest(current_task=current_task, state=struct(state), custom_data=struct(custom_data), **fields)
    if policy_id is not None:
        request.policy_id = policy_id
    if policy is not None:
        request.policy.CopyFrom(policy)
    result = stub.Route(request, timeout=CALL_TIMEOUT).result
    assert uuid.UUID(result.routing_id)
    assert result.routing_time_ms > 0, f"routing_time_ms is {result.routing_time_ms}"
    assert result.current_task == current_task
    assert result.decision != pb.ROUTING_DECISION_UNSPECIFIED
    assert result.strategy != pb.ROUTING_STRATEGY_UNSPECIFIED
    assert result.HasField("created_at")
    return result


def history(stub, policy_id: str, **fields) -> list[pb.RoutingResult]:
    response = stub.ListRoutingHistory(pb.ListRoutingHistoryRequest(policy_id=policy_id, page_size=1000, **fields),
                                       timeout=CALL_TIMEOUT)
    assert response.next_page_token == ""
    return list(response.results)


def stats(stub, policy_id: str) -> pb.RoutingStats:
    return stub.GetRoutingStats(pb.GetRoutingStatsRequest(policy_id=policy_id), timeout=CALL_TIMEOUT).stats


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=CALL_TIMEOUT)
    return raised.value


def invalid_argument(call, request, field: str) -> grpc.RpcError:
    """Expects INVALID_ARGUMENT whose message starts with `field` and whose BadRequest names exactly `field`."""
    error = rpc_error(call, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()} {error.details()}"
    assert error.details().startswith(f"{field}:"), error.details()
    bad = status_detail(error, error_details_pb2.BadRequest)
    assert [v.field for v in bad.field_violations] == [field], bad
    assert bad.field_violations[0].description
    return error


def assert_not_found(call, request) -> grpc.RpcError:
    error = rpc_error(call, request)
    assert error.code() == grpc.StatusCode.NOT_FOUND, f"{error.code()} {error.details()}"
    return error


# SPEC.md §6 cases 9–16 ---------------------------------------------------------------------------------------------

def test_case_09_higher_priority_rule_wins(routing, policy_id):
    """Two matching rules, priorities 90 (end) and 50 (continue) → end, with the rule_id of the 90 rule."""
    put(routing, policy_id, conditional(
        # The lower-priority rule comes first: order by priority, not by position.
        rule("keep-going", "status", pb.CONDITION_OPERATOR_EQUAL, "done", CONTINUE, name="Keep going",
             next_task="next-step", priority=50),
        rule("finish", "status", pb.CONDITION_OPERATOR_EQUAL, "done", END, name="Finish", next_task="wrap-up",
             priority=90),
    ))
    result = route(routing, "review", policy_id=policy_id, state={"status": "done"})
    assert result.decision == END
    assert result.strategy == CONDITIONAL_S
    assert result.confidence == 1.0
    assert result.next_task == "wrap-up"
    assert result.reasoning == "Conditional rule 'Finish' matched: status == done"
    assert as_dict(result.metadata) == {"rule_id": "finish", "rule_name": "Finish", "rule_priority": 90}
    assert result.routers_evaluated == 1

    # Only the lower-priority rule matches → it decides.
    put(routing, policy_id, conditional(
        rule("keep-going", "status", pb.CONDITION_OPERATOR_EQUAL, "done", CONTINUE, name="Keep going",
             next_task="next-step", priority=50),
        rule("finish", "status", pb.CONDITION_OPERATOR_EQUAL, "closed", END, name="Finish", priority=90),
    ))
    result = route(routing, "review", policy_id=policy_id, state={"status": "done"})
    assert result.decision == CONTINUE
    assert result.confidence == 1.0
    assert result.next_task == "next-step"
    assert as_dict(result.metadata)["rule_id"] == "keep-going"


def test_case_10_error_count_rule_retries(routing, policy_id):
    """`error_count > 0` → retry, confidence 1.0, reasoning contains `error_count > 0`."""
    put(routing, policy_id, conditional(
        rule("errors", "error_count", pb.CONDITION_OPERATOR_GREATER_THAN, 0, RETRY, name="Retry on errors"),
    ))
    result = route(routing, "fetch", policy_id=policy_id, state={"error_count": 2})
    assert result.decision == RETRY
    assert result.confidence == 1.0
    assert result.strategy == CONDITIONAL_S
    assert "error_count > 0" in result.reasoning
    assert result.reasoning == "Conditional rule 'Retry on errors' matched: error_count > 0"
    # An unset rule priority means 50.
    assert as_dict(result.metadata) == {"rule_id": "errors", "rule_name": "Retry on errors", "rule_priority": 50}
    assert result.next_task == ""

    # No errors, a missing key, a null and a mismatched type never match → the no-match default.
    for state in ({"error_count": 0}, {}, {"error_count": None}, {"error_count": "3"}):
        result = route(routing, "fetch", policy_id=policy_id, state=state)
        assert result.decision == CONTINUE, state
        assert result.confidence == 0.5
        assert result.strategy == CONDITIONAL_S
        assert result.reasoning == NO_RULE_MATCHED
        assert as_dict(result.metadata) == {"rules_evaluated": 1}


def test_case_11_parallel_hint_satisfied(routing, policy_id):
    """A satisfied parallel hint → parallel with the group's other, not yet completed members."""
    put(routing, policy_id, parallel(
        pb.ParallelHint(task_group=["other-1", "other-2"], dependencies=[]),  # does not hold the task
        pb.ParallelHint(task_group=["a", "b", "c", "d"], dependencies=["setup"], estimated_duration_ms=1500),
    ))
    result = route(routing, "a", policy_id=policy_id, state={"completed_tasks": ["setup", "d"]})
    assert result.decision == PARALLEL
    assert result.confidence == 0.9
    assert result.strategy == PARALLEL_S
    assert result.reasoning == "Task 'a' can be parallelized with ['b', 'c']"
    assert as_dict(result.metadata) == {"parallel_tasks": ["b", "c"], "dependencies": ["setup"],
                                        "estimated_duration_ms": 1500}

    # The dependency not completed → no opportunity.
    result = route(routing, "a", policy_id=policy_id, state={"completed_tasks": ["d"]})
    assert result.decision == CONTINUE
    assert result.confidence == 0.7
    assert result.reasoning == NO_PARALLEL
    assert as_dict(result.metadata) == {"hints_checked": 2}

    # A task in no group → no opportunity.
    result = route(routing, "z", policy_id=policy_id, state={"completed_tasks": ["setup"]})
    assert (result.decision, result.confidence, result.reasoning) == (CONTINUE, 0.7, NO_PARALLEL)


def test_case_12_state_with_errors_retries(routing, policy_id):
    """State `{error_count: 3}` with a state-analysis router → retry, confidence ≥ 0.9."""
    put(routing, policy_id, state_analysis())
    result = route(routing, "load", policy_id=policy_id, state={"error_count": 3})
    assert result.decision == RETRY
    assert result.confidence >= 0.9
    assert result.confidence == 0.95
    assert result.strategy == STATE_S
    assert result.reasoning == "State contains errors (key_count=1, complexity=0.03)"
    metrics = as_dict(result.metadata)["complexity_metrics"]
    assert metrics["key_count"] == 1
    assert metrics["nested_depth"] == 1
    assert metrics["has_errors"] is True

    # A configured error-handling decision replaces retry.
    other = new_policy_id()
    put(routing, other, state_analysis(error_handling_decision=ERROR))
    result = route(routing, "load", policy_id=other, state={"failed": True})
    assert (result.decision, result.confidence) == (ERROR, 0.95)


def test_case_13_incomplete_data_skips(routing, policy_id):
    """`{required_data: null}` → skip."""
    put(routing, policy_id, state_analysis())
    result = route(routing, "transform", policy_id=policy_id, state={"required_data": None})
    assert result.decision == SKIP
    assert result.confidence == 0.8
    assert result.strategy == STATE_S
    assert result.reasoning == "State has incomplete data, skipping task"
    assert as_dict(result.metadata)["complexity_metrics"]["has_incomplete_data"] is True

    # Present and truthy → nothing incomplete.
    result = route(routing, "transform", policy_id=policy_id, state={"required_data": {"rows": 3}})
    assert result.decision == CONTINUE
    assert result.confidence == 0.9


def test_case_14_complex_state_branches(routing, policy_id):
    """100 keys, each nested to depth 5, with max_complexity_score 0.5 → branch."""
    state = {f"key_{i:03d}": {"l1": {"l2": {"l3": {"l4": {"l5": "leaf"}}}}} for i in range(100)}
    size = len(json.dumps(state, separators=(",", ":")).encode())
    depth = 6  # the state itself plus five nested objects
    score = min(1.0, 100 / 100 * 0.4 + depth / 10 * 0.3 + size / 1_000_000 * 0.3)
    assert score > 0.5

    put(routing, policy_id, state_analysis(max_complexity_score=0.5))
    result = route(routing, "analyze", policy_id=policy_id, state=state)
    assert result.decision == BRANCH
    assert result.confidence == 0.85
    assert result.strategy == STATE_S
    assert result.reasoning == (f"State complexity ({score:.2f}) exceeds threshold (0.50), "
                                "branching to handle complexity")
    metrics = as_dict(result.metadata)["complexity_metrics"]
    assert metrics["key_count"] == 100
    assert metrics["nested_depth"] == depth
    assert metrics["state_size_bytes"] == size
    assert metrics["complexity_score"] == pytest.approx(score)

    # The same state under the default threshold (0.8) is within the normal range.
    other = new_policy_id()
    put(routing, other, state_analysis())
    result = route(routing, "analyze", policy_id=other, state=state)
    assert result.decision == CONTINUE
    assert result.confidence == 0.9
    assert result.reasoning == f"State complexity ({score:.2f}) within normal range"


def test_case_15_conditional_end_beats_priority_high_continue(routing, policy_id):
    """Conditional end (1.0 × 100) beats priority-high continue (0.95 × 40) in one policy."""
    put(routing, policy_id,
        priority_router(),  # first, so the earlier-router tie rule cannot be what decides
        conditional(rule("final", "stage", pb.CONDITION_OPERATOR_EQUAL, "final", END, name="Final stage")))
    result = route(routing, "ship", policy_id=policy_id, state={"stage": "final"}, custom_data={"priority": 95})
    assert result.decision == END
    assert result.strategy == CONDITIONAL_S
    assert result.confidence == 1.0
    assert result.reasoning == "Conditional rule 'Final stage' matched: stage == final"
    assert result.routers_evaluated == 2

    # The priority router alone decides high-priority continue, unblended.
    alone = new_policy_id()
    put(routing, alone, priority_router())
    result = route(routing, "ship", policy_id=alone, state={"stage": "final"}, custom_data={"priority": 95})
    assert result.decision == CONTINUE
    assert result.strategy == PRIORITY_S
    assert result.confidence == 0.95
    assert result.reasoning == "High-priority task (priority=95)"
    assert as_dict(result.metadata) == {"priority": 95, "high_threshold": 80, "low_threshold": 20}


def test_case_16_history_stats_and_no_routers_default(routing, policy_id):
    """History is newest first; stats count the results; a policy without routers → continue 0.5."""
    created = put(routing, policy_id)
    assert created.created
    assert list(created.policy.routers) == []

    tasks = ["first", "second", "first"]
    results = [route(routing, task, policy_id=policy_id, correlation_id=f"corr-{i}") for i, task in enumerate(tasks)]
    for result in results:
        assert result.decision == CONTINUE
        assert result.confidence == 0.5
        assert result.reasoning == NO_ROUTERS
        assert result.strategy == PRIORITY_S
        assert result.routers_evaluated == 0
        assert result.next_task == ""
        assert as_dict(result.metadata) == {}

    listed = history(routing, policy_id)
    assert [r.routing_id for r in listed] == [r.routing_id for r in reversed(results)]
    assert [r.correlation_id for r in listed] == ["corr-2", "corr-1", "corr-0"]
    assert listed[0] == results[2]  # the history keeps the result as returned

    first_only = history(routing, policy_id, current_task="first")
    assert [r.routing_id for r in first_only] == [results[2].routing_id, results[0].routing_id]

    s = stats(routing, policy_id)
    assert s.total_routings == 3
    assert dict(s.decisions) == {"continue": 3}
    assert dict(s.strategies) == {"priority": 3}
    times = [r.routing_time_ms for r in results]
    assert s.min_routing_time_ms == pytest.approx(min(times))
    assert s.max_routing_time_ms == pytest.approx(max(times))
    assert s.avg_routing_time_ms == pytest.approx(sum(times) / 3)
    assert 0 < s.min_routing_time_ms <= s.avg_routing_time_ms <= s.max_routing_time_ms


# Stored versus inline policies, several clients --------------------------------------------------------------------

def test_policy_stored_by_one_client_is_used_by_another(server, policy_id):
    """A policy put through one channel is routed with, read and deleted through a second, separate channel."""
    first = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    second = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        grpc.channel_ready_future(first).result(timeout=CALL_TIMEOUT)
        grpc.channel_ready_future(second).result(timeout=CALL_TIMEOUT)
        writer = routing_pb2_grpc.RoutingServiceStub(first)
        reader = routing_pb2_grpc.RoutingServiceStub(second)

        put(writer, policy_id, conditional(rule("late", "hour", pb.CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL, 18, END,
                                                next_task="sleep")))
        result = route(reader, "work", policy_id=policy_id, state={"hour": 22})
        assert (result.decision, result.next_task, result.confidence) == (END, "sleep", 1.0)
        assert result.reasoning == "Conditional rule 'late' matched: hour >= 18"  # empty name → the rule id

        got = reader.GetRoutingPolicy(pb.GetRoutingPolicyRequest(policy_id=policy_id), timeout=CALL_TIMEOUT).policy
        assert got.policy_id == policy_id
        assert got.routers[0].conditional.rules[0].rule_id == "late"
        assert got.routers[0].conditional.rules[0].priority == 50  # the default, filled in

        # The history is shared too: the writer sees the reader's result.
        assert [r.routing_id for r in history(writer, policy_id)] == [result.routing_id]

        deleted = reader.DeleteRoutingPolicy(pb.DeleteRoutingPolicyRequest(policy_id=policy_id), timeout=CALL_TIMEOUT)
        assert deleted.cleared_records == 1
        assert_not_found(writer.Route, pb.RouteRequest(policy_id=policy_id, current_task="work"))
    finally:
        first.close()
        second.close()


def test_inline_policy_routes_without_being_stored(routing, policy_id):
    policy = pb.RoutingPolicy(policy_id=policy_id, routers=[
        state_analysis(),
        conditional(rule("urgent", "tags", pb.CONDITION_OPERATOR_CONTAINS, "urgent", END, name="Urgent")),
    ])
    result = route(routing, "triage", policy=policy, state={"tags": ["urgent", "billing"]})
    assert result.decision == END
    assert result.strategy == CONDITIONAL_S
    assert result.reasoning == "Conditional rule 'Urgent' matched: tags contains urgent"
    assert result.routers_evaluated == 2

    # Not stored: neither readable nor routable by id …
    assert_not_found(routing.GetRoutingPolicy, pb.GetRoutingPolicyRequest(policy_id=policy_id))
    assert_not_found(routing.Route, pb.RouteRequest(policy_id=policy_id, current_task="triage"))
    # … but its result is recorded under its id.
    assert [r.routing_id for r in history(routing, policy_id)] == [result.routing_id]
    assert stats(routing, policy_id).total_routings == 1


def test_put_replaces_policy_and_keeps_history(routing, policy_id):
    first = put(routing, policy_id, priority_router())
    assert first.created
    route(routing, "t", policy_id=policy_id)  # medium priority 50 → continue 0.8

    second = put(routing, policy_id, state_analysis())
    assert not second.created
    assert second.policy.created_at == first.policy.created_at
    assert len(second.policy.routers) == 1 and second.policy.routers[0].HasField("state_analysis")
    result = route(routing, "t", policy_id=policy_id, state={"errors": ["boom"]})
    assert (result.decision, result.strategy) == (RETRY, STATE_S)

    assert [r.strategy for r in history(routing, policy_id)] == [STATE_S, PRIORITY_S]
    s = stats(routing, policy_id)
    assert s.total_routings == 2
    assert dict(s.decisions) == {"continue": 1, "retry": 1}
    assert dict(s.strategies) == {"priority": 1, "state_analysis": 1}


def test_history_pagination_and_clear(routing, policy_id):
    put(routing, policy_id, parallel(pb.ParallelHint(task_group=["a", "b"])))
    results = [route(routing, "a" if i % 2 == 0 else "c", policy_id=policy_id) for i in range(5)]
    assert [r.decision for r in results] == [PARALLEL, CONTINUE, PARALLEL, CONTINUE, PARALLEL]

    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = routing.ListRoutingHistory(
            pb.ListRoutingHistoryRequest(policy_id=policy_id, page_size=2, page_token=token), timeout=CALL_TIMEOUT)
        assert len(page.results) <= 2
        seen.extend(r.routing_id for r in page.results)
        token = page.next_page_token
        if not token:
            break
    assert seen == [r.routing_id for r in reversed(results)]

    s = stats(routing, policy_id)
    assert s.total_routings == 5
    assert dict(s.decisions) == {"parallel": 3, "continue": 2}
    assert dict(s.strategies) == {"parallel": 5}

    cleared = routing.ClearRoutingHistory(pb.ClearRoutingHistoryRequest(policy_id=policy_id), timeout=CALL_TIMEOUT)
    assert cleared.cleared_records == 5
    assert history(routing, policy_id) == []
    s = stats(routing, policy_id)
    assert (s.total_routings, s.avg_routing_time_ms, s.min_routing_time_ms, s.max_routing_time_ms) == (0, 0, 0, 0)
    assert dict(s.decisions) == {} and dict(s.strategies) == {}
    # The policy itself is kept.
    assert route(routing, "a", policy_id=policy_id).decision == PARALLEL


def test_unknown_policy_id_history_is_empty(routing, policy_id):
    assert history(routing, policy_id) == []
    s = stats(routing, policy_id)
    assert s.total_routings == 0 and dict(s.decisions) == {}


# Results tied to a coordination ------------------------------------------------------------------------------------

def test_results_tied_to_a_coordination_go_with_it_and_stats_stay(server, routing, policy_id):
    """Route with a coordination_id ties the result to it: listed by it, and gone when it is deleted; stats stay."""
    coordinations = coordination_pb2_grpc.CoordinationServiceStub(server.channel)
    mine, other = f"py-scope-{uuid.uuid4()}", f"py-scope-{uuid.uuid4()}"
    put(routing, policy_id, conditional(rule("err", "error_count", pb.CONDITION_OPERATOR_GREATER_THAN, 0, RETRY)))
    first = route(routing, "generate", policy_id=policy_id, coordination_id=mine, state={"error_count": 1})
    assert (first.coordination_id, first.decision) == (mine, RETRY)
    route(routing, "generate", policy_id=policy_id, coordination_id=other)
    route(routing, "generate", policy_id=policy_id)
    route(routing, "review", policy_id=policy_id, coordination_id=mine)

    # The coordination exists for every service now.
    got = coordinations.GetCoordination(coordination_pb2.GetCoordinationRequest(coordination_id=mine),
                                        timeout=CALL_TIMEOUT).coordination
    assert got.coordination_id == mine and got.last_activity_at.seconds > 0

    def tagged(results: list[pb.RoutingResult]) -> list[tuple[str, str]]:
        return [(r.coordination_id, r.current_task) for r in results]

    assert tagged(history(routing, policy_id, coordination_id=mine)) == [(mine, "review"), (mine, "generate")]
    assert tagged(history(routing, policy_id, coordination_id=mine, current_task="generate")) == [(mine, "generate")]
    page = routing.ListRoutingHistory(pb.ListRoutingHistoryRequest(policy_id=policy_id, coordination_id=mine,
                                                                   page_size=1), timeout=CALL_TIMEOUT)
    invalid_argument(routing.ListRoutingHistory, pb.ListRoutingHistoryRequest(
        policy_id=policy_id, coordination_id=other, page_size=1, page_token=page.next_page_token), "page_token")
    before = stats(routing, policy_id)
    assert before.total_routings == 4 and dict(before.decisions) == {"retry": 1, "continue": 3}

    deleted = coordinations.DeleteCoordination(coordination_pb2.DeleteCoordinationRequest(coordination_id=mine),
                                               timeout=CALL_TIMEOUT)
    assert deleted.deleted
    assert tagged(history(routing, policy_id)) == [("", "generate"), (other, "generate")]
    assert history(routing, policy_id, coordination_id=mine) == []
    assert stats(routing, policy_id) == before
    coordinations.DeleteCoordination(coordination_pb2.DeleteCoordinationRequest(coordination_id=other),
                                     timeout=CALL_TIMEOUT)


def test_coordination_id_over_100_characters_is_invalid(routing, policy_id):
    invalid_argument(routing.Route, pb.RouteRequest(policy=pb.RoutingPolicy(policy_id=policy_id), current_task="t",
                                                    coordination_id="x" * 101), "coordination_id")
    assert history(routing, policy_id) == []


# Errors ------------------------------------------------------------------------------------------------------------

def test_unknown_policy_is_not_found(routing, policy_id):
    error = assert_not_found(routing.Route, pb.RouteRequest(policy_id=policy_id, current_task="t"))
    assert policy_id in error.details()
    assert_not_found(routing.GetRoutingPolicy, pb.GetRoutingPolicyRequest(policy_id=policy_id))
    assert_not_found(routing.DeleteRoutingPolicy, pb.DeleteRoutingPolicyRequest(policy_id=policy_id))
    # A failed Route records nothing.
    assert history(routing, policy_id) == []


def test_two_routers_of_one_strategy_are_rejected(routing, policy_id):
    request = pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id=policy_id, routers=[
        conditional(), priority_router(), conditional(),
    ]))
    error = invalid_argument(routing.PutRoutingPolicy, request, "policy.routers[2]")
    assert "at most one conditional router" in error.details()
    # Nothing stored.
    assert_not_found(routing.GetRoutingPolicy, pb.GetRoutingPolicyRequest(policy_id=policy_id))

    # The same check applies to an inline policy.
    inline = pb.RoutingPolicy(policy_id=policy_id, routers=[state_analysis(), state_analysis()])
    invalid_argument(routing.Route, pb.RouteRequest(policy=inline, current_task="t"), "policy.routers[1]")
    assert history(routing, policy_id) == []


def test_duplicate_rule_ids_are_rejected(routing, policy_id):
    request = pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id=policy_id, routers=[conditional(
        rule("same", "x", pb.CONDITION_OPERATOR_EQUAL, 1, END),
        rule("same", "y", pb.CONDITION_OPERATOR_EQUAL, 2, SKIP),
    )]))
    invalid_argument(routing.PutRoutingPolicy, request, "policy.routers[0].conditional.rules[1].rule_id")
    assert_not_found(routing.GetRoutingPolicy, pb.GetRoutingPolicyRequest(policy_id=policy_id))


def test_rule_priority_out_of_range_is_rejected(routing, policy_id):
    request = pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id=policy_id, routers=[
        priority_router(),
        conditional(rule("r", "x", pb.CONDITION_OPERATOR_EQUAL, 1, END, priority=101)),
    ]))
    invalid_argument(routing.PutRoutingPolicy, request, "policy.routers[1].conditional.rules[0].priority")
    assert_not_found(routing.GetRoutingPolicy, pb.GetRoutingPolicyRequest(policy_id=policy_id))

    # The bounds themselves are fine.
    put(routing, policy_id, conditional(rule("lo", "x", pb.CONDITION_OPERATOR_EQUAL, 1, END, priority=0),
                                        rule("hi", "x", pb.CONDITION_OPERATOR_EQUAL, 1, SKIP, priority=100)))
    assert route(routing, "t", policy_id=policy_id, state={"x": 1}).decision == SKIP


def test_empty_current_task_is_rejected(routing, policy_id):
    put(routing, policy_id)
    error = invalid_argument(routing.Route, pb.RouteRequest(policy_id=policy_id, current_task=""), "current_task")
    assert "must not be empty" in error.details()
    invalid_argument(routing.Route, pb.RouteRequest(policy_id=policy_id, current_task="x" * 257), "current_task")
    assert history(routing, policy_id) == []


def test_other_invalid_route_requests(routing, policy_id):
    put(routing, policy_id)
    invalid_argument(routing.Route, pb.RouteRequest(policy_id=policy_id, current_task="t", execution_time_ms=-1),
                     "execution_time_ms")
    invalid_argument(routing.Route, pb.RouteRequest(policy_id=policy_id, current_task="t", retry_count=-1),
                     "retry_count")
    error = rpc_error(routing.Route, pb.RouteRequest(current_task="t"))  # neither policy_id nor policy
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()} {error.details()}"
    invalid_argument(routing.PutRoutingPolicy,
                     pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id="", routers=[])),
                     "policy.policy_id")
    invalid_argument(routing.PutRoutingPolicy,
                     pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id=policy_id, routers=[pb.Router()])),
                     "policy.routers[0]")
    assert history(routing, policy_id) == []


def test_routing_time_is_positive_for_every_strategy(routing, policy_id):
    put(routing, policy_id,
        conditional(rule("r", "x", pb.CONDITION_OPERATOR_IN, [1, 2], BRANCH)),
        parallel(pb.ParallelHint(task_group=["t", "u"])),
        state_analysis(),
        priority_router(low_threshold=10, high_threshold=90))
    # x=1: conditional 1.0×100 wins. Otherwise state_analysis continue 0.9×80 = 72 beats parallel 0.9×60 = 54,
    # the conditional no-match 0.5×100 = 50 and priority medium 0.8×40 = 32.
    expected = [(BRANCH, CONDITIONAL_S), (CONTINUE, STATE_S), (CONTINUE, STATE_S)]
    for state, want in zip(({"x": 1}, {"x": 3}, {}), expected):
        result = route(routing, "t", policy_id=policy_id, state=state)
        assert result.routing_time_ms > 0
        assert result.routers_evaluated == 4
        assert (result.decision, result.strategy) == want, (state, result)
    s = stats(routing, policy_id)
    assert s.total_routings == 3
    assert 0 < s.min_routing_time_ms <= s.avg_routing_time_ms <= s.max_routing_time_ms


# Router details ----------------------------------------------------------------------------------------------------

def test_priority_sources_thresholds_and_non_numeric(routing, policy_id):
    put(routing, policy_id, priority_router())
    cases = [
        ({"task_priority": 90}, {"priority": 0}, SKIP, 0.85, "Low-priority task (priority=0)"),  # 0 counts
        ({"task_priority": 90}, None, CONTINUE, 0.95, "High-priority task (priority=90)"),
        ({}, None, CONTINUE, 0.8, "Medium-priority task (priority=50)"),
        ({}, {"priority": 20}, SKIP, 0.85, "Low-priority task (priority=20)"),
        ({}, {"priority": 80}, CONTINUE, 0.95, "High-priority task (priority=80)"),
        ({}, {"priority": 55.5}, CONTINUE, 0.8, "Medium-priority task (priority=55.5)"),
    ]
    for state, custom, decision, confidence, reasoning in cases:
        result = route(routing, "t", policy_id=policy_id, state=state, custom_data=custom)
        assert (result.decision, result.confidence, result.reasoning) == (decision, confidence, reasoning), (state, custom)
        assert result.strategy == PRIORITY_S

    # Configured thresholds and decisions.
    custom_policy = new_policy_id()
    put(routing, custom_policy, priority_router(high_threshold=60, low_threshold=40, high_priority_decision=END,
                                                low_priority_decision=ERROR, default_decision=BRANCH))
    assert route(routing, "t", policy_id=custom_policy, custom_data={"priority": 60}).decision == END
    assert route(routing, "t", policy_id=custom_policy, custom_data={"priority": 40}).decision == ERROR
    assert route(routing, "t", policy_id=custom_policy, custom_data={"priority": 50}).decision == BRANCH

    # A non-numeric priority skips the router; with nothing else left the default result is returned.
    result = route(routing, "t", policy_id=policy_id, custom_data={"priority": "urgent"})
    assert (result.decision, result.confidence, result.strategy) == (CONTINUE, 0.5, PRIORITY_S)
    assert result.routers_evaluated == 1
    # … and next to another router, that router decides.
    both = new_policy_id()
    put(routing, both, priority_router(), parallel())
    result = route(routing, "t", policy_id=both, custom_data={"priority": "urgent"})
    assert (result.decision, result.confidence, result.reasoning) == (CONTINUE, 0.7, NO_PARALLEL)
    assert result.routers_evaluated == 2


def test_conditional_operators_and_value_formatting(routing, policy_id):
    cases = [
        # (operator, rule value, state value, matches, printed rule value)
        (pb.CONDITION_OPERATOR_EQUAL, True, True, True, "True"),
        (pb.CONDITION_OPERATOR_NOT_EQUAL, "a", "b", True, "a"),
        (pb.CONDITION_OPERATOR_LESS_THAN, 0.5, 0.25, True, "0.5"),
        (pb.CONDITION_OPERATOR_LESS_THAN_OR_EQUAL, "m", "m", True, "m"),
        (pb.CONDITION_OPERATOR_IN, ["x", "y"], "y", True, "['x', 'y']"),
        (pb.CONDITION_OPERATOR_IN, "hello world", "lo w", True, "hello world"),
        (pb.CONDITION_OPERATOR_NOT_IN, ["x", "y"], "z", True, "['x', 'y']"),
        (pb.CONDITION_OPERATOR_NOT_CONTAINS, "bad", ["good"], True, "bad"),
        (pb.CONDITION_OPERATOR_EQUAL, {"k": [1, None]}, {"k": [1, None]}, True, "{'k': [1, None]}"),
        (pb.CONDITION_OPERATOR_GREATER_THAN, 5, "9", False, None),  # mismatched types never match
        (pb.CONDITION_OPERATOR_NOT_EQUAL, 5, "5", False, None),
        (pb.CONDITION_OPERATOR_NOT_IN, ["x"], None, False, None),  # null never matches
    ]
    symbols = {pb.CONDITION_OPERATOR_EQUAL: "==", pb.CONDITION_OPERATOR_NOT_EQUAL: "!=",
               pb.CONDITION_OPERATOR_LESS_THAN: "<", pb.CONDITION_OPERATOR_LESS_THAN_OR_EQUAL: "<=",
               pb.CONDITION_OPERATOR_GREATER_THAN: ">", pb.CONDITION_OPERATOR_IN: "in",
               pb.CONDITION_OPERATOR_NOT_IN: "not_in", pb.CONDITION_OPERATOR_NOT_CONTAINS: "not_contains"}
    for i, (operator, rule_value, state_value, matches, printed) in enumerate(cases):
        inline = pb.RoutingPolicy(policy_id=policy_id, routers=[
            conditional(rule(f"r{i}", "v", operator, rule_value, END, next_task="n"))])
        result = route(routing, "t", policy=inline, state={"v": state_value})
        if matches:
            assert result.decision == END, (operator, rule_value, state_value)
            assert result.reasoning == f"Conditional rule 'r{i}' matched: v {symbols[operator]} {printed}"
        else:
            assert result.reasoning == NO_RULE_MATCHED, (operator, rule_value, state_value)


def test_history_bound_and_policy_limit():
    """--max-routing-history keeps the newest results (the stats count them all); --max-routing-policies refuses one
    more policy."""
    with start_server("--max-routing-history", "5", "--max-routing-policies", "2") as srv:
        stub = routing_pb2_grpc.RoutingServiceStub(srv.channel)
        first, second = new_policy_id(), new_policy_id()
        put(stub, first)
        put(stub, second)
        results = [route(stub, f"task-{i}", policy_id=first) for i in range(8)]
        assert [r.routing_id for r in history(stub, first)] == [r.routing_id for r in reversed(results[3:])]
        assert stats(stub, first).total_routings == 8  # running totals: results past the bound still count

        error = rpc_error(stub.PutRoutingPolicy,
                          pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id=new_policy_id())))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, f"{error.code()} {error.details()}"
        put(stub, first, priority_router())  # replacing a stored policy is still allowed
        stub.DeleteRoutingPolicy(pb.DeleteRoutingPolicyRequest(policy_id=second), timeout=CALL_TIMEOUT)
        assert put(stub, new_policy_id()).created


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_condition_value_is_invalid_argument(routing, policy_id, number):
    """A JSON value cannot hold Infinity/NaN: such a rule value is bad input, not an internal error."""
    request = pb.PutRoutingPolicyRequest(policy=pb.RoutingPolicy(policy_id=policy_id, routers=[conditional(
        pb.ConditionalRule(rule_id="r", condition_key="k", operator=pb.CONDITION_OPERATOR_GREATER_THAN,
                           condition_value=struct_pb2.Value(number_value=number), decision=END))]))
    invalid_argument(routing.PutRoutingPolicy, request, "policy.routers[0].conditional.rules[0].condition_value")
