"""Bad input to the message endpoints: 400 with a stable code and the field at fault, nothing stored."""

from __future__ import annotations

import pytest

from apps.messaging.models import ConversationMember, Message
from tests.apps.api.messages.conftest import send

pytestmark = pytest.mark.django_db

ROUTE = {"from": "alice", "conversation_type": "p2p", "to": "bob"}
TEXT = {"type": "text", "text": "hello"}
URL = {"url": "https://cdn/x.png"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ROUTE, **TEXT, "from": 5}, "from"),
        ({**ROUTE, **TEXT, "from": None}, "from"),
        ({**ROUTE, **TEXT, "to": ["bob"]}, "to"),
        ({**ROUTE, **TEXT, "to": "b" * 33}, "to"),
        ({**ROUTE, **TEXT, "to": "b o b"}, "to"),
        ({**ROUTE, **TEXT, "conversation_type": "team", "to": "\u00b2"}, "to"),
        ({**ROUTE, **TEXT, "from": "al/ice"}, "from"),
        ({**ROUTE, **TEXT, "conversation_type": "group"}, "conversation_type"),
        ({**ROUTE, **TEXT, "conversation_type": 1}, "conversation_type"),
        ({**ROUTE, "text": "hello"}, "type"),
        ({**ROUTE, **TEXT, "type": "sticker"}, "type"),
        ({**ROUTE, **TEXT, "type": "recall"}, "type"),
        ({**ROUTE, **TEXT, "type": 1}, "type"),
        ({**ROUTE, "type": "text"}, "text"),
        ({**ROUTE, **TEXT, "text": 42}, "text"),
        ({**ROUTE, **TEXT, "text": "x" * 5001}, "text"),
        ({**ROUTE, **TEXT, "text": ""}, "text"),
        ({**ROUTE, **TEXT, "text": "   "}, "text"),
        ({**ROUTE, **TEXT, "ext": {"k": 1}}, "ext"),
        ({**ROUTE, **TEXT, "ext": "e" * 1025}, "ext"),
        ({**ROUTE, **TEXT, "client_msg_id": ""}, "client_msg_id"),
        ({**ROUTE, **TEXT, "client_msg_id": 7}, "client_msg_id"),
        ({**ROUTE, **TEXT, "client_msg_id": "c" * 65}, "client_msg_id"),
        ({**ROUTE, **TEXT, "attachment": URL}, "attachment"),
        ({**ROUTE, "type": "image"}, "attachment.url"),
        ({**ROUTE, "type": "image", "attachment": None}, "attachment"),
        ({**ROUTE, "type": "image", "attachment": "https://cdn/x.png"}, "attachment"),
        ({**ROUTE, "type": "image", "attachment": {"name": "x.png"}}, "attachment.url"),
        ({**ROUTE, "type": "image", "attachment": {"url": "ftp://x/y.png"}}, "attachment.url"),
        ({**ROUTE, "type": "image", "attachment": {**URL, "size": "10"}}, "attachment.size"),
        ({**ROUTE, "type": "image", "attachment": {**URL, "width": 1.5}}, "attachment.width"),
        ({**ROUTE, "type": "image", "attachment": {**URL, "height": -1}}, "attachment.height"),
        ({**ROUTE, "type": "video", "attachment": {**URL, "duration_ms": True}}, "attachment.duration_ms"),
        ({**ROUTE, "type": "image", "attachment": {**URL, "thumb": "x"}}, "attachment.thumb"),
        ({**ROUTE, "type": "location"}, "location"),
        (
            {**ROUTE, "type": "location", "location": {"latitude": "31.2", "longitude": 121}},
            "location.latitude",
        ),
        (
            {**ROUTE, "type": "location", "location": {"latitude": True, "longitude": 121}},
            "location.latitude",
        ),
        ({**ROUTE, "type": "location", "location": {"latitude": 91, "longitude": 121}}, "location.latitude"),
        ({**ROUTE, "type": "location", "location": {"latitude": 1, "longitude": 181}}, "location.longitude"),
        ({**ROUTE, "type": "location", "location": {"latitude": 1}}, "location.longitude"),
        ({**ROUTE, "type": "location", "location": {"latitude": 1, "longitude": 1}, "text": "x"}, "text"),
        ({**ROUTE, "type": "custom"}, "custom"),
        ({**ROUTE, "type": "custom", "custom": "not json"}, "custom"),
        ({**ROUTE, "type": "custom", "custom": {"a": 1}}, "custom"),
        ({**ROUTE, "type": "custom", "custom": "x" * 10_001}, "custom"),
    ],
)
def test_bad_fields_are_refused_and_named(api, alice, bob, body, field):
    response = api.post("/api/v1/messages", body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid_field"
    assert response.json()["field"] == field
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/messages", {**ROUTE, **TEXT}),
        ("/api/v1/messages/batch", {"from": "alice", "to": ["bob"], **TEXT}),
    ],
)
def test_unknown_fields_are_refused(api, alice, bob, path, body):
    response = api.post(path, {**body, "priority": "high"})
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("unknown_field", "priority")
    assert not Message.objects.exists()


