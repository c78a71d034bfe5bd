from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    PLATFORM_ANDROID: _ClassVar[Platform]
    PLATFORM_IOS: _ClassVar[Platform]
    PLATFORM_WEB: _ClassVar[Platform]
    PLATFORM_WINDOWS: _ClassVar[Platform]
    PLATFORM_MAC: _ClassVar[Platform]
    PLATFORM_LINUX: _ClassVar[Platform]

class ConversationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_TYPE_UNSPECIFIED: _ClassVar[ConversationType]
    CONVERSATION_TYPE_P2P: _ClassVar[ConversationType]
    CONVERSATION_TYPE_TEAM: _ClassVar[ConversationType]

class MessageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_TYPE_UNSPECIFIED: _ClassVar[MessageType]
    MESSAGE_TYPE_TEXT: _ClassVar[MessageType]
    MESSAGE_TYPE_IMAGE: _ClassVar[MessageType]
    MESSAGE_TYPE_AUDIO: _ClassVar[MessageType]
    MESSAGE_TYPE_VIDEO: _ClassVar[MessageType]
    MESSAGE_TYPE_FILE: _ClassVar[MessageType]
    MESSAGE_TYPE_LOCATION: _ClassVar[MessageType]
    MESSAGE_TYPE_CUSTOM: _ClassVar[MessageType]
    MESSAGE_TYPE_TIP: _ClassVar[MessageType]
    MESSAGE_TYPE_RECALL: _ClassVar[MessageType]

class KickReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KICK_REASON_UNSPECIFIED: _ClassVar[KickReason]
    KICK_REASON_OTHER_DEVICE: _ClassVar[KickReason]
    KICK_REASON_BLOCKED: _ClassVar[KickReason]
    KICK_REASON_TOKEN_CHANGED: _ClassVar[KickReason]
    KICK_REASON_SERVER: _ClassVar[KickReason]

class PushProvider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUSH_PROVIDER_UNSPECIFIED: _ClassVar[PushProvider]
    PUSH_PROVIDER_APNS: _ClassVar[PushProvider]
    PUSH_PROVIDER_FCM: _ClassVar[PushProvider]
    PUSH_PROVIDER_WEBPUSH: _ClassVar[PushProvider]
    PUSH_PROVIDER_HUAWEI: _ClassVar[PushProvider]
    PUSH_PROVIDER_XIAOMI: _ClassVar[PushProvider]

class TeamRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEAM_ROLE_UNSPECIFIED: _ClassVar[TeamRole]
    TEAM_ROLE_OWNER: _ClassVar[TeamRole]
    TEAM_ROLE_MANAGER: _ClassVar[TeamRole]
    TEAM_ROLE_MEMBER: _ClassVar[TeamRole]

class TeamChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEAM_CHANGE_KIND_UNSPECIFIED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_CREATED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_UPDATED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_DISMISSED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_MEMBERS_ADDED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_MEMBERS_REMOVED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_MEMBER_LEFT: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_OWNER_CHANGED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_MANAGERS_CHANGED: _ClassVar[TeamChangeKind]
    TEAM_CHANGE_KIND_MUTE_CHANGED: _ClassVar[TeamChangeKind]
