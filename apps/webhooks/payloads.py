"""What each event says: the ``data`` of a webhook POST, built by the producers' hooks.

A message copy has the fields of a message in the REST API (docs/rest-api.md), as Yunxin's message
CC has its sender, recipient, ids, type, content and server time. Every builder returns plain JSON
(strings, numbers, lists, dicts) so it can be stored as is and POSTed unchanged on every retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import models

from apps.messaging.models import ConversationKind, Message, MessageType
from apps.webhooks.models import EventType

if TYPE_CHECKING:
    from apps.messaging.conversations import Place
    from apps.teams.models import Team

CONVERSATION_TYPE_NAMES = {ConversationKind.P2P: "p2p", ConversationKind.TEAM: "team"}
CONTENT_FIELDS = ("text", "attachment", "location", "custom", "ext")


class TeamChange(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    DISMISSED = "dismissed"
    MEMBERS_ADDED = "members_added"
    MEMBERS_REMOVED = "members_removed"
    MEMBER_LEFT = "member_left"
    OWNER_TRANSFERRED = "owner_transferred"
    MANAGERS_ADDED = "managers_added"
    MANAGERS_REMOVED = "managers_removed"
    MEMBER_MUTED = "member_muted"
    MEMBER_UNMUTED = "member_unmuted"
    MUTE_ALL_ON = "mute_all_on"
    MUTE_ALL_OFF = "mute_all_off"


def webhook_event_type_for_message(message: Message, place: Place) -> str:
    """``message.recall`` for recall notices, else ``message.p2p`` or ``message.team``."""
    if message.type == MessageType.RECALL:
        return EventType.MESSAGE_RECALL
    if place.conversation.kind == ConversationKind.TEAM:
        return EventType.MESSAGE_TEAM
    return EventType.MESSAGE_P2P


def _recipient_accid(message: Message, place: Place) -> str:
    """The team id, or the user the sender wrote to (``place`` may be either side's)."""
    conversation = place.conversation
    if conversation.kind == ConversationKind.TEAM:
        return str(conversation.pk)
    if place.member.user_id == message.sender_id:
        assert place.peer is not None
        return place.peer.accid
    return place.member.user.accid


def webhook_payload_for_message(message: Message, place: Place) -> dict[str, Any]:
    """A stored message (or recall notice) as its webhook shows it.

    ``place`` is a party's view of the conversation, as ``SendResult.place`` holds it.
    """
    body: dict[str, Any] = message.body or {}
    out: dict[str, Any] = {
        "conversation_type": CONVERSATION_TYPE_NAMES[ConversationKind(place.conversation.kind)],
        "from": message.sender.accid,
        "to": _recipient_accid(message, place),
        "seq": message.seq,
        "server_msg_id": str(message.pk),
        "client_msg_id": message.client_msg_id,
        "type": MessageType(message.type).label,
        "server_time": message.created_ms,
    }
    for name in CONTENT_FIELDS:
        if name in body:
            out[name] = body[name]
    if message.type == MessageType.RECALL and message.recalled_seq is not None:
        out["recalled_seq"] = message.recalled_seq
        original = (
            Message.objects.filter(conversation_id=message.conversation_id, seq=message.recalled_seq)
            .values_list("pk", flat=True)
            .first()
        )
        out["recalled_server_msg_id"] = str(original) if original is not None else None
    return out


def webhook_payload_for_session(
    *, accid: str, device_id: str, device_class: str, session_id: str, server_time: int, reason: str = ""
) -> dict[str, Any]:
    """A login or logout (``session.login`` / ``session.logout``); ``reason`` says why a session
    ended ("logout", "kicked", "timeout", "closed" ...), empty for logins."""
    out: dict[str, Any] = {
        "accid": accid,
        "device_id": device_id,
        "device_class": device_class,
        "session_id": session_id,
        "server_time": server_time,
    }
    if reason:
        out["reason"] = reason
    return out


def webhook_payload_for_team(
    *, team: Team, change: str, operator: str = "", accids: Sequence[str] = (), server_time: int
) -> dict[str, Any]:
    """A change to a team (``team.changed``): what changed, on whose authority, to whom."""
    if change not in TeamChange.values:
        raise ValueError(f"unknown team change {change!r}")
    return {
        "team_id": str(team.pk),
        "change": change,
        "operator": operator,
        "accids": list(accids),
        "name": team.name,
        "owner": team.owner.accid,
        "member_count": team.member_count,
        "server_time": server_time,
    }
