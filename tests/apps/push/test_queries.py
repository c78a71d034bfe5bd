"""The push worker's fixed-statement reads: what they return, per app, on PostgreSQL (and SQLite)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, Message, MessageType
from apps.messaging.services import conversation_mark_read, message_send
from apps.push import queries
from apps.push.services import conversation_set_push_mute, device_register, preferences_update
from apps.teams.services import team_add_members, team_create, team_dismiss
from tests.factories import AppFactory, ImUserFactory

pytestmark = pytest.mark.django_db


def _say(app: Any, sender: Any, kind: int, target: str, text: str) -> Message:
    return message_send(
        app=app, sender=sender, conversation_type=kind, target=target, client_msg_id=f"{target}-{text}",
        content=MessageContent(type=MessageType.TEXT, text=text),
    ).message  # fmt: skip


@pytest.fixture
def world() -> dict[str, Any]:
    app = AppFactory()
    alice = ImUserFactory(app=app, accid="alice", name="Alice")
    bob = ImUserFactory(app=app, accid="bob", name="")
    carol = ImUserFactory(app=app, accid="carol")
    for n, (user, device) in enumerate(((bob, "phone"), (bob, "tablet"), (carol, "phone"))):
        device_register(app=app, user=user, device_id=device, provider="apns", token=f"{n:02x}" * 32)
    return {"app": app, "alice": alice, "bob": bob, "carol": carol}


def test_a_message_is_read_with_its_sender_kind_and_team_name(world: dict[str, Any]) -> None:
    app, alice = world["app"], world["alice"]
    team = team_create(app=app, owner="alice", name="Climbers", members=["bob"])
    stored = _say(app, alice, ConversationKind.TEAM, str(team.pk), "summit at 6")

    loaded = queries.message_load(message_id=stored.pk)

    assert loaded == queries.PushMessage(
        pk=stored.pk, app_id=app.pk, conversation_id=team.pk, sender_id=alice.pk, seq=stored.seq,
        type=MessageType.TEXT, body=stored.body, kind=ConversationKind.TEAM, sender_accid="alice",
        sender_name="Alice", team_name="Climbers",
    )  # fmt: skip
    assert loaded.body["text"] == "summit at 6"
    assert queries.message_load(message_id=stored.pk + 1000) is None


def test_recipients_are_every_member_but_the_sender(world: dict[str, Any]) -> None:
    app = world["app"]
    team = team_create(app=app, owner="alice", name="T", members=["bob", "carol"])
    stored = _say(app, world["bob"], ConversationKind.TEAM, str(team.pk), "hi")

    assert queries.message_recipients(conversation_id=team.pk, sender_id=stored.sender_id) == sorted(
        [world["alice"].pk, world["carol"].pk]
    )


def test_the_badge_counts_unread_in_open_conversations_from_where_the_user_joined(
    world: dict[str, Any],
) -> None:
    app, alice, bob = world["app"], world["alice"], world["bob"]
    for n in range(3):
        _say(app, alice, ConversationKind.P2P, "bob", f"p{n}")
    conversation_mark_read(app=app, user=bob, conversation_type=ConversationKind.P2P, target="alice", seq=1)
    open_team = team_create(app=app, owner="alice", name="Open", members=["bob"])
    for n in range(2):
        _say(app, alice, ConversationKind.TEAM, str(open_team.pk), f"o{n}")
    late_team = team_create(app=app, owner="alice", name="Late")
    for n in range(4):
        _say(app, alice, ConversationKind.TEAM, str(late_team.pk), f"l{n}")
    team_add_members(app=app, team_id=str(late_team.pk), operator="alice", accids=["bob"])
    last = _say(app, alice, ConversationKind.TEAM, str(late_team.pk), "welcome")
    closed_team = team_create(app=app, owner="alice", name="Closed", members=["bob"])
    _say(app, alice, ConversationKind.TEAM, str(closed_team.pk), "bye")
    team_dismiss(app=app, team_id=str(closed_team.pk), operator="alice")
    message = queries.message_load(message_id=last.pk)
    assert message is not None

    rows = queries.devices_for(message=message, user_ids=[bob.pk])

    # one-to-one: 3 sent, read to 1 -> 2; open team: 2; late team: 1 since joining; closed: none
    assert [(row.device_id, row.badge) for row in rows] == [("phone", 5), ("tablet", 5)]


def test_devices_carry_preferences_defaults_and_the_conversation_mute(world: dict[str, Any]) -> None:
    app, bob, carol = world["app"], world["bob"], world["carol"]
    team = team_create(app=app, owner="alice", name="T", members=["bob", "carol"])
    preferences_update(
        user=carol, push_enabled=True, dnd_enabled=True, dnd_start_minute=60, dnd_end_minute=120,
        timezone="Asia/Shanghai",
    )  # fmt: skip
    conversation_set_push_mute(
        app=app, user=bob, conversation_type=ConversationKind.TEAM, target=str(team.pk), muted=True
    )
    message = queries.message_load(
        message_id=_say(app, world["alice"], ConversationKind.TEAM, str(team.pk), "x").pk
    )
    assert message is not None

    rows = {
        (row.user_id, row.device_id): row
        for row in queries.devices_for(message=message, user_ids=[bob.pk, carol.pk])
    }

    assert sorted(rows) == [(bob.pk, "phone"), (bob.pk, "tablet"), (carol.pk, "phone")]
    bob_phone, carol_phone = rows[(bob.pk, "phone")], rows[(carol.pk, "phone")]
    assert (bob_phone.push_muted, bob_phone.push_enabled, bob_phone.dnd_enabled, bob_phone.timezone) == (
        True, True, False, "UTC",
    )  # fmt: skip
    assert (carol_phone.push_muted, carol_phone.dnd_enabled, carol_phone.dnd_start_minute) == (
        False,
        True,
        60,
    )
    assert (carol_phone.dnd_end_minute, carol_phone.timezone, carol_phone.provider) == (
        120,
        "Asia/Shanghai",
        "apns",
    )


def test_devices_are_read_within_the_message_app_only(world: dict[str, Any]) -> None:
    other_app = AppFactory()
    stranger = ImUserFactory(app=other_app, accid="bob")
    device_register(app=other_app, user=stranger, device_id="phone", provider="apns", token="ab" * 32)
    message = queries.message_load(
        message_id=_say(world["app"], world["alice"], ConversationKind.P2P, "bob", "x").pk
    )
    assert message is not None

    rows = queries.devices_for(message=message, user_ids=[world["bob"].pk, stranger.pk])

    assert {row.user_id for row in rows} == {world["bob"].pk}
