import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoutingDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_DECISION_UNSPECIFIED: _ClassVar[RoutingDecision]
    ROUTING_DECISION_ERROR: _ClassVar[RoutingDecision]
    ROUTING_DECISION_END: _ClassVar[RoutingDecision]
    ROUTING_DECISION_RETRY: _ClassVar[RoutingDecision]
    ROUTING_DECISION_PARALLEL: _ClassVar[RoutingDecision]
    ROUTING_DECISION_CONDITIONAL: _ClassVar[RoutingDecision]
    ROUTING_DECISION_BRANCH: _ClassVar[RoutingDecision]
    ROUTING_DECISION_SKIP: _ClassVar[RoutingDecision]
    ROUTING_DECISION_CONTINUE: _ClassVar[RoutingDecision]

class RoutingStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_STRATEGY_UNSPECIFIED: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_CONDITIONAL: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_STATE_ANALYSIS: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_PARALLEL: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_PRIORITY: _ClassVar[RoutingStrategy]

class ConditionOperator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONDITION_OPERATOR_UNSPECIFIED: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_EQUAL: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_NOT_EQUAL: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_GREATER_THAN: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_LESS_THAN: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_LESS_THAN_OR_EQUAL: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_IN: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_NOT_IN: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_CONTAINS: _ClassVar[ConditionOperator]
    CONDITION_OPERATOR_NOT_CONTAINS: _ClassVar[ConditionOperator]
ROUTING_DECISION_UNSPECIFIED: RoutingDecision
ROUTING_DECISION_ERROR: RoutingDecision
ROUTING_DECISION_END: RoutingDecision
ROUTING_DECISION_RETRY: RoutingDecision
ROUTING_DECISION_PARALLEL: RoutingDecision
ROUTING_DECISION_CONDITIONAL: RoutingDecision
ROUTING_DECISION_BRANCH: RoutingDecision
ROUTING_DECISION_SKIP: RoutingDecision
ROUTING_DECISION_CONTINUE: RoutingDecision
ROUTING_STRATEGY_UNSPECIFIED: RoutingStrategy
ROUTING_STRATEGY_CONDITIONAL: RoutingStrategy
ROUTING_STRATEGY_STATE_ANALYSIS: RoutingStrategy
ROUTING_STRATEGY_PARALLEL: RoutingStrategy
ROUTING_STRATEGY_PRIORITY: RoutingStrategy
CONDITION_OPERATOR_UNSPECIFIED: ConditionOperator
CONDITION_OPERATOR_EQUAL: ConditionOperator
CONDITION_OPERATOR_NOT_EQUAL: ConditionOperator
CONDITION_OPERATOR_GREATER_THAN: ConditionOperator
CONDITION_OPERATOR_LESS_THAN: ConditionOperator
CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL: ConditionOperator
CONDITION_OPERATOR_LESS_THAN_OR_EQUAL: ConditionOperator
CONDITION_OPERATOR_IN: ConditionOperator
CONDITION_OPERATOR_NOT_IN: ConditionOperator
CONDITION_OPERATOR_CONTAINS: ConditionOperator
CONDITION_OPERATOR_NOT_CONTAINS: ConditionOperator

class ConditionalRule(_message.Message):
    __slots__ = ("rule_id", "name", "condition_key", "operator", "condition_value", "decision", "next_task", "priority")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITION_KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    CONDITION_VALUE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    NEXT_TASK_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    name: str
    condition_key: str
    operator: ConditionOperator
    condition_value: _struct_pb2.Value
    decision: RoutingDecision
    next_task: str
    priority: int
    def __init__(self, rule_id: _Optional[str] = ..., name: _Optional[str] = ..., condition_key: _Optional[str] = ..., operator: _Optional[_Union[ConditionOperator, str]] = ..., condition_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., decision: _Optional[_Union[RoutingDecision, str]] = ..., next_task: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class ConditionalRouter(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[ConditionalRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[ConditionalRule, _Mapping]]] = ...) -> None: ...

class ParallelHint(_message.Message):
    __slots__ = ("task_group", "dependencies", "estimated_duration_ms")
    TASK_GROUP_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    task_group: _containers.RepeatedScalarFieldContainer[str]
    dependencies: _containers.RepeatedScalarFieldContainer[str]
    estimated_duration_ms: float
    def __init__(self, task_group: _Optional[_Iterable[str]] = ..., dependencies: _Optional[_Iterable[str]] = ..., estimated_duration_ms: _Optional[float] = ...) -> None: ...

