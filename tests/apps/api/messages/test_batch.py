"""POST /api/v1/messages/batch: one one-to-one message per recipient."""

from __future__ import annotations

import re

import pytest

from apps.messaging.models import Message
from tests.factories import ImUserFactory

pytestmark = pytest.mark.django_db


def batch(**extra):
    return {"from": "alice", "type": "text", "text": "news", **extra}


def test_each_recipient_gets_their_own_message(api, alice, bob, carol):
    response = api.post("/api/v1/messages/batch", batch(to=["bob", "carol"]))
    body = response.json()
    messages = {m.conversation.members.exclude(user=alice).get().user.accid: m for m in Message.objects.all()}
    assert response.status_code == 200
    assert body == {
        "results": [
            {"to": "bob", "server_msg_id": str(messages["bob"].pk), "seq": 1},
            {"to": "carol", "server_msg_id": str(messages["carol"].pk), "seq": 1},
        ],
        "failed": [],
    }
    assert {m.body["text"] for m in messages.values()} == {"news"}
    assert messages["bob"].conversation != messages["carol"].conversation


def test_generated_client_msg_ids_share_one_batch_id(api, alice, bob, carol):
    api.post("/api/v1/messages/batch", batch(to=["bob", "carol"]))
    ids = sorted(Message.objects.values_list("client_msg_id", flat=True))
    prefixes = {re.fullmatch(r"(batch-[0-9a-f]{24})-(bob|carol)", cid).group(1) for cid in ids}
    assert len(prefixes) == 1


def test_an_unknown_recipient_fails_alone(api, alice, bob, carol):
    response = api.post("/api/v1/messages/batch", batch(to=["bob", "ghost", "carol"]))
    body = response.json()
    assert response.status_code == 200
    assert [r["to"] for r in body["results"]] == ["bob", "carol"]
    assert [(f["to"], f["code"]) for f in body["failed"]] == [("ghost", "no_such_user")]
    assert Message.objects.count() == 2


def test_a_retried_batch_with_a_client_msg_id_is_idempotent(api, alice, bob, carol):
    first = api.post("/api/v1/messages/batch", batch(to=["bob", "carol"], client_msg_id="weekly-7")).json()
    again = api.post("/api/v1/messages/batch", batch(to=["bob", "carol"], client_msg_id="weekly-7")).json()
    assert again == first
    assert sorted(Message.objects.values_list("client_msg_id", flat=True)) == [
        "weekly-7:bob",
        "weekly-7:carol",
    ]


def test_the_longest_accids_fit_a_derived_client_msg_id(api, alice):
    long = ImUserFactory(app=api.app, accid="x" * 32)
    prefixed = api.post("/api/v1/messages/batch", batch(to=[long.accid], client_msg_id="p" * 31)).json()
    generated = api.post("/api/v1/messages/batch", batch(to=[long.accid])).json()
    assert (prefixed["failed"], generated["failed"]) == ([], [])
    assert Message.objects.count() == 2


def test_500_recipients_are_accepted(api, alice):
    users = ImUserFactory.create_batch(500, app=api.app)
    body = api.post("/api/v1/messages/batch", batch(to=[u.accid for u in users])).json()
    assert (len(body["results"]), body["failed"]) == (500, [])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to": []}, "to"),
        ({"to": "bob"}, "to"),
        ({"to": ["bob", "bob"]}, "to"),
        ({"to": ["bob", 7]}, "to.1"),
        ({"to": [f"u{i}" for i in range(501)]}, "to"),
        ({"client_msg_id": "p" * 32}, "client_msg_id"),
        ({"type": "image", "text": "caption"}, "attachment.url"),
        ({"type": "location"}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"conversation_type": "team"}, "conversation_type"),
    ],
)
def test_bad_batches_are_refused_whole(api, alice, bob, changes, field):
    response = api.post("/api/v1/messages/batch", {**batch(to=["bob"]), **changes})
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Message.objects.exists()


def test_an_unknown_sender_is_not_found(api, bob):
    response = api.post("/api/v1/messages/batch", batch(to=["bob"], **{"from": "ghost"}))
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "from")
    assert not Message.objects.exists()
