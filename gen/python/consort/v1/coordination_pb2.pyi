import datetime

from consort.v1 import dependency_pb2 as _dependency_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CoordinationRemovalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COORDINATION_REMOVAL_REASON_UNSPECIFIED: _ClassVar[CoordinationRemovalReason]
    COORDINATION_REMOVAL_REASON_DELETED: _ClassVar[CoordinationRemovalReason]
    COORDINATION_REMOVAL_REASON_EXPIRED: _ClassVar[CoordinationRemovalReason]
COORDINATION_REMOVAL_REASON_UNSPECIFIED: CoordinationRemovalReason
COORDINATION_REMOVAL_REASON_DELETED: CoordinationRemovalReason
COORDINATION_REMOVAL_REASON_EXPIRED: CoordinationRemovalReason

class Coordination(_message.Message):
    __slots__ = ("coordination_id", "created_at", "last_activity_at", "epoch", "head_sequence", "signal_count", "agents_with_context", "open_waits", "open_subscriptions", "open_context_watches")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_AT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    AGENTS_WITH_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    OPEN_WAITS_FIELD_NUMBER: _ClassVar[int]
    OPEN_SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_CONTEXT_WATCHES_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    created_at: _timestamp_pb2.Timestamp
    last_activity_at: _timestamp_pb2.Timestamp
    epoch: str
    head_sequence: int
    signal_count: int
    agents_with_context: int
    open_waits: int
    open_subscriptions: int
    open_context_watches: int
    def __init__(self, coordination_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., epoch: _Optional[str] = ..., head_sequence: _Optional[int] = ..., signal_count: _Optional[int] = ..., agents_with_context: _Optional[int] = ..., open_waits: _Optional[int] = ..., open_subscriptions: _Optional[int] = ..., open_context_watches: _Optional[int] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("agent_id", "has_context", "context_version", "last_sent_sequence", "open_subscriptions", "open_waits", "open_wait_count")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_SENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OPEN_SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_WAITS_FIELD_NUMBER: _ClassVar[int]
    OPEN_WAIT_COUNT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    has_context: bool
    context_version: int
    last_sent_sequence: int
    open_subscriptions: int
    open_waits: _containers.RepeatedCompositeFieldContainer[_dependency_pb2.DependencyRecord]
    open_wait_count: int
    def __init__(self, agent_id: _Optional[str] = ..., has_context: _Optional[bool] = ..., context_version: _Optional[int] = ..., last_sent_sequence: _Optional[int] = ..., open_subscriptions: _Optional[int] = ..., open_waits: _Optional[_Iterable[_Union[_dependency_pb2.DependencyRecord, _Mapping]]] = ..., open_wait_count: _Optional[int] = ...) -> None: ...

class ListCoordinationsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCoordinationsResponse(_message.Message):
    __slots__ = ("coordinations", "next_page_token")
    COORDINATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    coordinations: _containers.RepeatedCompositeFieldContainer[Coordination]
    next_page_token: str
    def __init__(self, coordinations: _Optional[_Iterable[_Union[Coordination, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetCoordinationRequest(_message.Message):
    __slots__ = ("coordination_id",)
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    def __init__(self, coordination_id: _Optional[str] = ...) -> None: ...

class GetCoordinationResponse(_message.Message):
    __slots__ = ("coordination", "agents", "agent_count")
    COORDINATION_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    AGENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    coordination: Coordination
    agents: _containers.RepeatedCompositeFieldContainer[AgentStatus]
    agent_count: int
    def __init__(self, coordination: _Optional[_Union[Coordination, _Mapping]] = ..., agents: _Optional[_Iterable[_Union[AgentStatus, _Mapping]]] = ..., agent_count: _Optional[int] = ...) -> None: ...

class DeleteCoordinationRequest(_message.Message):
    __slots__ = ("coordination_id", "allow_missing")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MISSING_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    allow_missing: bool
    def __init__(self, coordination_id: _Optional[str] = ..., allow_missing: _Optional[bool] = ...) -> None: ...

class DeleteCoordinationResponse(_message.Message):
    __slots__ = ("deleted", "coordination")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    coordination: Coordination
    def __init__(self, deleted: _Optional[bool] = ..., coordination: _Optional[_Union[Coordination, _Mapping]] = ...) -> None: ...

class WatchCoordinationsRequest(_message.Message):
    __slots__ = ("watch_epoch", "after_revision")
    WATCH_EPOCH_FIELD_NUMBER: _ClassVar[int]
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    watch_epoch: str
    after_revision: int
    def __init__(self, watch_epoch: _Optional[str] = ..., after_revision: _Optional[int] = ...) -> None: ...

class CoordinationRemoved(_message.Message):
    __slots__ = ("coordination_id", "reason")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    reason: CoordinationRemovalReason
    def __init__(self, coordination_id: _Optional[str] = ..., reason: _Optional[_Union[CoordinationRemovalReason, str]] = ...) -> None: ...

class CoordinationChange(_message.Message):
    __slots__ = ("revision", "updated", "removed")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    revision: int
    updated: Coordination
    removed: CoordinationRemoved
    def __init__(self, revision: _Optional[int] = ..., updated: _Optional[_Union[Coordination, _Mapping]] = ..., removed: _Optional[_Union[CoordinationRemoved, _Mapping]] = ...) -> None: ...

class WatchCoordinationsResponse(_message.Message):
    __slots__ = ("watch_epoch", "head_revision", "reset", "caught_up", "changes")
    WATCH_EPOCH_FIELD_NUMBER: _ClassVar[int]
    HEAD_REVISION_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    watch_epoch: str
    head_revision: int
    reset: bool
    caught_up: bool
    changes: _containers.RepeatedCompositeFieldContainer[CoordinationChange]
    def __init__(self, watch_epoch: _Optional[str] = ..., head_revision: _Optional[int] = ..., reset: _Optional[bool] = ..., caught_up: _Optional[bool] = ..., changes: _Optional[_Iterable[_Union[CoordinationChange, _Mapping]]] = ...) -> None: ...