class ParallelRouter(_message.Message):
    __slots__ = ("hints",)
    HINTS_FIELD_NUMBER: _ClassVar[int]
    hints: _containers.RepeatedCompositeFieldContainer[ParallelHint]
    def __init__(self, hints: _Optional[_Iterable[_Union[ParallelHint, _Mapping]]] = ...) -> None: ...

class StateAnalysisConfig(_message.Message):
    __slots__ = ("max_complexity_score", "error_handling_decision")
    MAX_COMPLEXITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_HANDLING_DECISION_FIELD_NUMBER: _ClassVar[int]
    max_complexity_score: float
    error_handling_decision: RoutingDecision
    def __init__(self, max_complexity_score: _Optional[float] = ..., error_handling_decision: _Optional[_Union[RoutingDecision, str]] = ...) -> None: ...

class StateAnalysisRouter(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: StateAnalysisConfig
    def __init__(self, config: _Optional[_Union[StateAnalysisConfig, _Mapping]] = ...) -> None: ...

class PriorityConfig(_message.Message):
    __slots__ = ("high_threshold", "low_threshold", "high_priority_decision", "low_priority_decision", "default_decision")
    HIGH_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LOW_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    HIGH_PRIORITY_DECISION_FIELD_NUMBER: _ClassVar[int]
    LOW_PRIORITY_DECISION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DECISION_FIELD_NUMBER: _ClassVar[int]
    high_threshold: float
    low_threshold: float
    high_priority_decision: RoutingDecision
    low_priority_decision: RoutingDecision
    default_decision: RoutingDecision
    def __init__(self, high_threshold: _Optional[float] = ..., low_threshold: _Optional[float] = ..., high_priority_decision: _Optional[_Union[RoutingDecision, str]] = ..., low_priority_decision: _Optional[_Union[RoutingDecision, str]] = ..., default_decision: _Optional[_Union[RoutingDecision, str]] = ...) -> None: ...

class PriorityRouter(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: PriorityConfig
    def __init__(self, config: _Optional[_Union[PriorityConfig, _Mapping]] = ...) -> None: ...

class Router(_message.Message):
    __slots__ = ("conditional", "parallel", "state_analysis", "priority")
    CONDITIONAL_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_FIELD_NUMBER: _ClassVar[int]
    STATE_ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    conditional: ConditionalRouter
    parallel: ParallelRouter
    state_analysis: StateAnalysisRouter
    priority: PriorityRouter
    def __init__(self, conditional: _Optional[_Union[ConditionalRouter, _Mapping]] = ..., parallel: _Optional[_Union[ParallelRouter, _Mapping]] = ..., state_analysis: _Optional[_Union[StateAnalysisRouter, _Mapping]] = ..., priority: _Optional[_Union[PriorityRouter, _Mapping]] = ...) -> None: ...

class RoutingPolicy(_message.Message):
    __slots__ = ("policy_id", "routers", "created_at", "updated_at")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    routers: _containers.RepeatedCompositeFieldContainer[Router]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, policy_id: _Optional[str] = ..., routers: _Optional[_Iterable[_Union[Router, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RoutingResult(_message.Message):
    __slots__ = ("routing_id", "decision", "confidence", "reasoning", "strategy", "next_task", "metadata", "routing_time_ms", "routers_evaluated", "current_task", "correlation_id", "created_at", "coordination_id")
    ROUTING_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    NEXT_TASK_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ROUTING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    ROUTERS_EVALUATED_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TASK_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    routing_id: str
    decision: RoutingDecision
    confidence: float
    reasoning: str
    strategy: RoutingStrategy
    next_task: str
    metadata: _struct_pb2.Struct
    routing_time_ms: float
    routers_evaluated: int
    current_task: str
    correlation_id: str
    created_at: _timestamp_pb2.Timestamp
    coordination_id: str
    def __init__(self, routing_id: _Optional[str] = ..., decision: _Optional[_Union[RoutingDecision, str]] = ..., confidence: _Optional[float] = ..., reasoning: _Optional[str] = ..., strategy: _Optional[_Union[RoutingStrategy, str]] = ..., next_task: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., routing_time_ms: _Optional[float] = ..., routers_evaluated: _Optional[int] = ..., current_task: _Optional[str] = ..., correlation_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., coordination_id: _Optional[str] = ...) -> None: ...

class RoutingStats(_message.Message):
    __slots__ = ("total_routings", "avg_routing_time_ms", "min_routing_time_ms", "max_routing_time_ms", "decisions", "strategies")
    class DecisionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class StrategiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_ROUTINGS_FIELD_NUMBER: _ClassVar[int]
    AVG_ROUTING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_ROUTING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_ROUTING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    total_routings: int
    avg_routing_time_ms: float
    min_routing_time_ms: float
    max_routing_time_ms: float
    decisions: _containers.ScalarMap[str, int]
    strategies: _containers.ScalarMap[str, int]
    def __init__(self, total_routings: _Optional[int] = ..., avg_routing_time_ms: _Optional[float] = ..., min_routing_time_ms: _Optional[float] = ..., max_routing_time_ms: _Optional[float] = ..., decisions: _Optional[_Mapping[str, int]] = ..., strategies: _Optional[_Mapping[str, int]] = ...) -> None: ...

class PutRoutingPolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RoutingPolicy
    def __init__(self, policy: _Optional[_Union[RoutingPolicy, _Mapping]] = ...) -> None: ...

class PutRoutingPolicyResponse(_message.Message):
    __slots__ = ("policy", "created")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    policy: RoutingPolicy
    created: bool
    def __init__(self, policy: _Optional[_Union[RoutingPolicy, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetRoutingPolicyRequest(_message.Message):
    __slots__ = ("policy_id",)
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ...) -> None: ...

class GetRoutingPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RoutingPolicy
    def __init__(self, policy: _Optional[_Union[RoutingPolicy, _Mapping]] = ...) -> None: ...

class ListRoutingPoliciesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRoutingPoliciesResponse(_message.Message):
    __slots__ = ("policies", "next_page_token")
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[RoutingPolicy]
    next_page_token: str
    def __init__(self, policies: _Optional[_Iterable[_Union[RoutingPolicy, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteRoutingPolicyRequest(_message.Message):
    __slots__ = ("policy_id",)
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ...) -> None: ...

class DeleteRoutingPolicyResponse(_message.Message):
    __slots__ = ("cleared_records",)
    CLEARED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    cleared_records: int
    def __init__(self, cleared_records: _Optional[int] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("policy_id", "policy", "current_task", "state", "execution_time_ms", "retry_count", "custom_data", "correlation_id", "coordination_id")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TASK_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_DATA_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    policy: RoutingPolicy
    current_task: str
    state: _struct_pb2.Struct
    execution_time_ms: float
    retry_count: int
    custom_data: _struct_pb2.Struct
    correlation_id: str
    coordination_id: str
    def __init__(self, policy_id: _Optional[str] = ..., policy: _Optional[_Union[RoutingPolicy, _Mapping]] = ..., current_task: _Optional[str] = ..., state: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., execution_time_ms: _Optional[float] = ..., retry_count: _Optional[int] = ..., custom_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., correlation_id: _Optional[str] = ..., coordination_id: _Optional[str] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: RoutingResult
    def __init__(self, result: _Optional[_Union[RoutingResult, _Mapping]] = ...) -> None: ...

class ListRoutingHistoryRequest(_message.Message):
    __slots__ = ("policy_id", "current_task", "page_size", "page_token", "coordination_id")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TASK_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    current_task: str
    page_size: int
    page_token: str
    coordination_id: str
    def __init__(self, policy_id: _Optional[str] = ..., current_task: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., coordination_id: _Optional[str] = ...) -> None: ...

class ListRoutingHistoryResponse(_message.Message):
    __slots__ = ("results", "next_page_token")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RoutingResult]
    next_page_token: str
    def __init__(self, results: _Optional[_Iterable[_Union[RoutingResult, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRoutingStatsRequest(_message.Message):
    __slots__ = ("policy_id",)
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ...) -> None: ...

class GetRoutingStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: RoutingStats
    def __init__(self, stats: _Optional[_Union[RoutingStats, _Mapping]] = ...) -> None: ...

class ClearRoutingHistoryRequest(_message.Message):
    __slots__ = ("policy_id",)
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ...) -> None: ...

class ClearRoutingHistoryResponse(_message.Message):
    __slots__ = ("cleared_records",)
    CLEARED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    cleared_records: int
    def __init__(self, cleared_records: _Optional[int] = ...) -> None: ...