PLATFORM_UNSPECIFIED: Platform
PLATFORM_ANDROID: Platform
PLATFORM_IOS: Platform
PLATFORM_WEB: Platform
PLATFORM_WINDOWS: Platform
PLATFORM_MAC: Platform
PLATFORM_LINUX: Platform
CONVERSATION_TYPE_UNSPECIFIED: ConversationType
CONVERSATION_TYPE_P2P: ConversationType
CONVERSATION_TYPE_TEAM: ConversationType
MESSAGE_TYPE_UNSPECIFIED: MessageType
MESSAGE_TYPE_TEXT: MessageType
MESSAGE_TYPE_IMAGE: MessageType
MESSAGE_TYPE_AUDIO: MessageType
MESSAGE_TYPE_VIDEO: MessageType
MESSAGE_TYPE_FILE: MessageType
MESSAGE_TYPE_LOCATION: MessageType
MESSAGE_TYPE_CUSTOM: MessageType
MESSAGE_TYPE_TIP: MessageType
MESSAGE_TYPE_RECALL: MessageType
KICK_REASON_UNSPECIFIED: KickReason
KICK_REASON_OTHER_DEVICE: KickReason
KICK_REASON_BLOCKED: KickReason
KICK_REASON_TOKEN_CHANGED: KickReason
KICK_REASON_SERVER: KickReason
PUSH_PROVIDER_UNSPECIFIED: PushProvider
PUSH_PROVIDER_APNS: PushProvider
PUSH_PROVIDER_FCM: PushProvider
PUSH_PROVIDER_WEBPUSH: PushProvider
PUSH_PROVIDER_HUAWEI: PushProvider
PUSH_PROVIDER_XIAOMI: PushProvider
TEAM_ROLE_UNSPECIFIED: TeamRole
TEAM_ROLE_OWNER: TeamRole
TEAM_ROLE_MANAGER: TeamRole
TEAM_ROLE_MEMBER: TeamRole
TEAM_CHANGE_KIND_UNSPECIFIED: TeamChangeKind
TEAM_CHANGE_KIND_CREATED: TeamChangeKind
TEAM_CHANGE_KIND_UPDATED: TeamChangeKind
TEAM_CHANGE_KIND_DISMISSED: TeamChangeKind
TEAM_CHANGE_KIND_MEMBERS_ADDED: TeamChangeKind
TEAM_CHANGE_KIND_MEMBERS_REMOVED: TeamChangeKind
TEAM_CHANGE_KIND_MEMBER_LEFT: TeamChangeKind
TEAM_CHANGE_KIND_OWNER_CHANGED: TeamChangeKind
TEAM_CHANGE_KIND_MANAGERS_CHANGED: TeamChangeKind
TEAM_CHANGE_KIND_MUTE_CHANGED: TeamChangeKind
REQUEST_FIELD_NUMBER: _ClassVar[int]
request: _descriptor.FieldDescriptor
RESPONSE_FIELD_NUMBER: _ClassVar[int]
response: _descriptor.FieldDescriptor
PUSH_FIELD_NUMBER: _ClassVar[int]
push: _descriptor.FieldDescriptor
IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
idempotent: _descriptor.FieldDescriptor

