"""What each event says, built from real messages, sessions and teams."""

from __future__ import annotations

import pytest

from apps.messaging.content import MessageContent
from apps.messaging.conversations import place_for
from apps.messaging.models import ConversationKind, MessageType
from apps.messaging.sending import SendResult
from apps.messaging.services import message_recall, message_send
from apps.tenants.models import App
from apps.webhooks.models import EventType
from apps.webhooks.payloads import (
    TeamChange,
    webhook_payload_for_session,
    webhook_payload_for_team,
)
from apps.webhooks.services import webhook_messages_created
from tests.factories import ImUserFactory
from tests.teams_factories import TeamFactory

pytestmark = pytest.mark.django_db

HELLO = MessageContent(type=MessageType.TEXT, text="hello", ext='{"k":1}')


@pytest.fixture
def alice(app: App):
    ImUserFactory(app=app, accid="bob")
    return ImUserFactory(app=app, accid="alice")


def _send(app: App, sender, kind: int, target: str, client_msg_id: str = "c-1") -> SendResult:
    return message_send(
        app=app,
        sender=sender,
        conversation_type=kind,
        target=target,
        client_msg_id=client_msg_id,
        content=HELLO,
    )


def test_a_one_to_one_message(app: App, alice) -> None:
    sent = _send(app, alice, ConversationKind.P2P, "bob")

    [event] = webhook_messages_created([sent])

    assert event.type == EventType.MESSAGE_P2P
    assert event.payload == {
        "conversation_type": "p2p",
        "from": "alice",
        "to": "bob",
        "seq": 1,
        "server_msg_id": str(sent.message.pk),
        "client_msg_id": "c-1",
        "type": "text",
        "server_time": sent.message.created_ms,
        "text": "hello",
        "ext": '{"k":1}',
    }


def test_a_team_message(app: App) -> None:
    team = TeamFactory(app=app, extra=2)
    sent = _send(app, team.owner, ConversationKind.TEAM, str(team.pk))

    [event] = webhook_messages_created([sent])

    assert event.type == EventType.MESSAGE_TEAM
    assert (event.payload["conversation_type"], event.payload["from"], event.payload["to"]) == (
        "team",
        team.owner.accid,
        str(team.pk),
    )


def test_a_recall(app: App, alice) -> None:
    sent = _send(app, alice, ConversationKind.P2P, "bob")
    recall = message_recall(
        app=app,
        actor=alice,
        conversation_type=ConversationKind.P2P,
        target="bob",
        server_msg_id=str(sent.message.pk),
    )
    place = place_for(app=app, user=alice, kind=ConversationKind.P2P, target="bob", create=False)

    [event] = webhook_messages_created([SendResult(message=recall.notice, place=place, duplicate=False)])

    assert event.type == EventType.MESSAGE_RECALL
    assert event.payload | {"server_time": 0} == {
        "conversation_type": "p2p",
        "from": "alice",
        "to": "bob",
        "seq": 2,
        "server_msg_id": str(recall.notice.pk),
        "client_msg_id": f"recall:{sent.message.pk}",
        "type": "recall",
        "server_time": 0,
        "recalled_seq": 1,
        "recalled_server_msg_id": str(sent.message.pk),
    }


def test_retried_sends_are_not_copied_again(app: App, alice) -> None:
    first = _send(app, alice, ConversationKind.P2P, "bob")
    retry = _send(app, alice, ConversationKind.P2P, "bob")

    events = webhook_messages_created([first, retry])

    assert retry.duplicate
    assert [e.payload["server_msg_id"] for e in events] == [str(first.message.pk)]


def test_apps_without_a_webhook_url_cost_no_query(app: App, alice, django_assert_num_queries) -> None:
    sent = _send(app, alice, ConversationKind.P2P, "bob")
    App.objects.filter(pk=app.pk).update(webhook_url="")
    sent.message.app.webhook_url = ""

    with django_assert_num_queries(0):
        assert webhook_messages_created([sent]) == []


def test_session_payload() -> None:
    payload = webhook_payload_for_session(
        accid="alice",
        device_id="phone-1",
        device_class="mobile",
        session_id="s1",
        server_time=5,
        reason="kicked",
    )

    assert payload == {
        "accid": "alice",
        "device_id": "phone-1",
        "device_class": "mobile",
        "session_id": "s1",
        "server_time": 5,
        "reason": "kicked",
    }


def test_team_payload(app: App) -> None:
    team = TeamFactory(app=app, extra=1)

    payload = webhook_payload_for_team(
        team=team, change=TeamChange.MEMBERS_ADDED, operator=team.owner.accid, accids=["carol"], server_time=5
    )

    assert payload == {
        "team_id": str(team.pk),
        "change": "members_added",
        "operator": team.owner.accid,
        "accids": ["carol"],
        "name": team.name,
        "owner": team.owner.accid,
        "member_count": 2,
        "server_time": 5,
    }


def test_an_unknown_team_change_is_a_programming_error(app: App) -> None:
    with pytest.raises(ValueError, match="unknown team change"):
        webhook_payload_for_team(team=TeamFactory(app=app), change="renamed", server_time=5)
