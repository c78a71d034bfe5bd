"""Messages on the server API: strict input, and the one REST rendering of a stored message.

The shape follows imcloud.v1.Message (protocol/imcloud.proto): the same content fields, the same
enums spelt as strings ("p2p", "text"), ``from``/``to`` instead of the receiver-relative target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from apps.api.fields import (
    EnumField,
    QueryIntegerField,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
)
from apps.imusers import limits as user_limits
from apps.messaging import limits
from apps.messaging.content import MEDIA_TYPES, Attachment, Location, MessageContent
from apps.messaging.conversations import is_id
from apps.messaging.models import Conversation, ConversationKind, Message, MessageType

CONVERSATION_TYPES: dict[str, int] = {"p2p": ConversationKind.P2P, "team": ConversationKind.TEAM}
CONVERSATION_TYPE_NAMES = {value: name for name, value in CONVERSATION_TYPES.items()}
# Every type a sender may choose; "recall" is only ever made by the recall endpoint.
MESSAGE_TYPES: dict[str, int] = {t.label: t.value for t in MessageType if t is not MessageType.RECALL}
MESSAGE_TYPE_NAMES: dict[int, str] = {t.value: t.label for t in MessageType}

UINT32_MAX = 2**32 - 1
INT64_MAX = 2**63 - 1
# A batch derives each recipient's client_msg_id as "<client_msg_id>:<to>", which must still fit.
BATCH_CLIENT_MSG_ID_MAX = limits.CLIENT_MSG_ID_MAX - user_limits.ACCID_MAX_LENGTH - 1


def _accid_format(value: str) -> None:
    # Team ids are digits, so this covers both things ``to`` can name.
    if not user_limits.ACCID_PATTERN.fullmatch(value):
        raise serializers.ValidationError("Must be 1 to 32 of A-Z a-z 0-9 _ . @ -.")


def _server_msg_id_format(value: str) -> None:
    if not is_id(value):
        raise serializers.ValidationError("Must be a server_msg_id this API returned (digits).")


def _accid(**kwargs: Any) -> StrictCharField:
    return StrictCharField(
        max_length=user_limits.ACCID_MAX_LENGTH, trim_whitespace=False, validators=[_accid_format], **kwargs
    )


def _to() -> StrictCharField:
    return _accid(help_text="p2p: the recipient's accid; team: the team id.")


def _conversation_type() -> EnumField:
    return EnumField(CONVERSATION_TYPES)


def _with_from(fields: dict[str, serializers.Field]) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
    """Rename the declared ``from_`` field to ``from`` (a Python keyword) keeping the field order."""
    return {("from" if name == "from_" else name): field for name, field in fields.items()}


# --- Content ---------------------------------------------------------------------------------------


class NestedIn(StrictSerializer):
    """A nested object: anything else is an error of the field itself, not of the body."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(["Must be an object."], code="invalid")
        return super().to_internal_value(data)


class AttachmentIn(NestedIn):
    url = StrictCharField(max_length=limits.URL_MAX, trim_whitespace=False)
    name = StrictCharField(required=False, allow_blank=True, max_length=limits.NAME_MAX)
    size = StrictIntegerField(required=False, min_value=0, max_value=INT64_MAX, help_text="bytes")
    mime_type = StrictCharField(required=False, allow_blank=True, max_length=limits.MIME_MAX)
    md5 = StrictCharField(required=False, allow_blank=True, max_length=32)
    width = StrictIntegerField(required=False, min_value=0, max_value=UINT32_MAX)
    height = StrictIntegerField(required=False, min_value=0, max_value=UINT32_MAX)
    duration_ms = StrictIntegerField(required=False, min_value=0, max_value=UINT32_MAX)


class LocationIn(NestedIn):
    latitude = StrictFloatField(min_value=-90, max_value=90)
    longitude = StrictFloatField(min_value=-180, max_value=180)
    title = StrictCharField(required=False, allow_blank=True, max_length=limits.NAME_MAX)


# The content fields each type takes (``ext`` goes with every type). Which of them are required is
# decided by apps.messaging.content, the same check every transport goes through.
CONTENT_FIELDS = ("text", "attachment", "location", "custom")
TYPE_FIELDS: dict[int, set[str]] = {
    MessageType.TEXT: {"text"},
    MessageType.TIP: {"text"},
    MessageType.LOCATION: {"location"},
    MessageType.CUSTOM: {"custom"},
    **{kind.value: {"attachment", "text"} for kind in MEDIA_TYPES},
}