class Frame(_message.Message):
    __slots__ = ("request_id", "login", "login_result", "ping", "pong", "send", "send_ack", "message", "sync", "sync_result", "mark_read", "mark_read_ack", "receipt", "recall", "recall_ack", "typing", "kick", "error", "logout", "read_status", "read_status_result", "register_device", "unregister_device", "app_state", "set_push_mute", "ack", "create_team", "get_team", "team_info", "list_my_teams", "team_list", "add_team_members", "remove_team_members", "leave_team", "dismiss_team", "list_team_members", "team_members", "team_notice")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    LOGIN_RESULT_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    SEND_ACK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    SYNC_RESULT_FIELD_NUMBER: _ClassVar[int]
    MARK_READ_FIELD_NUMBER: _ClassVar[int]
    MARK_READ_ACK_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    RECALL_ACK_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    KICK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LOGOUT_FIELD_NUMBER: _ClassVar[int]
    READ_STATUS_FIELD_NUMBER: _ClassVar[int]
    READ_STATUS_RESULT_FIELD_NUMBER: _ClassVar[int]
    REGISTER_DEVICE_FIELD_NUMBER: _ClassVar[int]
    UNREGISTER_DEVICE_FIELD_NUMBER: _ClassVar[int]
    APP_STATE_FIELD_NUMBER: _ClassVar[int]
    SET_PUSH_MUTE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    CREATE_TEAM_FIELD_NUMBER: _ClassVar[int]
    GET_TEAM_FIELD_NUMBER: _ClassVar[int]
    TEAM_INFO_FIELD_NUMBER: _ClassVar[int]
    LIST_MY_TEAMS_FIELD_NUMBER: _ClassVar[int]
    TEAM_LIST_FIELD_NUMBER: _ClassVar[int]
    ADD_TEAM_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TEAM_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    LEAVE_TEAM_FIELD_NUMBER: _ClassVar[int]
    DISMISS_TEAM_FIELD_NUMBER: _ClassVar[int]
    LIST_TEAM_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    TEAM_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    TEAM_NOTICE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    login: Login
    login_result: LoginResult
    ping: Ping
    pong: Pong
    send: SendMessage
    send_ack: SendAck
    message: Message
    sync: SyncRequest
    sync_result: SyncResult
    mark_read: MarkRead
    mark_read_ack: MarkReadAck
    receipt: ReceiptNotice
    recall: Recall
    recall_ack: RecallAck
    typing: Typing
    kick: Kick
    error: Error
    logout: Logout
    read_status: ReadStatusRequest
    read_status_result: ReadStatusResult
    register_device: RegisterDevice
    unregister_device: UnregisterDevice
    app_state: AppState
    set_push_mute: SetPushMute
    ack: Ack
    create_team: CreateTeam
    get_team: GetTeam
    team_info: TeamInfo
    list_my_teams: ListMyTeams
    team_list: TeamList
    add_team_members: AddTeamMembers
    remove_team_members: RemoveTeamMembers
    leave_team: LeaveTeam
    dismiss_team: DismissTeam
    list_team_members: ListTeamMembers
    team_members: TeamMembers
    team_notice: TeamNotice
    def __init__(self, request_id: _Optional[int] = ..., login: _Optional[_Union[Login, _Mapping]] = ..., login_result: _Optional[_Union[LoginResult, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., send: _Optional[_Union[SendMessage, _Mapping]] = ..., send_ack: _Optional[_Union[SendAck, _Mapping]] = ..., message: _Optional[_Union[Message, _Mapping]] = ..., sync: _Optional[_Union[SyncRequest, _Mapping]] = ..., sync_result: _Optional[_Union[SyncResult, _Mapping]] = ..., mark_read: _Optional[_Union[MarkRead, _Mapping]] = ..., mark_read_ack: _Optional[_Union[MarkReadAck, _Mapping]] = ..., receipt: _Optional[_Union[ReceiptNotice, _Mapping]] = ..., recall: _Optional[_Union[Recall, _Mapping]] = ..., recall_ack: _Optional[_Union[RecallAck, _Mapping]] = ..., typing: _Optional[_Union[Typing, _Mapping]] = ..., kick: _Optional[_Union[Kick, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., logout: _Optional[_Union[Logout, _Mapping]] = ..., read_status: _Optional[_Union[ReadStatusRequest, _Mapping]] = ..., read_status_result: _Optional[_Union[ReadStatusResult, _Mapping]] = ..., register_device: _Optional[_Union[RegisterDevice, _Mapping]] = ..., unregister_device: _Optional[_Union[UnregisterDevice, _Mapping]] = ..., app_state: _Optional[_Union[AppState, _Mapping]] = ..., set_push_mute: _Optional[_Union[SetPushMute, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., create_team: _Optional[_Union[CreateTeam, _Mapping]] = ..., get_team: _Optional[_Union[GetTeam, _Mapping]] = ..., team_info: _Optional[_Union[TeamInfo, _Mapping]] = ..., list_my_teams: _Optional[_Union[ListMyTeams, _Mapping]] = ..., team_list: _Optional[_Union[TeamList, _Mapping]] = ..., add_team_members: _Optional[_Union[AddTeamMembers, _Mapping]] = ..., remove_team_members: _Optional[_Union[RemoveTeamMembers, _Mapping]] = ..., leave_team: _Optional[_Union[LeaveTeam, _Mapping]] = ..., dismiss_team: _Optional[_Union[DismissTeam, _Mapping]] = ..., list_team_members: _Optional[_Union[ListTeamMembers, _Mapping]] = ..., team_members: _Optional[_Union[TeamMembers, _Mapping]] = ..., team_notice: _Optional[_Union[TeamNotice, _Mapping]] = ...) -> None: ...

class Login(_message.Message):
    __slots__ = ("app_key", "accid", "token", "device_id", "platform", "client_version", "sync_cursor", "heartbeat_interval", "protocol_version")
    APP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SYNC_CURSOR_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    app_key: str
    accid: str
    token: str
    device_id: str
    platform: Platform
    client_version: str
    sync_cursor: str
    heartbeat_interval: int
    protocol_version: int
    def __init__(self, app_key: _Optional[str] = ..., accid: _Optional[str] = ..., token: _Optional[str] = ..., device_id: _Optional[str] = ..., platform: _Optional[_Union[Platform, str]] = ..., client_version: _Optional[str] = ..., sync_cursor: _Optional[str] = ..., heartbeat_interval: _Optional[int] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class LoginResult(_message.Message):
    __slots__ = ("session_id", "server_time", "heartbeat_min", "heartbeat_max", "idle_timeout", "protocol_version", "max_frame_bytes")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_MIN_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_MAX_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    server_time: int
    heartbeat_min: int
    heartbeat_max: int
    idle_timeout: int
    protocol_version: int
    max_frame_bytes: int
    def __init__(self, session_id: _Optional[str] = ..., server_time: _Optional[int] = ..., heartbeat_min: _Optional[int] = ..., heartbeat_max: _Optional[int] = ..., idle_timeout: _Optional[int] = ..., protocol_version: _Optional[int] = ..., max_frame_bytes: _Optional[int] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("client_time",)
    CLIENT_TIME_FIELD_NUMBER: _ClassVar[int]
    client_time: int
    def __init__(self, client_time: _Optional[int] = ...) -> None: ...

class Pong(_message.Message):
    __slots__ = ("server_time",)
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    server_time: int
    def __init__(self, server_time: _Optional[int] = ...) -> None: ...

class Logout(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Kick(_message.Message):
    __slots__ = ("reason", "detail")
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    reason: KickReason
    detail: str
    def __init__(self, reason: _Optional[_Union[KickReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "fatal")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FATAL_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    fatal: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., fatal: _Optional[bool] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("url", "name", "size", "mime_type", "md5", "width", "height", "duration_ms")
    URL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    MD5_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    url: str
    name: str
    size: int
    mime_type: str
    md5: str
    width: int
    height: int
    duration_ms: int
    def __init__(self, url: _Optional[str] = ..., name: _Optional[str] = ..., size: _Optional[int] = ..., mime_type: _Optional[str] = ..., md5: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., duration_ms: _Optional[int] = ...) -> None: ...

class Location(_message.Message):
    __slots__ = ("latitude", "longitude", "title")
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    latitude: float
    longitude: float
    title: str
    def __init__(self, latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., title: _Optional[str] = ...) -> None: ...

class SendMessage(_message.Message):
    __slots__ = ("conversation_type", "target", "type", "client_msg_id", "text", "attachment", "location", "custom", "ext", "no_push")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    NO_PUSH_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    type: MessageType
    client_msg_id: str
    text: str
    attachment: Attachment
    location: Location
    custom: str
    ext: str
    no_push: bool
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., type: _Optional[_Union[MessageType, str]] = ..., client_msg_id: _Optional[str] = ..., text: _Optional[str] = ..., attachment: _Optional[_Union[Attachment, _Mapping]] = ..., location: _Optional[_Union[Location, _Mapping]] = ..., custom: _Optional[str] = ..., ext: _Optional[str] = ..., no_push: _Optional[bool] = ...) -> None: ...

class SendAck(_message.Message):
    __slots__ = ("client_msg_id", "server_msg_id", "seq", "server_time", "conversation_type", "target", "duplicate")
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    client_msg_id: str
    server_msg_id: str
    seq: int
    server_time: int
    conversation_type: ConversationType
    target: str
    duplicate: bool
    def __init__(self, client_msg_id: _Optional[str] = ..., server_msg_id: _Optional[str] = ..., seq: _Optional[int] = ..., server_time: _Optional[int] = ..., conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("server_msg_id", "conversation_type", "target", "from_accid", "seq", "server_time", "type", "client_msg_id", "text", "attachment", "location", "custom", "ext", "recalled", "recalled_seq")
    SERVER_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    FROM_ACCID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    RECALLED_FIELD_NUMBER: _ClassVar[int]
    RECALLED_SEQ_FIELD_NUMBER: _ClassVar[int]
    server_msg_id: str
    conversation_type: ConversationType
    target: str
    from_accid: str
    seq: int
    server_time: int
    type: MessageType
    client_msg_id: str
    text: str
    attachment: Attachment
    location: Location
    custom: str
    ext: str
    recalled: bool
    recalled_seq: int
    def __init__(self, server_msg_id: _Optional[str] = ..., conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., from_accid: _Optional[str] = ..., seq: _Optional[int] = ..., server_time: _Optional[int] = ..., type: _Optional[_Union[MessageType, str]] = ..., client_msg_id: _Optional[str] = ..., text: _Optional[str] = ..., attachment: _Optional[_Union[Attachment, _Mapping]] = ..., location: _Optional[_Union[Location, _Mapping]] = ..., custom: _Optional[str] = ..., ext: _Optional[str] = ..., recalled: _Optional[bool] = ..., recalled_seq: _Optional[int] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("cursor", "conversation_type", "target", "after_seq", "before_seq", "limit")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    BEFORE_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    conversation_type: ConversationType
    target: str
    after_seq: int
    before_seq: int
    limit: int
    def __init__(self, cursor: _Optional[str] = ..., conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., after_seq: _Optional[int] = ..., before_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ConversationSummary(_message.Message):
    __slots__ = ("conversation_type", "target", "last_seq", "read_seq", "peer_read_seq", "unread", "last_message", "updated_at")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    PEER_READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    last_seq: int
    read_seq: int
    peer_read_seq: int
    unread: int
    last_message: Message
    updated_at: int
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., last_seq: _Optional[int] = ..., read_seq: _Optional[int] = ..., peer_read_seq: _Optional[int] = ..., unread: _Optional[int] = ..., last_message: _Optional[_Union[Message, _Mapping]] = ..., updated_at: _Optional[int] = ...) -> None: ...

class SyncResult(_message.Message):
    __slots__ = ("conversations", "messages", "cursor", "has_more")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[ConversationSummary]
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    cursor: str
    has_more: bool
    def __init__(self, conversations: _Optional[_Iterable[_Union[ConversationSummary, _Mapping]]] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., cursor: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class MarkRead(_message.Message):
    __slots__ = ("conversation_type", "target", "seq")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    seq: int
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class MarkReadAck(_message.Message):
    __slots__ = ("conversation_type", "target", "read_seq")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    read_seq: int
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., read_seq: _Optional[int] = ...) -> None: ...

class ReceiptNotice(_message.Message):
    __slots__ = ("conversation_type", "target", "reader_accid", "read_seq")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    READER_ACCID_FIELD_NUMBER: _ClassVar[int]
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    reader_accid: str
    read_seq: int
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., reader_accid: _Optional[str] = ..., read_seq: _Optional[int] = ...) -> None: ...

class ReadStatusRequest(_message.Message):
    __slots__ = ("team_id", "seq")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    seq: int
    def __init__(self, team_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class ReadStatusResult(_message.Message):
    __slots__ = ("team_id", "seq", "read_accids", "unread_accids")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    READ_ACCIDS_FIELD_NUMBER: _ClassVar[int]
    UNREAD_ACCIDS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    seq: int
    read_accids: _containers.RepeatedScalarFieldContainer[str]
    unread_accids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, team_id: _Optional[str] = ..., seq: _Optional[int] = ..., read_accids: _Optional[_Iterable[str]] = ..., unread_accids: _Optional[_Iterable[str]] = ...) -> None: ...

class Recall(_message.Message):
    __slots__ = ("conversation_type", "target", "server_msg_id")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SERVER_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    server_msg_id: str
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., server_msg_id: _Optional[str] = ...) -> None: ...

class RecallAck(_message.Message):
    __slots__ = ("server_msg_id", "notice_seq")
    SERVER_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    NOTICE_SEQ_FIELD_NUMBER: _ClassVar[int]
    server_msg_id: str
    notice_seq: int
    def __init__(self, server_msg_id: _Optional[str] = ..., notice_seq: _Optional[int] = ...) -> None: ...

class Typing(_message.Message):
    __slots__ = ("conversation_type", "target", "from_accid")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    FROM_ACCID_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    from_accid: str
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., from_accid: _Optional[str] = ...) -> None: ...

class RegisterDevice(_message.Message):
    __slots__ = ("provider", "token", "p256dh", "auth", "bundle_id", "locale")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    P256DH_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    provider: PushProvider
    token: str
    p256dh: str
    auth: str
    bundle_id: str
    locale: str
    def __init__(self, provider: _Optional[_Union[PushProvider, str]] = ..., token: _Optional[str] = ..., p256dh: _Optional[str] = ..., auth: _Optional[str] = ..., bundle_id: _Optional[str] = ..., locale: _Optional[str] = ...) -> None: ...

class UnregisterDevice(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AppState(_message.Message):
    __slots__ = ("foreground",)
    FOREGROUND_FIELD_NUMBER: _ClassVar[int]
    foreground: bool
    def __init__(self, foreground: _Optional[bool] = ...) -> None: ...

class SetPushMute(_message.Message):
    __slots__ = ("conversation_type", "target", "muted")
    CONVERSATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MUTED_FIELD_NUMBER: _ClassVar[int]
    conversation_type: ConversationType
    target: str
    muted: bool
    def __init__(self, conversation_type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ..., muted: _Optional[bool] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTeam(_message.Message):
    __slots__ = ("name", "members", "intro", "announcement", "icon", "ext", "max_members")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    INTRO_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENT_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    MAX_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    members: _containers.RepeatedScalarFieldContainer[str]
    intro: str
    announcement: str
    icon: str
    ext: str
    max_members: int
    def __init__(self, name: _Optional[str] = ..., members: _Optional[_Iterable[str]] = ..., intro: _Optional[str] = ..., announcement: _Optional[str] = ..., icon: _Optional[str] = ..., ext: _Optional[str] = ..., max_members: _Optional[int] = ...) -> None: ...

class GetTeam(_message.Message):
    __slots__ = ("team_id",)
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    def __init__(self, team_id: _Optional[str] = ...) -> None: ...

class TeamInfo(_message.Message):
    __slots__ = ("team_id", "name", "owner", "intro", "announcement", "icon", "ext", "max_members", "member_count", "mute_all")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    INTRO_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENT_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    MAX_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    MUTE_ALL_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    name: str
    owner: str
    intro: str
    announcement: str
    icon: str
    ext: str
    max_members: int
    member_count: int
    mute_all: bool
    def __init__(self, team_id: _Optional[str] = ..., name: _Optional[str] = ..., owner: _Optional[str] = ..., intro: _Optional[str] = ..., announcement: _Optional[str] = ..., icon: _Optional[str] = ..., ext: _Optional[str] = ..., max_members: _Optional[int] = ..., member_count: _Optional[int] = ..., mute_all: _Optional[bool] = ...) -> None: ...

class ListMyTeams(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TeamList(_message.Message):
    __slots__ = ("teams",)
    TEAMS_FIELD_NUMBER: _ClassVar[int]
    teams: _containers.RepeatedCompositeFieldContainer[TeamInfo]
    def __init__(self, teams: _Optional[_Iterable[_Union[TeamInfo, _Mapping]]] = ...) -> None: ...

class AddTeamMembers(_message.Message):
    __slots__ = ("team_id", "accids")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    ACCIDS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    accids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, team_id: _Optional[str] = ..., accids: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveTeamMembers(_message.Message):
    __slots__ = ("team_id", "accids")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    ACCIDS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    accids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, team_id: _Optional[str] = ..., accids: _Optional[_Iterable[str]] = ...) -> None: ...

class LeaveTeam(_message.Message):
    __slots__ = ("team_id",)
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    def __init__(self, team_id: _Optional[str] = ...) -> None: ...

class DismissTeam(_message.Message):
    __slots__ = ("team_id",)
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    def __init__(self, team_id: _Optional[str] = ...) -> None: ...

class ListTeamMembers(_message.Message):
    __slots__ = ("team_id", "cursor", "limit")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    cursor: str
    limit: int
    def __init__(self, team_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class TeamMember(_message.Message):
    __slots__ = ("accid", "role", "muted", "joined_seq")
    ACCID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    MUTED_FIELD_NUMBER: _ClassVar[int]
    JOINED_SEQ_FIELD_NUMBER: _ClassVar[int]
    accid: str
    role: TeamRole
    muted: bool
    joined_seq: int
    def __init__(self, accid: _Optional[str] = ..., role: _Optional[_Union[TeamRole, str]] = ..., muted: _Optional[bool] = ..., joined_seq: _Optional[int] = ...) -> None: ...

class TeamMembers(_message.Message):
    __slots__ = ("team_id", "members", "cursor")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    members: _containers.RepeatedCompositeFieldContainer[TeamMember]
    cursor: str
    def __init__(self, team_id: _Optional[str] = ..., members: _Optional[_Iterable[_Union[TeamMember, _Mapping]]] = ..., cursor: _Optional[str] = ...) -> None: ...

class TeamNotice(_message.Message):
    __slots__ = ("team_id", "kind", "operator", "accids")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    ACCIDS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    kind: TeamChangeKind
    operator: str
    accids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, team_id: _Optional[str] = ..., kind: _Optional[_Union[TeamChangeKind, str]] = ..., operator: _Optional[str] = ..., accids: _Optional[_Iterable[str]] = ...) -> None: ...
