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

class SharedIntelligencePart(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARED_INTELLIGENCE_PART_UNSPECIFIED: _ClassVar[SharedIntelligencePart]
    SHARED_INTELLIGENCE_PART_TYPE_REGISTRY: _ClassVar[SharedIntelligencePart]
    SHARED_INTELLIGENCE_PART_PATTERN_LIBRARY: _ClassVar[SharedIntelligencePart]
    SHARED_INTELLIGENCE_PART_VALIDATION_RULES: _ClassVar[SharedIntelligencePart]
    SHARED_INTELLIGENCE_PART_NAMING_CONVENTIONS: _ClassVar[SharedIntelligencePart]
    SHARED_INTELLIGENCE_PART_DEPENDENCY_GRAPH: _ClassVar[SharedIntelligencePart]
SHARED_INTELLIGENCE_PART_UNSPECIFIED: SharedIntelligencePart
SHARED_INTELLIGENCE_PART_TYPE_REGISTRY: SharedIntelligencePart
SHARED_INTELLIGENCE_PART_PATTERN_LIBRARY: SharedIntelligencePart
SHARED_INTELLIGENCE_PART_VALIDATION_RULES: SharedIntelligencePart
SHARED_INTELLIGENCE_PART_NAMING_CONVENTIONS: SharedIntelligencePart
SHARED_INTELLIGENCE_PART_DEPENDENCY_GRAPH: SharedIntelligencePart

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class SharedIntelligence(_message.Message):
    __slots__ = ("type_registry", "pattern_library", "validation_rules", "naming_conventions", "dependency_graph")
    class PatternLibraryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StringList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...
    class NamingConventionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class DependencyGraphEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StringList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...
    TYPE_REGISTRY_FIELD_NUMBER: _ClassVar[int]
    PATTERN_LIBRARY_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_RULES_FIELD_NUMBER: _ClassVar[int]
    NAMING_CONVENTIONS_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_GRAPH_FIELD_NUMBER: _ClassVar[int]
    type_registry: _struct_pb2.Struct
    pattern_library: _containers.MessageMap[str, StringList]
    validation_rules: _struct_pb2.Struct
    naming_conventions: _containers.ScalarMap[str, str]
    dependency_graph: _containers.MessageMap[str, StringList]
    def __init__(self, type_registry: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., pattern_library: _Optional[_Mapping[str, StringList]] = ..., validation_rules: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., naming_conventions: _Optional[_Mapping[str, str]] = ..., dependency_graph: _Optional[_Mapping[str, StringList]] = ...) -> None: ...

class CoordinationProtocols(_message.Message):
    __slots__ = ("update_interval_ms", "heartbeat_interval_ms", "status_channel", "result_channel", "error_channel", "coordination_endpoint")
    UPDATE_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RESULT_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    update_interval_ms: int
    heartbeat_interval_ms: int
    status_channel: str
    result_channel: str
    error_channel: str
    coordination_endpoint: str
    def __init__(self, update_interval_ms: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., status_channel: _Optional[str] = ..., result_channel: _Optional[str] = ..., error_channel: _Optional[str] = ..., coordination_endpoint: _Optional[str] = ...) -> None: ...

class ResourceAllocation(_message.Message):
    __slots__ = ("max_execution_time_ms", "max_retry_attempts", "max_memory_mb", "quality_threshold", "timeout_ms", "concurrency_limit")
    MAX_EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRY_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    QUALITY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    max_execution_time_ms: int
    max_retry_attempts: int
    max_memory_mb: int
    quality_threshold: float
    timeout_ms: int
    concurrency_limit: int
    def __init__(self, max_execution_time_ms: _Optional[int] = ..., max_retry_attempts: _Optional[int] = ..., max_memory_mb: _Optional[int] = ..., quality_threshold: _Optional[float] = ..., timeout_ms: _Optional[int] = ..., concurrency_limit: _Optional[int] = ...) -> None: ...

class AgentAssignment(_message.Message):
    __slots__ = ("agent_id", "agent_role", "objective", "tasks", "input_data", "dependencies", "output_requirements", "success_criteria", "resource_allocation", "coordination_protocols")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ROLE_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    INPUT_DATA_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    agent_role: str
    objective: str
    tasks: _containers.RepeatedScalarFieldContainer[str]
    input_data: _struct_pb2.Struct
    dependencies: _containers.RepeatedScalarFieldContainer[str]
    output_requirements: _struct_pb2.Struct
    success_criteria: _struct_pb2.Struct
    resource_allocation: ResourceAllocation
    coordination_protocols: CoordinationProtocols
    def __init__(self, agent_id: _Optional[str] = ..., agent_role: _Optional[str] = ..., objective: _Optional[str] = ..., tasks: _Optional[_Iterable[str]] = ..., input_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., dependencies: _Optional[_Iterable[str]] = ..., output_requirements: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., success_criteria: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., resource_allocation: _Optional[_Union[ResourceAllocation, _Mapping]] = ..., coordination_protocols: _Optional[_Union[CoordinationProtocols, _Mapping]] = ...) -> None: ...

class CoordinationMetadata(_message.Message):
    __slots__ = ("session_id", "coordination_id", "agent_id", "agent_role", "parent_workflow_id", "created_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ROLE_FIELD_NUMBER: _ClassVar[int]
    PARENT_WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    coordination_id: str
    agent_id: str
    agent_role: str
    parent_workflow_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., agent_role: _Optional[str] = ..., parent_workflow_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AgentContext(_message.Message):
    __slots__ = ("coordination_metadata", "shared_intelligence", "agent_assignment", "coordination_protocols", "resource_allocation", "context_version", "updated_at", "revision")
    COORDINATION_METADATA_FIELD_NUMBER: _ClassVar[int]
    SHARED_INTELLIGENCE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    coordination_metadata: CoordinationMetadata
    shared_intelligence: SharedIntelligence
    agent_assignment: AgentAssignment
    coordination_protocols: CoordinationProtocols
    resource_allocation: ResourceAllocation
    context_version: int
    updated_at: _timestamp_pb2.Timestamp
    revision: int
    def __init__(self, coordination_metadata: _Optional[_Union[CoordinationMetadata, _Mapping]] = ..., shared_intelligence: _Optional[_Union[SharedIntelligence, _Mapping]] = ..., agent_assignment: _Optional[_Union[AgentAssignment, _Mapping]] = ..., coordination_protocols: _Optional[_Union[CoordinationProtocols, _Mapping]] = ..., resource_allocation: _Optional[_Union[ResourceAllocation, _Mapping]] = ..., context_version: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class DistributeContextRequest(_message.Message):
    __slots__ = ("coordination_id", "session_id", "shared_intelligence", "assignments", "parent_workflow_id")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARED_INTELLIGENCE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    PARENT_WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    session_id: str
    shared_intelligence: SharedIntelligence
    assignments: _containers.RepeatedCompositeFieldContainer[AgentAssignment]
    parent_workflow_id: str
    def __init__(self, coordination_id: _Optional[str] = ..., session_id: _Optional[str] = ..., shared_intelligence: _Optional[_Union[SharedIntelligence, _Mapping]] = ..., assignments: _Optional[_Iterable[_Union[AgentAssignment, _Mapping]]] = ..., parent_workflow_id: _Optional[str] = ...) -> None: ...

class DistributeContextResponse(_message.Message):
    __slots__ = ("contexts", "revision", "next_page_token")
    CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    contexts: _containers.RepeatedCompositeFieldContainer[AgentContext]
    revision: int
    next_page_token: str
    def __init__(self, contexts: _Optional[_Iterable[_Union[AgentContext, _Mapping]]] = ..., revision: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAgentContextRequest(_message.Message):
    __slots__ = ("coordination_id", "agent_id")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    agent_id: str
    def __init__(self, coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class GetAgentContextResponse(_message.Message):
    __slots__ = ("context",)
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    context: AgentContext
    def __init__(self, context: _Optional[_Union[AgentContext, _Mapping]] = ...) -> None: ...

class ListAgentContextsRequest(_message.Message):
    __slots__ = ("coordination_id", "page_size", "page_token")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    page_size: int
    page_token: str
    def __init__(self, coordination_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAgentContextsResponse(_message.Message):
    __slots__ = ("contexts", "next_page_token", "revision")
    CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    contexts: _containers.RepeatedCompositeFieldContainer[AgentContext]
    next_page_token: str
    revision: int
    def __init__(self, contexts: _Optional[_Iterable[_Union[AgentContext, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class UpdateSharedIntelligenceRequest(_message.Message):
    __slots__ = ("coordination_id", "update_type", "update_data", "target_agent_ids", "increment_version")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_DATA_FIELD_NUMBER: _ClassVar[int]
    TARGET_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    INCREMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    update_type: SharedIntelligencePart
    update_data: _struct_pb2.Struct
    target_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    increment_version: bool
    def __init__(self, coordination_id: _Optional[str] = ..., update_type: _Optional[_Union[SharedIntelligencePart, str]] = ..., update_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., target_agent_ids: _Optional[_Iterable[str]] = ..., increment_version: _Optional[bool] = ...) -> None: ...

class UpdateSharedIntelligenceResponse(_message.Message):
    __slots__ = ("results", "revision")
    class ResultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.ScalarMap[str, bool]
    revision: int
    def __init__(self, results: _Optional[_Mapping[str, bool]] = ..., revision: _Optional[int] = ...) -> None: ...

class ClearContextsRequest(_message.Message):
    __slots__ = ("coordination_id",)
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    def __init__(self, coordination_id: _Optional[str] = ...) -> None: ...

class ClearContextsResponse(_message.Message):
    __slots__ = ("cleared",)
    CLEARED_FIELD_NUMBER: _ClassVar[int]
    cleared: bool
    def __init__(self, cleared: _Optional[bool] = ...) -> None: ...

class WatchAgentContextRequest(_message.Message):
    __slots__ = ("coordination_id", "agent_id", "after_revision")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    agent_id: str
    after_revision: int
    def __init__(self, coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., after_revision: _Optional[int] = ...) -> None: ...

class ContextAbsent(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchAgentContextResponse(_message.Message):
    __slots__ = ("context", "absent", "revision")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ABSENT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    context: AgentContext
    absent: ContextAbsent
    revision: int
    def __init__(self, context: _Optional[_Union[AgentContext, _Mapping]] = ..., absent: _Optional[_Union[ContextAbsent, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...
