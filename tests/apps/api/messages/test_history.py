"""GET /api/v1/messages/history: a conversation as one of its users sees it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.messaging.models import ConversationMember
from tests.apps.api.messages.conftest import make_team, send

pytestmark = pytest.mark.django_db


def history(api, **query):
    response = api.get("/api/v1/messages/history", **{"conversation_type": "p2p", **query})
    assert response.status_code == 200, response.json()
    return response.json()


def seqs(page):
    return [m["seq"] for m in page["messages"]]


@pytest.fixture
def seven(api, alice, bob):
    """Seven messages, alternating senders, texts m1..m7."""
    return [send(api, *(("alice", "bob") if n % 2 else ("bob", "alice")), f"m{n}") for n in range(1, 8)]


def test_messages_come_in_ascending_order_as_sent(api, seven):
    page = history(api, **{"from": "alice", "to": "bob"})
    assert page["has_more"] is False
    assert page["messages"] == [{k: v for k, v in sent.items() if k != "duplicate"} for sent in seven]


def test_both_sides_see_the_same_stream_with_from_and_to(api, seven):
    as_bob = history(api, **{"from": "bob", "to": "alice"})["messages"]
    assert [(m["from"], m["to"], m["text"]) for m in as_bob[:2]] == [
        ("alice", "bob", "m1"),
        ("bob", "alice", "m2"),
    ]
    assert as_bob == history(api, **{"from": "alice", "to": "bob"})["messages"]


def test_paging_forward_with_after_seq(api, seven):
    first = history(api, **{"from": "alice", "to": "bob", "limit": "3"})
    second = history(api, **{"from": "alice", "to": "bob", "limit": "3", "after_seq": "3"})
    last = history(api, **{"from": "alice", "to": "bob", "limit": "3", "after_seq": "6"})
    assert (seqs(first), first["has_more"]) == ([1, 2, 3], True)
    assert (seqs(second), second["has_more"]) == ([4, 5, 6], True)
    assert (seqs(last), last["has_more"]) == ([7], False)


def test_paging_backward_with_before_seq(api, seven):
    newest = history(api, **{"from": "alice", "to": "bob", "limit": "3", "before_seq": "8"})
    older = history(api, **{"from": "alice", "to": "bob", "limit": "3", "before_seq": "5"})
    oldest = history(api, **{"from": "alice", "to": "bob", "limit": "3", "before_seq": "2"})
    assert (seqs(newest), newest["has_more"]) == ([5, 6, 7], True)
    assert (seqs(older), older["has_more"]) == ([2, 3, 4], True)
    assert (seqs(oldest), oldest["has_more"]) == ([1], False)


def test_a_window_between_after_and_before(api, seven):
    page = history(api, **{"from": "alice", "to": "bob", "after_seq": "2", "before_seq": "6"})
    assert seqs(page) == [3, 4, 5]


def test_a_recalled_message_keeps_its_place_and_the_notice_follows(api, seven):
    target = seven[2]
    api.post(
        "/api/v1/messages/recall",
        {"from": "alice", "conversation_type": "p2p", "to": "bob", "server_msg_id": target["server_msg_id"]},
    )
    messages = history(api, **{"from": "bob", "to": "alice"})["messages"]
    recalled, notice = messages[2], messages[-1]
    assert seqs({"messages": messages}) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert recalled == {
        "server_msg_id": target["server_msg_id"],
        "conversation_type": "p2p",
        "from": "alice",
        "to": "bob",
        "seq": 3,
        "server_time": target["server_time"],
        "type": "text",
        "client_msg_id": target["client_msg_id"],
        "recalled": True,
    }
    assert (notice["type"], notice["recalled_seq"], notice["from"], notice["recalled"]) == (
        "recall",
        3,
        "alice",
        False,
    )


def test_a_conversation_not_yet_started_is_empty(api, alice, bob):
    assert history(api, **{"from": "alice", "to": "bob"}) == {"messages": [], "has_more": False}


def test_a_team_member_sees_the_team_from_when_they_joined(api, alice, bob, carol):
    team = make_team(api.app, alice, bob)
    for n in range(3):
        send(api, "alice", str(team.pk), f"t{n}", conversation_type="team")
    ConversationMember.objects.create(app=api.app, conversation=team, user=carol, joined_seq=2)
    as_carol = history(api, conversation_type="team", **{"from": "carol", "to": str(team.pk)})
    as_bob = history(api, conversation_type="team", **{"from": "bob", "to": str(team.pk)})
    assert [(m["seq"], m["text"], m["to"]) for m in as_carol["messages"]] == [(3, "t2", str(team.pk))]
    assert seqs(as_bob) == [1, 2, 3]


def test_a_non_member_may_not_read_a_team(api, alice, bob, carol):
    team = make_team(api.app, alice, bob)
    send(api, "alice", str(team.pk), conversation_type="team")
    response = api.get(
        "/api/v1/messages/history", conversation_type="team", **{"from": "carol", "to": str(team.pk)}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_member"


@pytest.mark.parametrize(("sender", "to", "field"), [("ghost", "bob", "from"), ("alice", "ghost", "to")])
def test_unknown_users_are_not_found(api, alice, bob, sender, to, field):
    response = api.get("/api/v1/messages/history", conversation_type="p2p", **{"from": sender, "to": to})
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", field)


def test_the_query_count_does_not_grow_with_the_page(api, seven):
    with CaptureQueriesContext(connection) as one:
        history(api, **{"from": "alice", "to": "bob", "limit": "1"})
    with CaptureQueriesContext(connection) as all_seven:
        history(api, **{"from": "alice", "to": "bob"})
    assert len(all_seven) == len(one)
