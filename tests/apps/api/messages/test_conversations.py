"""GET /api/v1/conversations and GET /api/v1/teams/{team_id}/read-status."""

from __future__ import annotations

import pytest

from tests.apps.api.messages.conftest import make_team, send

pytestmark = pytest.mark.django_db


def conversations(api, **query):
    response = api.get("/api/v1/conversations", **query)
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_list_shows_each_conversation_with_counts_and_last_message(api, alice, bob, carol):
    send(api, "bob", "alice", "one")
    send(api, "bob", "alice", "two")
    last = send(api, "alice", "carol", "hey carol")
    send(api, "carol", "alice", "hey alice")
    api.post("/api/v1/messages/read", {"accid": "carol", "conversation_type": "p2p", "to": "alice", "seq": 2})
    page = conversations(api, accid="alice")
    by_peer = {c["to"]: c for c in page["conversations"]}
    assert page["has_more"] is False
    assert {k: v for k, v in by_peer["bob"].items() if k not in ("last_message", "updated_at")} == {
        "conversation_type": "p2p",
        "to": "bob",
        "last_seq": 2,
        "read_seq": 0,
        "peer_read_seq": 2,
        "unread": 2,
    }
    assert (by_peer["bob"]["last_message"]["text"], by_peer["bob"]["last_message"]["from"]) == ("two", "bob")
    assert (by_peer["carol"]["unread"], by_peer["carol"]["peer_read_seq"]) == (1, 2)
    assert by_peer["carol"]["last_message"]["seq"] == last["seq"] + 1
    assert by_peer["carol"]["updated_at"] >= last["server_time"]


def test_a_team_appears_by_its_id(api, alice, bob):
    team = make_team(api.app, alice, bob)
    send(api, "alice", str(team.pk), "team news", conversation_type="team")
    (conversation,) = conversations(api, accid="bob")["conversations"]
    assert (conversation["conversation_type"], conversation["to"], conversation["unread"]) == (
        "team",
        str(team.pk),
        1,
    )
    assert conversation["last_message"]["to"] == str(team.pk)


def test_pages_follow_each_other_and_the_cursor_lists_only_later_changes(api, alice, bob, carol):
    send(api, "alice", "bob")
    send(api, "alice", "carol")
    first = conversations(api, accid="alice", limit="1")
    second = conversations(api, accid="alice", limit="1", cursor=first["cursor"])
    assert (first["has_more"], second["has_more"]) == (True, False)
    assert [c["to"] for c in first["conversations"] + second["conversations"]] == ["bob", "carol"]


def test_a_user_without_conversations_has_an_empty_list(api, alice):
    page = conversations(api, accid="alice")
    assert (page["conversations"], page["has_more"]) == ([], False)
    assert page["cursor"]


def test_an_unknown_user_is_not_found(api):
    response = api.get("/api/v1/conversations", accid="ghost")
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "accid")


def read_status(api, team_id, **query):
    return api.get(f"/api/v1/teams/{team_id}/read-status", **query)


def test_read_status_splits_members_by_their_read_position(api, alice, bob, carol):
    team = make_team(api.app, alice, bob, carol)
    sent = send(api, "alice", str(team.pk), conversation_type="team")
    api.post(
        "/api/v1/messages/read", {"accid": "bob", "conversation_type": "team", "to": str(team.pk), "seq": 1}
    )
    response = read_status(api, team.pk, accid="carol", seq=str(sent["seq"]))
    assert response.status_code == 200
    assert response.json() == {"read": ["bob"], "unread": ["carol"]}


def test_read_status_of_an_unknown_seq_is_not_found(api, alice, bob):
    team = make_team(api.app, alice, bob)
    response = read_status(api, team.pk, accid="alice", seq="5")
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_message", "seq")


@pytest.mark.parametrize("team_id", ["999999", "abc", "9" * 19, "\u00b2"])
def test_read_status_of_an_unknown_team_is_not_found(api, alice, team_id):
    response = read_status(api, team_id, accid="alice", seq="1")
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_team", "team_id")


def test_read_status_for_a_non_member_is_refused(api, alice, bob, carol):
    team = make_team(api.app, alice, bob)
    send(api, "alice", str(team.pk), conversation_type="team")
    response = read_status(api, team.pk, accid="carol", seq="1")
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_member"


@pytest.mark.parametrize(
    ("query", "field"),
    [({"accid": "alice"}, "seq"), ({"accid": "alice", "seq": "0"}, "seq"), ({"seq": "1"}, "accid")],
)
def test_read_status_refuses_bad_query_parameters(api, alice, bob, query, field):
    team = make_team(api.app, alice, bob)
    response = read_status(api, team.pk, **query)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_field", field)
