"""The push worker's reads on its hot path, as fixed SQL statements.

A push batch used to take a dozen ORM queries (the message with its sender and conversation, the
team's name, the recipients, mutes, preferences, devices, badges), each compiled by the ORM and
turned into model instances: about a quarter of a worker's CPU per notification. Here they are
three statements with fixed text, prepared on PostgreSQL, that return plain tuples. The SQL is
written so that SQLite (the embedded quick start) runs it too; only the id-list filter differs
(``apps.core.sql.id_in``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection

from apps.core import sql
from apps.core.sql import fetch, id_in, id_list
from apps.imusers.models import ImUser
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, Message
from apps.push.models import Device, PushPreferences
from apps.teams.models import Team

# Short names for the quoted table and column names these statements are written with.
_t, _c = sql.table, sql.column


@dataclass(frozen=True, slots=True)
class PushMessage:
    """What fan-out needs of a stored message."""

    pk: int
    app_id: int
    conversation_id: int
    sender_id: int
    seq: int
    type: int
    body: dict[str, Any]
    kind: int
    sender_accid: str
    sender_name: str
    team_name: str

    @property
    def is_team(self) -> bool:
        return self.kind == ConversationKind.TEAM


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A registered device with what planning needs of its user: preferences, mute and badge."""

    pk: int
    user_id: int
    device_id: str
    provider: str
    token: str
    p256dh: str
    auth: str
    bundle_id: str
    foreground: bool
    push_enabled: bool
    dnd_enabled: bool
    dnd_start_minute: int
    dnd_end_minute: int
    timezone: str
    push_muted: bool
    badge: int


@cache
def _message_sql() -> str:
    m, c, s, t = Message, Conversation, ImUser, Team
    return (
        f"SELECT m.{_c(m, 'id')}, m.{_c(m, 'app')}, m.{_c(m, 'conversation')}, m.{_c(m, 'sender')},"  # noqa: S608 - names from the models
        f" m.{_c(m, 'seq')}, m.{_c(m, 'type')}, m.{_c(m, 'body')}, c.{_c(c, 'kind')},"
        f" s.{_c(s, 'accid')}, s.{_c(s, 'name')}, t.{_c(t, 'name')}"
        f" FROM {_t(m)} m JOIN {_t(c)} c ON c.{_c(c, 'id')} = m.{_c(m, 'conversation')}"
        f" JOIN {_t(s)} s ON s.{_c(s, 'id')} = m.{_c(m, 'sender')}"
        f" LEFT JOIN {_t(t)} t ON t.{_c(t, 'conversation')} = m.{_c(m, 'conversation')}"
        f" WHERE m.{_c(m, 'id')} = %s"
    )


def message_load(*, message_id: int) -> PushMessage | None:
    rows = fetch(_message_sql(), [message_id])
    if not rows:
        return None
    pk, app_id, conversation_id, sender_id, seq, kind_of_message, body, kind, accid, name, team = rows[0]
    return PushMessage(
        pk=pk,
        app_id=app_id,
        conversation_id=conversation_id,
        sender_id=sender_id,
        seq=seq,
        type=kind_of_message,
        # Django reads jsonb as text and decodes it in the field; so do we.
        body=json.loads(body) if isinstance(body, (str, bytes)) else (body or {}),
        kind=kind,
        sender_accid=accid,
        sender_name=name or "",
        team_name=team or "",
    )


@cache
def _recipients_sql() -> str:
    cm = ConversationMember
    return (
        f"SELECT {_c(cm, 'user')} FROM {_t(cm)} WHERE {_c(cm, 'conversation')} = %s"  # noqa: S608 - names from the models
        f" AND {_c(cm, 'user')} <> %s ORDER BY {_c(cm, 'user')}"
    )


def message_recipients(*, conversation_id: int, sender_id: int) -> list[int]:
    """Everyone in the conversation but the sender, by user id."""
    return [row[0] for row in fetch(_recipients_sql(), [conversation_id, sender_id])]


@cache
def _devices_sql(vendor: str) -> str:
    # Per vendor: the id-list filter is the database's own (``id_in``).
    d, p, cm, c = Device, PushPreferences, ConversationMember, Conversation

    def greatest(a: str, b: str) -> str:  # GREATEST is not SQLite's; CASE is everyone's
        return f"CASE WHEN {a} > {b} THEN {a} ELSE {b} END"

    floor = greatest("b." + _c(cm, "read_seq"), "b." + _c(cm, "joined_seq"))
    unread = f"CASE WHEN k.{_c(c, 'last_seq')} > {floor} THEN k.{_c(c, 'last_seq')} - {floor} ELSE 0 END"
    return (
        f"SELECT d.{_c(d, 'id')}, d.{_c(d, 'user')}, d.{_c(d, 'device_id')}, d.{_c(d, 'provider')},"  # noqa: S608 - names from the models
        f" d.{_c(d, 'token')}, d.{_c(d, 'p256dh')}, d.{_c(d, 'auth')}, d.{_c(d, 'bundle_id')},"
        f" d.{_c(d, 'foreground')}, p.{_c(p, 'push_enabled')}, p.{_c(p, 'dnd_enabled')},"
        f" p.{_c(p, 'dnd_start_minute')}, p.{_c(p, 'dnd_end_minute')}, p.{_c(p, 'timezone')},"
        f" m.{_c(cm, 'push_muted')},"
        # The app icon's badge: the user's unread total over all their open conversations.
        f" (SELECT COALESCE(SUM({unread}), 0) FROM {_t(cm)} b"
        f" JOIN {_t(c)} k ON k.{_c(c, 'id')} = b.{_c(cm, 'conversation')}"
        f" WHERE b.{_c(cm, 'user')} = d.{_c(d, 'user')} AND k.{_c(c, 'closed')} = FALSE)"
        f" FROM {_t(d)} d"
        f" LEFT JOIN {_t(p)} p ON p.{_c(p, 'user')} = d.{_c(d, 'user')}"
        f" LEFT JOIN {_t(cm)} m ON m.{_c(cm, 'conversation')} = %s AND m.{_c(cm, 'user')} = d.{_c(d, 'user')}"
        f" WHERE d.{_c(d, 'app')} = %s AND {id_in('d.' + _c(d, 'user'))}"
        f" ORDER BY d.{_c(d, 'id')}"
    )


_DEFAULT_PREFERENCES = PushPreferences()


def devices_for(*, message: PushMessage, user_ids: list[int]) -> list[DeviceRow]:
    """The devices of ``user_ids`` in the message's app, each with its user's preferences (the
    defaults where the user has none), mute of the message's conversation and badge."""
    params = [message.conversation_id, message.app_id, id_list(user_ids)]
    rows = fetch(_devices_sql(connection.vendor), params)
    default = _DEFAULT_PREFERENCES
    out = []
    for row in rows:
        has_preferences = row[9] is not None
        out.append(
            DeviceRow(
                pk=row[0],
                user_id=row[1],
                device_id=row[2],
                provider=row[3],
                token=row[4],
                p256dh=row[5],
                auth=row[6],
                bundle_id=row[7],
                foreground=bool(row[8]),
                push_enabled=bool(row[9]) if has_preferences else default.push_enabled,
                dnd_enabled=bool(row[10]) if has_preferences else default.dnd_enabled,
                dnd_start_minute=row[11] if has_preferences else default.dnd_start_minute,
                dnd_end_minute=row[12] if has_preferences else default.dnd_end_minute,
                timezone=row[13] if has_preferences else default.timezone,
                push_muted=bool(row[14]),
                badge=int(row[15] or 0),
            )
        )
    return out
