"""POST /api/v1/messages/recall and /read: the app server acts on its users' behalf."""

from __future__ import annotations

import pytest

from apps.messaging.models import ConversationMember, Message, MessageType
from tests.apps.api.messages.conftest import make_team, send

pytestmark = pytest.mark.django_db


def recall(api, server_msg_id, sender="alice", to="bob", conversation_type="p2p"):
    return api.post(
        "/api/v1/messages/recall",
        {"from": sender, "conversation_type": conversation_type, "to": to, "server_msg_id": server_msg_id},
    )


def read(api, accid, to, seq, conversation_type="p2p"):
    return api.post(
        "/api/v1/messages/read",
        {"accid": accid, "conversation_type": conversation_type, "to": to, "seq": seq},
    )


def test_recall_replaces_the_message_with_a_notice(api, alice, bob):
    sent = send(api, "alice", "bob", "oops")
    send(api, "bob", "alice", "what?")
    response = recall(api, sent["server_msg_id"])
    original = Message.objects.get(pk=sent["server_msg_id"])
    notice = Message.objects.get(type=MessageType.RECALL)
    assert response.status_code == 200
    assert response.json() == {"server_msg_id": sent["server_msg_id"], "notice_seq": 3, "duplicate": False}
    assert (original.recalled, original.body) == (True, {})
    assert (notice.seq, notice.recalled_seq, notice.sender) == (3, 1, alice)


def test_the_app_server_may_recall_the_other_sides_message(api, alice, bob):
    sent = send(api, "bob", "alice", "from bob")
    response = recall(api, sent["server_msg_id"], sender="alice", to="bob")
    assert response.status_code == 200
    assert Message.objects.get(pk=sent["server_msg_id"]).recalled is True


def test_recalling_twice_returns_the_first_notice(api, alice, bob):
    sent = send(api, "alice", "bob")
    first = recall(api, sent["server_msg_id"]).json()
    again = recall(api, sent["server_msg_id"])
    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True}
    assert Message.objects.filter(type=MessageType.RECALL).count() == 1


def test_recall_after_the_window_is_refused(api, alice, bob):
    sent = send(api, "alice", "bob")
    window_ms = api.app.recall_window_seconds * 1000
    Message.objects.filter(pk=sent["server_msg_id"]).update(created_ms=sent["server_time"] - window_ms - 1)
    response = recall(api, sent["server_msg_id"])
    assert response.status_code == 400
    assert response.json()["code"] == "recall_window_passed"
    assert Message.objects.get(pk=sent["server_msg_id"]).recalled is False


@pytest.mark.parametrize("server_msg_id", ["999999999", "1" * 18])
def test_recalling_an_unknown_message_is_not_found(api, alice, bob, server_msg_id):
    send(api, "alice", "bob")
    response = recall(api, server_msg_id)
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_message", "server_msg_id")
    assert not Message.objects.filter(recalled=True).exists()


def test_a_message_of_another_conversation_is_not_found(api, alice, bob, carol):
    elsewhere = send(api, "alice", "carol")
    send(api, "alice", "bob")
    response = recall(api, elsewhere["server_msg_id"], sender="alice", to="bob")
    assert response.status_code == 404
    assert response.json()["code"] == "no_such_message"
    assert Message.objects.get(pk=elsewhere["server_msg_id"]).recalled is False


def test_recall_in_a_team(api, alice, bob):
    team = make_team(api.app, alice, bob)
    sent = send(api, "bob", str(team.pk), conversation_type="team")
    response = recall(api, sent["server_msg_id"], sender="alice", to=str(team.pk), conversation_type="team")
    assert response.json()["notice_seq"] == 2
    assert Message.objects.get(pk=sent["server_msg_id"]).recalled is True


def test_mark_read_moves_forward_only(api, alice, bob):
    for _ in range(4):
        send(api, "alice", "bob")
    forward = read(api, "bob", "alice", 3)
    back = read(api, "bob", "alice", 1)
    assert (forward.status_code, forward.json()) == (200, {"read_seq": 3})
    assert back.json() == {"read_seq": 3}
    assert ConversationMember.objects.get(user=bob).read_seq == 3


def test_mark_read_is_capped_at_the_last_seq(api, alice, bob):
    send(api, "alice", "bob")
    assert read(api, "bob", "alice", 1000).json() == {"read_seq": 1}


def test_mark_read_without_a_conversation_is_not_found(api, alice, bob):
    response = read(api, "bob", "alice", 1)
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_message", "to")


def test_mark_read_for_an_unknown_reader_is_not_found(api, alice):
    response = read(api, "ghost", "alice", 1)
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "accid")
