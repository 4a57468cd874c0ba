import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignalType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNAL_TYPE_UNSPECIFIED: _ClassVar[SignalType]
    SIGNAL_TYPE_AGENT_INITIALIZED: _ClassVar[SignalType]
    SIGNAL_TYPE_AGENT_COMPLETED: _ClassVar[SignalType]
    SIGNAL_TYPE_DEPENDENCY_RESOLVED: _ClassVar[SignalType]
    SIGNAL_TYPE_INTER_AGENT_MESSAGE: _ClassVar[SignalType]
    SIGNAL_TYPE_STAGE_COMPLETED: _ClassVar[SignalType]
    SIGNAL_TYPE_ERROR_RECOVERY_COMPLETED: _ClassVar[SignalType]
SIGNAL_TYPE_UNSPECIFIED: SignalType
SIGNAL_TYPE_AGENT_INITIALIZED: SignalType
SIGNAL_TYPE_AGENT_COMPLETED: SignalType
SIGNAL_TYPE_DEPENDENCY_RESOLVED: SignalType
SIGNAL_TYPE_INTER_AGENT_MESSAGE: SignalType
SIGNAL_TYPE_STAGE_COMPLETED: SignalType
SIGNAL_TYPE_ERROR_RECOVERY_COMPLETED: SignalType

class Signal(_message.Message):
    __slots__ = ("signal_id", "coordination_id", "sequence", "type", "sender_agent_id", "recipient_agent_ids", "created_at", "data", "metadata", "idempotency_key", "epoch")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SENDER_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    coordination_id: str
    sequence: int
    type: SignalType
    sender_agent_id: str
    recipient_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    data: _struct_pb2.Struct
    metadata: _struct_pb2.Struct
    idempotency_key: str
    epoch: str
    def __init__(self, signal_id: _Optional[str] = ..., coordination_id: _Optional[str] = ..., sequence: _Optional[int] = ..., type: _Optional[_Union[SignalType, str]] = ..., sender_agent_id: _Optional[str] = ..., recipient_agent_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., epoch: _Optional[str] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("coordination_id", "type", "sender_agent_id", "recipient_agent_ids", "data", "metadata", "idempotency_key")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SENDER_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    type: SignalType
    sender_agent_id: str
    recipient_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    data: _struct_pb2.Struct
    metadata: _struct_pb2.Struct
    idempotency_key: str
    def __init__(self, coordination_id: _Optional[str] = ..., type: _Optional[_Union[SignalType, str]] = ..., sender_agent_id: _Optional[str] = ..., recipient_agent_ids: _Optional[_Iterable[str]] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("signal", "duplicate")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    signal: Signal
    duplicate: bool
    def __init__(self, signal: _Optional[_Union[Signal, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class PublishStreamRequest(_message.Message):
    __slots__ = ("publish",)
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    publish: PublishRequest
    def __init__(self, publish: _Optional[_Union[PublishRequest, _Mapping]] = ...) -> None: ...

class PublishStreamResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[PublishOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[PublishOutcome, _Mapping]]] = ...) -> None: ...

class PublishOutcome(_message.Message):
    __slots__ = ("ack", "error")
    ACK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ack: PublishAck
    error: _status_pb2.Status
    def __init__(self, ack: _Optional[_Union[PublishAck, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class PublishAck(_message.Message):
    __slots__ = ("signal_id", "sequence", "epoch", "duplicate")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    sequence: int
    epoch: str
    duplicate: bool
    def __init__(self, signal_id: _Optional[str] = ..., sequence: _Optional[int] = ..., epoch: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("coordination_id", "agent_id", "types", "sender_agent_ids", "after_sequence", "heartbeat_interval", "epoch", "observer")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    SENDER_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    OBSERVER_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    agent_id: str
    types: _containers.RepeatedScalarFieldContainer[SignalType]
    sender_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    after_sequence: int
    heartbeat_interval: _duration_pb2.Duration
    epoch: str
    observer: bool
    def __init__(self, coordination_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., types: _Optional[_Iterable[_Union[SignalType, str]]] = ..., sender_agent_ids: _Optional[_Iterable[str]] = ..., after_sequence: _Optional[int] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., epoch: _Optional[str] = ..., observer: _Optional[bool] = ...) -> None: ...

class SubscribedEvent(_message.Message):
    __slots__ = ("subscription_id", "head_sequence", "oldest_sequence", "epoch")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    head_sequence: int
    oldest_sequence: int
    epoch: str
    def __init__(self, subscription_id: _Optional[str] = ..., head_sequence: _Optional[int] = ..., oldest_sequence: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class HeartbeatEvent(_message.Message):
    __slots__ = ("head_sequence", "sent_at")
    HEAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    head_sequence: int
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, head_sequence: _Optional[int] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("signals", "subscribed", "heartbeat")
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[Signal]
    subscribed: SubscribedEvent
    heartbeat: HeartbeatEvent
    def __init__(self, signals: _Optional[_Iterable[_Union[Signal, _Mapping]]] = ..., subscribed: _Optional[_Union[SubscribedEvent, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatEvent, _Mapping]] = ...) -> None: ...

class ListSignalsRequest(_message.Message):
    __slots__ = ("coordination_id", "types", "sender_agent_id", "data_equals", "page_size", "page_token")
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    SENDER_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_EQUALS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    types: _containers.RepeatedScalarFieldContainer[SignalType]
    sender_agent_id: str
    data_equals: _struct_pb2.Struct
    page_size: int
    page_token: str
    def __init__(self, coordination_id: _Optional[str] = ..., types: _Optional[_Iterable[_Union[SignalType, str]]] = ..., sender_agent_id: _Optional[str] = ..., data_equals: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSignalsResponse(_message.Message):
    __slots__ = ("signals", "next_page_token")
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[Signal]
    next_page_token: str
    def __init__(self, signals: _Optional[_Iterable[_Union[Signal, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetSignalMetricsRequest(_message.Message):
    __slots__ = ("coordination_id",)
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    def __init__(self, coordination_id: _Optional[str] = ...) -> None: ...

class GetSignalMetricsResponse(_message.Message):
    __slots__ = ("total_signals_sent", "total_signals_received", "average_propagation_ms", "max_propagation_ms", "signals_by_type", "head_sequence", "oldest_sequence", "active_subscriptions")
    class SignalsByTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_SIGNALS_SENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIGNALS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PROPAGATION_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_PROPAGATION_MS_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    total_signals_sent: int
    total_signals_received: int
    average_propagation_ms: float
    max_propagation_ms: float
    signals_by_type: _containers.ScalarMap[str, int]
    head_sequence: int
    oldest_sequence: int
    active_subscriptions: int
    def __init__(self, total_signals_sent: _Optional[int] = ..., total_signals_received: _Optional[int] = ..., average_propagation_ms: _Optional[float] = ..., max_propagation_ms: _Optional[float] = ..., signals_by_type: _Optional[_Mapping[str, int]] = ..., head_sequence: _Optional[int] = ..., oldest_sequence: _Optional[int] = ..., active_subscriptions: _Optional[int] = ...) -> None: ...

class ClearSignalsRequest(_message.Message):
    __slots__ = ("coordination_id",)
    COORDINATION_ID_FIELD_NUMBER: _ClassVar[int]
    coordination_id: str
    def __init__(self, coordination_id: _Optional[str] = ...) -> None: ...

class ClearSignalsResponse(_message.Message):
    __slots__ = ("cleared_signals", "head_sequence")
    CLEARED_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    cleared_signals: int
    head_sequence: int
    def __init__(self, cleared_signals: _Optional[int] = ..., head_sequence: _Optional[int] = ...) -> None: ...
