"""Tenant isolation for the message endpoints: app A's credentials on app B's users, teams and
message ids answer 404 exactly as if they did not exist, and nothing of B's changes."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from apps.messaging.models import Conversation, ConversationMember, Message
from tests.apps.api.messages.conftest import make_team, send
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db


def snapshot(app):
    return [
        [model_to_dict(row) for row in model.objects.filter(app=app).order_by("pk")]
        for model in (Conversation, ConversationMember, Message)
    ]


@pytest.fixture
def world():
    """App B with two users, a conversation, a team and messages; app A with two users of its own."""
    client_b = SignedClient(AppFactory())
    b_alice = ImUserFactory(app=client_b.app, accid="b-alice")
    b_bob = ImUserFactory(app=client_b.app, accid="b-bob")
    team = make_team(client_b.app, b_alice, b_bob)
    p2p = send(client_b, "b-alice", "b-bob", "secret")
    send(client_b, "b-alice", str(team.pk), "team secret", conversation_type="team")
    client_a = SignedClient(AppFactory())
    ImUserFactory(app=client_a.app, accid="a-1")
    ImUserFactory(app=client_a.app, accid="a-2")
    send(client_a, "a-1", "a-2", "mine")
    return {"a": client_a, "b": client_b, "team": str(team.pk), "msg": p2p["server_msg_id"]}


def p2p(sender, to, **extra):
    return {"from": sender, "conversation_type": "p2p", "to": to, **extra}


def team(sender, team_id, **extra):
    return {"from": sender, "conversation_type": "team", "to": team_id, **extra}


TEXT = {"type": "text", "text": "hijack"}

CASES = [
    ("POST", "/api/v1/messages", lambda w: p2p("b-alice", "a-2", **TEXT), "no_such_user"),
    ("POST", "/api/v1/messages", lambda w: p2p("a-1", "b-bob", **TEXT), "no_such_user"),
    ("POST", "/api/v1/messages", lambda w: team("a-1", w["team"], **TEXT), "no_such_team"),
    ("POST", "/api/v1/messages/batch", lambda w: {"from": "b-alice", "to": ["a-2"], **TEXT}, "no_such_user"),
    ("GET", "/api/v1/messages/history", lambda w: p2p("b-alice", "b-bob"), "no_such_user"),
    ("GET", "/api/v1/messages/history", lambda w: p2p("a-1", "b-bob"), "no_such_user"),
    ("GET", "/api/v1/messages/history", lambda w: team("a-1", w["team"]), "no_such_team"),
    (
        "POST",
        "/api/v1/messages/recall",
        lambda w: p2p("a-1", "a-2", server_msg_id=w["msg"]),
        "no_such_message",
    ),
    (
        "POST",
        "/api/v1/messages/recall",
        lambda w: p2p("b-alice", "b-bob", server_msg_id=w["msg"]),
        "no_such_user",
    ),
    (
        "POST",
        "/api/v1/messages/recall",
        lambda w: team("a-1", w["team"], server_msg_id=w["msg"]),
        "no_such_team",
    ),
    (
        "POST",
        "/api/v1/messages/read",
        lambda w: {"accid": "b-bob", "conversation_type": "p2p", "to": "b-alice", "seq": 1},
        "no_such_user",
    ),
    (
        "POST",
        "/api/v1/messages/read",
        lambda w: {"accid": "a-1", "conversation_type": "team", "to": w["team"], "seq": 1},
        "no_such_team",
    ),
    ("GET", "/api/v1/conversations", lambda w: {"accid": "b-alice"}, "no_such_user"),
    ("GET", "/api/v1/teams/{team}/read-status", lambda w: {"accid": "a-1", "seq": "1"}, "no_such_team"),
    ("GET", "/api/v1/teams/{team}/read-status", lambda w: {"accid": "b-bob", "seq": "1"}, "no_such_user"),
]


@pytest.mark.parametrize(("method", "path", "body", "code"), CASES)
def test_another_apps_data_is_not_found_and_untouched(world, method, path, body, code):
    before = snapshot(world["b"].app)
    url = path.format(team=world["team"])
    response = world["a"].get(url, **body(world)) if method == "GET" else world["a"].post(url, body(world))
    assert response.status_code == 404
    assert response.json()["code"] == code
    assert snapshot(world["b"].app) == before


def test_a_batch_to_another_apps_users_sends_nothing_there(world):
    before = snapshot(world["b"].app)
    body = (
        world["a"].post("/api/v1/messages/batch", {"from": "a-1", "to": ["b-alice", "b-bob"], **TEXT}).json()
    )
    assert body["results"] == []
    assert [(f["to"], f["code"]) for f in body["failed"]] == [
        ("b-alice", "no_such_user"),
        ("b-bob", "no_such_user"),
    ]
    assert snapshot(world["b"].app) == before


def test_the_same_accids_in_two_apps_are_separate_conversations(world):
    client_a, client_b = world["a"], world["b"]
    ImUserFactory(app=client_a.app, accid="b-alice")
    ImUserFactory(app=client_a.app, accid="b-bob")
    before = snapshot(client_b.app)
    sent = send(client_a, "b-alice", "b-bob", "in a")
    history = client_a.get("/api/v1/messages/history", **p2p("b-alice", "b-bob")).json()["messages"]
    assert sent["seq"] == 1
    assert [m["text"] for m in history] == ["in a"]
    assert snapshot(client_b.app) == before


def test_the_conversation_list_shows_only_the_callers_app(world):
    ImUserFactory(app=world["a"].app, accid="b-alice")
    page = world["a"].get("/api/v1/conversations", accid="b-alice").json()
    assert page["conversations"] == []
