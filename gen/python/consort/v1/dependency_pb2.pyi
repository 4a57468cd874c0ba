import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DependencyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPENDENCY_TYPE_UNSPECIFIED: _ClassVar[DependencyType]
    DEPENDENCY_TYPE_AGENT_COMPLETION: _ClassVar[DependencyType]
    DEPENDENCY_TYPE_RESOURCE_AVAILABILITY: _ClassVar[DependencyType]
    DEPENDENCY_TYPE_QUALITY_GATE: _ClassVar[DependencyType]

class DependencyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPENDENCY_STATUS_UNSPECIFIED: _ClassVar[DependencyStatus]
    DEPENDENCY_STATUS_PENDING: _ClassVar[DependencyStatus]
    DEPENDENCY_STATUS_IN_PROGRESS: _ClassVar[DependencyStatus]
    DEPENDENCY_STATUS_RESOLVED: _ClassVar[DependencyStatus]
    DEPENDENCY_STATUS_FAILED: _ClassVar[DependencyStatus]
    DEPENDENCY_STATUS_TIMEOUT: _ClassVar[DependencyStatus]
DEPENDENCY_TYPE_UNSPECIFIED: DependencyType
DEPENDENCY_TYPE_AGENT_COMPLETION: DependencyType
DEPENDENCY_TYPE_RESOURCE_AVAILABILITY: DependencyType
DEPENDENCY_TYPE_QUALITY_GATE: DependencyType
DEPENDENCY_STATUS_UNSPECIFIED: DependencyStatus
DEPENDENCY_STATUS_PENDING: DependencyStatus
DEPENDENCY_STATUS_IN_PROGRESS: DependencyStatus
DEPENDENCY_STATUS_RESOLVED: DependencyStatus
DEPENDENCY_STATUS_FAILED: DependencyStatus
DEPENDENCY_STATUS_TIMEOUT: DependencyStatus

class AgentCompletionTarget(_message.Message):
    __slots__ = ("agent_id", "require_success")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_SUCCESS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    require_success: bool
    def __init__(self, agent_id: _Optional[str] = ..., require_success: _Optional[bool] = ...) -> None: ...

class ResourceTarget(_message.Message):
    __slots__ = ("resource_id",)
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_id: str
    def __init__(self, resource_id: _Optional[str] = ...) -> None: ...

class QualityGateTarget(_message.Message):
    __slots__ = ("gate_id", "threshold")
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    gate_id: str
    threshold: float
    def __init__(self, gate_id: _Optional[str] = ..., threshold: _Optional[float] = ...) -> None: ...

class Dependency(_message.Message):
    __slots__ = ("dependency_id", "timeout", "agent_completion", "resource", "quality_gate")
    DEPENDENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    AGENT_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_GATE_FIELD_NUMBER: _ClassVar[int]
    dependency_id: str
    timeout: _duration_pb2.Duration
    agent_completion: AgentCompletionTarget
    resource: ResourceTarget
    quality_gate: QualityGateTarget
    def __init__(self, dependency_id: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., agent_completion: _Optional[_Union[AgentCompletionTarget, _Mapping]] = ..., resource: _Optional[_Union[ResourceTarget, _Mapping]] = ..., quality_gate: _Optional[_Union[QualityGateTarget, _Mapping]] = ...) -> None: ...

class DependencyResult(_message.Message):
    __slots__ = ("dependency_id", "status", "duration", "message")
    DEPENDENCY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    dependency_id: str
    status: DependencyStatus
    duration: _duration_pb2.Duration
    message: str
    def __init__(self, dependency_id: _Optional[str] = ..., status: _Optional[_Union[DependencyStatus, str]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class DependencyRecord(_message.Message):
    __slots__ = ("coordination_id", "agent_id", "dependency", "type", "status", "message", "started_at", "finished_at", "duration")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    agent_id: str
    dependency: Dependency
    type: DependencyType
    status: DependencyStatus
    message: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    def __init__(self, coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., dependency: _Optional[_Union[Dependency, _Mapping]] = ..., type: _Optional[_Union[DependencyType, str]] = ..., status: _Optional[_Union[DependencyStatus, str]] = ..., message: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ResolveDependenciesRequest(_message.Message):
    __slots__ = ("coordination_id", "agent_id", "dependencies")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    agent_id: str
    dependencies: _containers.RepeatedCompositeFieldContainer[Dependency]
    def __init__(self, coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., dependencies: _Optional[_Iterable[_Union[Dependency, _Mapping]]] = ...) -> None: ...

class ResolveDependenciesResponse(_message.Message):
    __slots__ = ("success", "results")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    results: _containers.RepeatedCompositeFieldContainer[DependencyResult]
    def __init__(self, success: _Optional[bool] = ..., results: _Optional[_Iterable[_Union[DependencyResult, _Mapping]]] = ...) -> None: ...

class SetQualityGateScoreRequest(_message.Message):
    __slots__ = ("coordination_id", "gate_id", "score")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    gate_id: str
    score: float
    def __init__(self, coordination_id: _Optional[str] = ..., gate_id: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class SetQualityGateScoreResponse(_message.Message):
    __slots__ = ("released_waits",)
    RELEASED_WAITS_FIELD_NUMBER: _ClassVar[int]
    released_waits: int
    def __init__(self, released_waits: _Optional[int] = ...) -> None: ...

class SetResourceAvailabilityRequest(_message.Message):
    __slots__ = ("coordination_id", "resource_id", "available")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    resource_id: str
    available: bool
    def __init__(self, coordination_id: _Optional[str] = ..., resource_id: _Optional[str] = ..., available: _Optional[bool] = ...) -> None: ...

class SetResourceAvailabilityResponse(_message.Message):
    __slots__ = ("released_waits",)
    RELEASED_WAITS_FIELD_NUMBER: _ClassVar[int]
    released_waits: int
    def __init__(self, released_waits: _Optional[int] = ...) -> None: ...

class GetDependencyStatusRequest(_message.Message):
    __slots__ = ("coordination_id", "agent_id", "dependency_id")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    agent_id: str
    dependency_id: str
    def __init__(self, coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., dependency_id: _Optional[str] = ...) -> None: ...

class GetDependencyStatusResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: DependencyRecord
    def __init__(self, record: _Optional[_Union[DependencyRecord, _Mapping]] = ...) -> None: ...

class ListDependenciesRequest(_message.Message):
    __slots__ = ("coordination_id", "agent_id", "statuses", "page_size", "page_token")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    agent_id: str
    statuses: _containers.RepeatedScalarFieldContainer[DependencyStatus]
    page_size: int
    page_token: str
    def __init__(self, coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[DependencyStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDependenciesResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[DependencyRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[DependencyRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ClearDependenciesRequest(_message.Message):
    __slots__ = ("coordination_id",)
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    def __init__(self, coordination_id: _Optional[str] = ...) -> None: ...

class ClearDependenciesResponse(_message.Message):
    __slots__ = ("cleared_records",)
    CLEARED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    cleared_records: int
    def __init__(self, cleared_records: _Optional[int] = ...) -> None: ...