def test_a_body_over_64_kib_is_refused(api, alice, bob):
    response = api.post("/api/v1/messages", {**ROUTE, **TEXT, "ext": "x" * (64 * 1024)})
    assert response.status_code == 400
    assert response.json()["code"] == "body_too_large"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code"), [(b"[]", "invalid_body"), (b'"text"', "invalid_body"), (b"{", "invalid_json")]
)
def test_a_body_that_is_not_an_object_is_refused(api, alice, bob, raw, code):
    response = api.post("/api/v1/messages", raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/messages/recall", {**ROUTE, "server_msg_id": 1}, "server_msg_id"),
        ("/api/v1/messages/recall", {**ROUTE, "server_msg_id": ""}, "server_msg_id"),
        ("/api/v1/messages/recall", {**ROUTE, "server_msg_id": "abc"}, "server_msg_id"),
        ("/api/v1/messages/recall", {**ROUTE, "server_msg_id": "\u00b2"}, "server_msg_id"),
        ("/api/v1/messages/recall", {**ROUTE, "server_msg_id": "1" * 19}, "server_msg_id"),
        (
            "/api/v1/messages/recall",
            {**ROUTE, "conversation_type": "room", "server_msg_id": "1"},
            "conversation_type",
        ),
        (
            "/api/v1/messages/read",
            {"accid": "alice", "conversation_type": "p2p", "to": "bob", "seq": "1"},
            "seq",
        ),
        (
            "/api/v1/messages/read",
            {"accid": "alice", "conversation_type": "p2p", "to": "bob", "seq": -1},
            "seq",
        ),
        (
            "/api/v1/messages/read",
            {"accid": "alice", "conversation_type": "p2p", "to": "bob", "seq": 1.0},
            "seq",
        ),
        ("/api/v1/messages/read", {"accid": "alice", "conversation_type": "p2p", "to": "bob"}, "seq"),
    ],
)
def test_recall_and_read_refuse_bad_fields(api, alice, bob, path, body, field):
    send(api, "alice", "bob")
    response = api.post(path, body)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_field", field)
    assert not Message.objects.filter(recalled=True).exists()
    assert ConversationMember.objects.get(user__accid="bob").read_seq == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"conversation_type": "p2p", "from": "alice", "to": "bob", "limit": "0"}, "limit"),
        ({"conversation_type": "p2p", "from": "alice", "to": "bob", "limit": "101"}, "limit"),
        ({"conversation_type": "p2p", "from": "alice", "to": "bob", "limit": "ten"}, "limit"),
        ({"conversation_type": "p2p", "from": "alice", "to": "bob", "before_seq": "-1"}, "before_seq"),
        ({"conversation_type": "p2p", "from": "alice", "to": "bob", "after_seq": "1.0"}, "after_seq"),
        ({"conversation_type": "p2p", "from": "alice"}, "to"),
        ({"conversation_type": "dm", "from": "alice", "to": "bob"}, "conversation_type"),
        ({"conversation_type": "p2p", "from": "alice", "to": "bob", "page": "2"}, "page"),
    ],
)
def test_history_refuses_bad_query_parameters(api, alice, bob, query, field):
    response = api.get("/api/v1/messages/history", **query)
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"accid": "alice", "limit": "0"}, "limit"),
        ({"accid": "alice", "cursor": "not-a-cursor"}, "cursor"),
        ({}, "accid"),
    ],
)
def test_conversations_refuse_bad_query_parameters(api, alice, query, field):
    response = api.get("/api/v1/conversations", **query)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_field", field)
