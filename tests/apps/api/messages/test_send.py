"""POST /api/v1/messages: the app server sends as any of its users."""

from __future__ import annotations

import re

import pytest

from apps.messaging.models import Conversation, ConversationMember, Message, MessageType
from tests.apps.api.messages.conftest import make_team, send, text

pytestmark = pytest.mark.django_db


def test_a_text_message_is_stored_and_returned(api, alice, bob):
    response = api.post("/api/v1/messages", text("alice", "bob", "hi bob", ext='{"k":1}', client_msg_id="c1"))
    body = response.json()
    stored = Message.objects.get(app=api.app)
    assert response.status_code == 201
    assert body == {
        "server_msg_id": str(stored.pk),
        "conversation_type": "p2p",
        "from": "alice",
        "to": "bob",
        "seq": 1,
        "server_time": stored.created_ms,
        "type": "text",
        "client_msg_id": "c1",
        "text": "hi bob",
        "ext": '{"k":1}',
        "recalled": False,
        "duplicate": False,
    }
    assert (stored.sender, stored.type, stored.body) == (
        alice,
        MessageType.TEXT,
        {"text": "hi bob", "ext": '{"k":1}'},
    )


def test_without_a_client_msg_id_one_is_generated(api, alice, bob):
    body = send(api, "alice", "bob")
    assert re.fullmatch(r"srv-[0-9a-f]{32}", body["client_msg_id"])
    assert Message.objects.get().client_msg_id == body["client_msg_id"]


def test_seqs_increase_without_gaps_across_both_senders(api, alice, bob):
    seqs = [
        send(api, "alice", "bob")["seq"],
        send(api, "bob", "alice")["seq"],
        send(api, "alice", "bob")["seq"],
        send(api, "alice", "bob")["seq"],
        send(api, "bob", "alice")["seq"],
    ]
    assert seqs == [1, 2, 3, 4, 5]
    assert Conversation.objects.get(app=api.app).last_seq == 5


def test_a_retried_client_msg_id_returns_the_original(api, alice, bob):
    first = api.post("/api/v1/messages", text("alice", "bob", "once", client_msg_id="retry-me"))
    again = api.post("/api/v1/messages", text("alice", "bob", "once", client_msg_id="retry-me"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "duplicate": True}
    assert Message.objects.filter(app=api.app).count() == 1
    assert Conversation.objects.get(app=api.app).last_seq == 1


def test_the_same_client_msg_id_from_another_sender_is_a_new_message(api, alice, bob):
    first = send(api, "alice", "bob", client_msg_id="shared")
    second = send(api, "bob", "alice", client_msg_id="shared")
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["server_msg_id"] != second["server_msg_id"]


def test_sending_marks_the_conversation_read_for_the_sender(api, alice, bob):
    send(api, "alice", "bob")
    reads = dict(ConversationMember.objects.values_list("user__accid", "read_seq"))
    assert reads == {"alice": 1, "bob": 0}


@pytest.mark.parametrize(
    ("extra", "stored"),
    [
        (
            {
                "type": "image",
                "attachment": {"url": "https://cdn/x.png", "width": 640, "height": 480, "size": 9},
            },
            {"attachment": {"url": "https://cdn/x.png", "width": 640, "height": 480, "size": 9}},
        ),
        (
            {"type": "audio", "attachment": {"url": "https://cdn/a.aac", "duration_ms": 1200}},
            {"attachment": {"url": "https://cdn/a.aac", "duration_ms": 1200}},
        ),
        (
            {
                "type": "file",
                "attachment": {"url": "http://f/r.pdf", "name": "r.pdf", "md5": "ab"},
                "text": "see",
            },
            {"attachment": {"url": "http://f/r.pdf", "name": "r.pdf", "md5": "ab"}, "text": "see"},
        ),
        (
            {"type": "location", "location": {"latitude": 31.2, "longitude": 121, "title": "Bund"}},
            {"location": {"latitude": 31.2, "longitude": 121.0, "title": "Bund"}},
        ),
        ({"type": "custom", "custom": '{"card": 7}'}, {"custom": '{"card": 7}'}),
        ({"type": "tip", "text": "joined"}, {"text": "joined"}),
    ],
)
def test_every_content_type_is_stored_and_rendered(api, alice, bob, extra, stored):
    body = {"from": "alice", "conversation_type": "p2p", "to": "bob", **extra}
    response = api.post("/api/v1/messages", body)
    assert response.status_code == 201
    assert Message.objects.get().body == stored
    assert {key: response.json()[key] for key in stored} == stored
    assert response.json()["type"] == extra["type"]


def test_a_team_message_goes_to_the_team(api, alice, bob, carol):
    team = make_team(api.app, alice, bob, carol)
    body = send(api, "bob", str(team.pk), conversation_type="team")
    assert (body["conversation_type"], body["to"], body["from"], body["seq"]) == (
        "team",
        str(team.pk),
        "bob",
        1,
    )
    assert Message.objects.get().conversation == team


def test_an_unknown_sender_is_not_found(api, bob):
    response = api.post("/api/v1/messages", text("ghost", "bob"))
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "from")
    assert not Message.objects.exists()


def test_an_unknown_recipient_is_not_found(api, alice):
    response = api.post("/api/v1/messages", text("alice", "ghost"))
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "to")
    assert not Conversation.objects.exists()


def test_an_unknown_team_is_not_found(api, alice):
    response = api.post("/api/v1/messages", text("alice", "999999", conversation_type="team"))
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_team", "to")


def test_a_non_member_may_not_post_in_a_team(api, alice, bob, carol):
    team = make_team(api.app, alice, bob)
    response = api.post("/api/v1/messages", text("carol", str(team.pk), conversation_type="team"))
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_member"
    assert not Message.objects.exists()


def test_a_muted_member_may_not_post(api, alice, bob):
    team = make_team(api.app, alice, bob, muted=(bob,))
    response = api.post("/api/v1/messages", text("bob", str(team.pk), conversation_type="team"))
    assert response.status_code == 403
    assert response.json()["code"] == "muted"
    assert Conversation.objects.get(pk=team.pk).last_seq == 0