class ContentIn(StrictSerializer):
    type = EnumField(MESSAGE_TYPES)
    text = StrictCharField(
        required=False, allow_blank=True, max_length=limits.TEXT_MAX_CHARS, trim_whitespace=False
    )
    attachment = AttachmentIn(required=False)
    location = LocationIn(required=False)
    custom = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=limits.CUSTOM_MAX_CHARS,
        trim_whitespace=False,
        help_text="custom messages: a JSON document as text",
    )
    ext = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=limits.EXT_MAX_CHARS,
        trim_whitespace=False,
        help_text="app-defined, delivered as is",
    )
    push = StrictBooleanField(
        required=False, default=True, help_text="false: store and deliver, but send no offline push"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        allowed = TYPE_FIELDS[attrs["type"]]
        extra = [name for name in CONTENT_FIELDS if name in attrs and name not in allowed]
        if extra:
            label = MESSAGE_TYPE_NAMES[attrs["type"]]
            raise serializers.ValidationError({name: [f"Not used by {label} messages."] for name in extra})
        return attrs


def content_of(data: Mapping[str, Any]) -> MessageContent:
    """The validated content fields as the domain's MessageContent."""
    attachment = data.get("attachment")
    location = data.get("location")
    return MessageContent(
        type=data["type"],
        text=data.get("text", ""),
        attachment=None if attachment is None else Attachment(**attachment),
        location=None if location is None else Location(**location),
        custom=data.get("custom", ""),
        ext=data.get("ext", ""),
        push=data.get("push", True),
    )


class MessageSendIn(ContentIn):
    from_ = _accid(help_text="The sender: any user of the app.")
    conversation_type = _conversation_type()
    to = _to()
    client_msg_id = StrictCharField(
        required=False,
        max_length=limits.CLIENT_MSG_ID_MAX,
        trim_whitespace=False,
        help_text='Idempotency key, unique per sender; generated ("srv-...") when absent.',
    )

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return _with_from(super().get_fields())


class MessageBatchIn(ContentIn):
    from_ = _accid(help_text="The sender: any user of the app.")
    to = serializers.ListField(
        child=_accid(),
        min_length=1,
        max_length=limits.BATCH_RECIPIENTS_MAX,
        help_text=f"1 to {limits.BATCH_RECIPIENTS_MAX} distinct accids; one-to-one messages only.",
    )
    client_msg_id = StrictCharField(
        required=False,
        max_length=BATCH_CLIENT_MSG_ID_MAX,
        trim_whitespace=False,
        help_text='Makes a retried batch idempotent: each recipient\'s message gets "<client_msg_id>:<to>".',
    )

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return _with_from(super().get_fields())

    def validate_to(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Recipients must be distinct.")
        return value


class RecallIn(StrictSerializer):
    from_ = _accid(help_text="The user whose view names the conversation (usually the sender).")
    conversation_type = _conversation_type()
    to = _to()
    server_msg_id = StrictCharField(max_length=18, trim_whitespace=False, validators=[_server_msg_id_format])

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return _with_from(super().get_fields())


class MarkReadIn(StrictSerializer):
    accid = _accid(help_text="The reader.")
    conversation_type = _conversation_type()
    to = _to()
    seq = StrictIntegerField(min_value=0, max_value=INT64_MAX, help_text="Read up to and including this seq.")


class HistoryQuery(StrictSerializer):
    conversation_type = _conversation_type()
    from_ = _accid(help_text="The user whose view of the conversation is read.")
    to = _to()
    after_seq = QueryIntegerField(required=False, default=0, min_value=0, help_text="Messages after it.")
    before_seq = QueryIntegerField(
        required=False, default=0, min_value=0, help_text="The page just before it (0: not set)."
    )
    limit = QueryIntegerField(required=False, default=limits.PAGE_MAX, min_value=1, max_value=limits.PAGE_MAX)

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return _with_from(super().get_fields())


class ConversationsQuery(StrictSerializer):
    accid = _accid(help_text="Whose conversations.")
    cursor = StrictCharField(
        required=False, default="", allow_blank=True, max_length=256, help_text="From the last page."
    )
    limit = QueryIntegerField(required=False, default=limits.PAGE_MAX, min_value=1, max_value=limits.PAGE_MAX)


class ReadStatusQuery(StrictSerializer):
    accid = _accid(help_text="A member of the team, whose view is read.")
    seq = QueryIntegerField(min_value=1, help_text="The seq of the team message.")


# --- Output ----------------------------------------------------------------------------------------


def _p2p_other(conversation: Conversation, sender_id: int) -> str:
    low, high = conversation.user_low, conversation.user_high
    assert low is not None
    assert high is not None
    return high.accid if sender_id == low.pk else low.accid


def message_out(message: Message, *, conversation: Conversation) -> dict[str, Any]:
    """A stored message as the REST API shows it (every endpoint renders messages with this).

    ``to`` is the team id, or in one-to-one conversations the user the sender wrote to. Content
    fields appear only when set; a recalled message keeps none.
    """
    body: dict[str, Any] = message.body or {}
    if conversation.kind == ConversationKind.TEAM:
        to = str(conversation.pk)
    else:
        to = _p2p_other(conversation, message.sender_id)
    out: dict[str, Any] = {
        "server_msg_id": str(message.pk),
        "conversation_type": CONVERSATION_TYPE_NAMES[conversation.kind],
        "from": message.sender.accid,
        "to": to,
        "seq": message.seq,
        "server_time": message.created_ms,
        "type": MESSAGE_TYPE_NAMES[message.type],
        "client_msg_id": message.client_msg_id,
    }
    for name in ("text", "attachment", "location", "custom", "ext"):
        if name in body:
            out[name] = body[name]
    out["recalled"] = message.recalled
    if message.type == MessageType.RECALL:
        out["recalled_seq"] = message.recalled_seq
    return out


class AttachmentOut(serializers.Serializer):  # type: ignore[type-arg]
    url = serializers.CharField()
    name = serializers.CharField(required=False)
    size = serializers.IntegerField(required=False)
    mime_type = serializers.CharField(required=False)
    md5 = serializers.CharField(required=False)
    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)
    duration_ms = serializers.IntegerField(required=False)


class LocationOut(serializers.Serializer):  # type: ignore[type-arg]
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    title = serializers.CharField()


class MessageOut(serializers.Serializer):  # type: ignore[type-arg]
    server_msg_id = serializers.CharField()
    conversation_type = serializers.ChoiceField(choices=list(CONVERSATION_TYPES))
    from_ = serializers.CharField(help_text="The sender's accid.")
    to = serializers.CharField(help_text="The team id, or the user the sender wrote to.")
    seq = serializers.IntegerField(help_text="Position in the conversation: 1, 2, 3... without gaps.")
    server_time = serializers.IntegerField(help_text="Milliseconds since the epoch.")
    type = serializers.CharField(help_text=f"One of: {', '.join(MESSAGE_TYPE_NAMES.values())}.")
    client_msg_id = serializers.CharField()
    text = serializers.CharField(required=False)
    attachment = AttachmentOut(required=False)
    location = LocationOut(required=False)
    custom = serializers.CharField(required=False)
    ext = serializers.CharField(required=False)
    recalled = serializers.BooleanField(help_text="The content is gone; a recall notice follows.")
    recalled_seq = serializers.IntegerField(required=False, help_text="On recall notices: the recalled seq.")

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return _with_from(super().get_fields())


class MessageSendOut(MessageOut):
    duplicate = serializers.BooleanField(
        help_text="This client_msg_id was stored before: this is the original message."
    )


class BatchResultOut(serializers.Serializer):  # type: ignore[type-arg]
    to = serializers.CharField()
    server_msg_id = serializers.CharField()
    seq = serializers.IntegerField()


class BatchFailureOut(serializers.Serializer):  # type: ignore[type-arg]
    to = serializers.CharField()
    code = serializers.CharField()
    detail = serializers.CharField()


class MessageBatchOut(serializers.Serializer):  # type: ignore[type-arg]
    results = BatchResultOut(many=True)
    failed = BatchFailureOut(many=True)


class HistoryOut(serializers.Serializer):  # type: ignore[type-arg]
    messages = MessageOut(many=True)
    has_more = serializers.BooleanField()


class RecallOut(serializers.Serializer):  # type: ignore[type-arg]
    server_msg_id = serializers.CharField()
    notice_seq = serializers.IntegerField(help_text="The seq of the recall notice.")
    duplicate = serializers.BooleanField(help_text="The message was already recalled.")


class MarkReadOut(serializers.Serializer):  # type: ignore[type-arg]
    read_seq = serializers.IntegerField(help_text="The stored read position (it only moves forward).")


class ConversationOut(serializers.Serializer):  # type: ignore[type-arg]
    conversation_type = serializers.ChoiceField(choices=list(CONVERSATION_TYPES))
    to = serializers.CharField(help_text="The other user's accid, or the team id.")
    last_seq = serializers.IntegerField()
    read_seq = serializers.IntegerField()
    peer_read_seq = serializers.IntegerField(help_text="p2p: how far the other user has read.")
    unread = serializers.IntegerField()
    last_message = MessageOut(required=False)
    updated_at = serializers.IntegerField(help_text="Milliseconds since the epoch.")


class ConversationPageOut(serializers.Serializer):  # type: ignore[type-arg]
    conversations = ConversationOut(many=True)
    cursor = serializers.CharField(help_text="Pass it back for the next page, or later for changes.")
    has_more = serializers.BooleanField()


class ReadStatusOut(serializers.Serializer):  # type: ignore[type-arg]
    read = serializers.ListField(child=serializers.CharField())
    unread = serializers.ListField(child=serializers.CharField())
