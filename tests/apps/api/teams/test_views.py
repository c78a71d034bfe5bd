"""Every team endpoint's happy path, and the permission refusals as clients see them."""

from __future__ import annotations

import pytest

from apps.messaging.models import Conversation
from apps.teams.models import Team
from tests.factories import ImUserFactory
from tests.teams_factories import fresh, members_of, roles_of, set_last_seq

pytestmark = pytest.mark.django_db

TEAM_KEYS = {
    "team_id",
    "name",
    "owner",
    "intro",
    "announcement",
    "icon",
    "ext",
    "max_members",
    "member_count",
    "mute_all",
    "created_at",
}


def test_create_returns_201_and_the_team(client):
    for accid in ("ann", "bea", "cal"):
        ImUserFactory(app=client.app, accid=accid)
    response = client.post(
        "/api/v1/teams",
        {
            "owner": "ann",
            "name": "Book club",
            "members": ["bea", "cal"],
            "intro": "We read",
            "announcement": "Next: Dune",
            "icon": "https://x/i.png",
            "ext": '{"k":1}',
            "max_members": 50,
        },
    )
    body = response.json()
    assert response.status_code == 201
    assert set(body) == TEAM_KEYS
    team = Team.objects.get(pk=int(body["team_id"]))
    assert team.app == client.app
    assert {k: body[k] for k in TEAM_KEYS - {"team_id", "created_at"}} == {
        "name": "Book club",
        "owner": "ann",
        "intro": "We read",
        "announcement": "Next: Dune",
        "icon": "https://x/i.png",
        "ext": '{"k":1}',
        "max_members": 50,
        "member_count": 3,
        "mute_all": False,
    }
    assert roles_of(team) == {"ann": "owner", "bea": "member", "cal": "member"}


def test_create_with_only_owner_and_name_uses_the_defaults(client):
    ImUserFactory(app=client.app, accid="ann")
    body = client.post("/api/v1/teams", {"owner": "ann", "name": "Solo"}).json()
    assert (body["max_members"], body["member_count"], body["intro"], body["ext"]) == (200, 1, "", "")


def test_create_with_ten_thousand_max_members_is_allowed(client):
    ImUserFactory(app=client.app, accid="ann")
    response = client.post("/api/v1/teams", {"owner": "ann", "name": "Big", "max_members": 10_000})
    assert response.status_code == 201
    assert response.json()["max_members"] == 10_000


def test_create_beyond_max_members_is_409_team_full(client):
    for accid in ("ann", "bea", "cal"):
        ImUserFactory(app=client.app, accid=accid)
    response = client.post(
        "/api/v1/teams", {"owner": "ann", "name": "T", "members": ["bea", "cal"], "max_members": 2}
    )
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("team_full", "members")
    assert not Team.objects.filter(app=client.app).exists()


def test_create_names_missing_users(client):
    ImUserFactory(app=client.app, accid="ann")
    response = client.post("/api/v1/teams", {"owner": "ann", "name": "T", "members": ["nope"]})
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "members")
    assert "'nope'" in response.json()["detail"]


def test_get_returns_the_team(client, team, url):
    body = client.get(url).json()
    assert set(body) == TEAM_KEYS
    assert (body["team_id"], body["name"], body["owner"], body["member_count"]) == (
        str(team.pk),
        "Crew",
        "owner",
        4,
    )


def test_patch_changes_only_the_given_fields(client, team, url):
    response = client.patch(url, {"operator": "boss", "name": "Renamed", "intro": "", "max_members": 20})
    body = response.json()
    assert response.status_code == 200
    assert (body["name"], body["intro"], body["max_members"], body["announcement"]) == ("Renamed", "", 20, "")
    assert fresh(team).name == "Renamed"


def test_patch_by_a_plain_member_is_403(client, team, url):
    response = client.patch(url, {"operator": "m1", "name": "Mine"})
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["field"]) == ("not_team_manager", "operator")
    assert fresh(team).name == "Crew"


def test_patch_max_members_below_the_count_is_409(client, team, url):
    response = client.patch(url, {"operator": "owner", "max_members": 3})
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("team_full", "max_members")


def test_dismiss_then_the_team_is_not_found(client, team, url):
    response = client.post(f"{url}/dismiss", {"operator": "owner"})
    assert response.status_code == 200
    assert response.json() == {"team_id": str(team.pk), "dismissed": True}
    assert client.get(url).json()["code"] == "no_such_team"
    assert client.get(url).status_code == 404


def test_dismiss_by_a_manager_is_403(client, team, url):
    response = client.post(f"{url}/dismiss", {"operator": "boss"})
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_owner"
    assert client.get(url).status_code == 200


def test_members_list_pages_with_roles_and_mutes(client, team, url):
    client.post(f"{url}/mute", {"operator": "owner", "accid": "m1", "muted": True})
    first = client.get(f"{url}/members", limit=3).json()
    second = client.get(f"{url}/members", limit=3, cursor=first["next_cursor"]).json()
    assert [(m["accid"], m["role"], m["muted"]) for m in first["members"] + second["members"]] == [
        ("owner", "owner", False),
        ("boss", "manager", False),
        ("m1", "member", True),
        ("m2", "member", False),
    ]
    assert set(first["members"][0]) == {"accid", "role", "muted", "joined_at"}
    assert second["next_cursor"] is None


def test_members_list_defaults_to_one_page(client, team, url):
    body = client.get(f"{url}/members").json()
    assert len(body["members"]) == 4
    assert body["next_cursor"] is None


def test_add_members_is_idempotent(client, team, url):
    set_last_seq(team, 5)
    first = client.post(f"{url}/members", {"operator": "boss", "accids": ["stranger", "m1"]})
    again = client.post(f"{url}/members", {"operator": "boss", "accids": ["stranger"]})
    assert first.status_code == 200
    assert first.json() == {"team_id": str(team.pk), "changed": ["stranger"], "member_count": 5}
    assert again.json() == {"team_id": str(team.pk), "changed": [], "member_count": 5}
    assert members_of(team)["stranger"].joined_seq == 5


def test_add_members_beyond_the_cap_is_409(client, team, url):
    client.patch(url, {"operator": "owner", "max_members": 4})
    response = client.post(f"{url}/members", {"operator": "owner", "accids": ["stranger"]})
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("team_full", "accids")
    assert "stranger" not in members_of(team)


def test_add_members_by_a_plain_member_is_403(client, team, url):
    response = client.post(f"{url}/members", {"operator": "m1", "accids": ["stranger"]})
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_manager"


def test_add_unknown_users_is_404_naming_them(client, team, url):
    response = client.post(f"{url}/members", {"operator": "owner", "accids": ["ghost", "stranger"]})
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "accids")
    assert "'ghost'" in response.json()["detail"]


def test_remove_members(client, team, url):
    response = client.post(f"{url}/members/remove", {"operator": "boss", "accids": ["m1", "stranger"]})
    assert response.json() == {"team_id": str(team.pk), "changed": ["m1"], "member_count": 3}
    assert "m1" not in members_of(team)


@pytest.mark.parametrize(
    ("operator", "accids", "code", "field"),
    [
        ("boss", ["owner"], "owner_protected", "accids"),
        ("owner", ["owner"], "owner_protected", "accids"),
        ("m1", ["m2"], "not_team_manager", "operator"),
        ("stranger", ["m2"], "not_team_member", "operator"),
    ],
)
def test_remove_members_refusals_are_403(client, team, url, operator, accids, code, field):
    response = client.post(f"{url}/members/remove", {"operator": operator, "accids": accids})
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert fresh(team).member_count == 4


def test_a_manager_cannot_remove_a_manager_over_http(client, team, url):
    client.post(f"{url}/managers", {"operator": "owner", "accids": ["m1"]})
    response = client.post(f"{url}/members/remove", {"operator": "boss", "accids": ["m1"]})
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_owner"
    assert "m1" in members_of(team)


def test_leave(client, team, url):
    response = client.post(f"{url}/leave", {"accid": "m2"})
    assert response.json() == {"team_id": str(team.pk), "accid": "m2", "member_count": 3}
    assert "m2" not in members_of(team)


def test_the_owner_cannot_leave_409(client, team, url):
    response = client.post(f"{url}/leave", {"accid": "owner"})
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("owner_cannot_leave", "accid")


def test_transfer_owner(client, team, url):
    response = client.post(f"{url}/owner", {"operator": "owner", "new_owner": "m1"})
    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["member_count"]) == ("m1", 4)
    assert roles_of(team)["owner"] == "member"


def test_transfer_owner_and_leave(client, team, url):
    response = client.post(f"{url}/owner", {"operator": "owner", "new_owner": "boss", "leave": True})
    assert (response.json()["owner"], response.json()["member_count"]) == ("boss", 3)
    assert "owner" not in members_of(team)


def test_transfer_by_a_manager_is_403(client, team, url):
    response = client.post(f"{url}/owner", {"operator": "boss", "new_owner": "boss"})
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_owner"
    assert fresh(team).owner.accid == "owner"


def test_transfer_to_a_non_member_is_403(client, team, url):
    response = client.post(f"{url}/owner", {"operator": "owner", "new_owner": "stranger"})
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["field"]) == ("not_team_member", "new_owner")


def test_add_and_remove_managers(client, team, url):
    added = client.post(f"{url}/managers", {"operator": "owner", "accids": ["m1", "boss"]})
    assert added.json() == {"team_id": str(team.pk), "changed": ["m1"], "member_count": 4}
    removed = client.post(f"{url}/managers/remove", {"operator": "owner", "accids": ["boss"]})
    assert removed.json()["changed"] == ["boss"]
    assert roles_of(team) == {"owner": "owner", "boss": "member", "m1": "manager", "m2": "member"}


@pytest.mark.parametrize("path", ["managers", "managers/remove"])
def test_managers_by_a_manager_is_403(client, team, url, path):
    response = client.post(f"{url}/{path}", {"operator": "boss", "accids": ["m1"]})
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_owner"
    assert roles_of(team)["m1"] == "member"


def test_mute_and_unmute_a_member(client, team, url):
    response = client.post(f"{url}/mute", {"operator": "boss", "accid": "m2", "muted": True})
    assert response.json() == {"team_id": str(team.pk), "accid": "m2", "muted": True}
    assert members_of(team)["m2"].muted is True
    client.post(f"{url}/mute", {"operator": "boss", "accid": "m2", "muted": False})
    assert members_of(team)["m2"].muted is False


@pytest.mark.parametrize(
    ("operator", "accid", "code"),
    [
        ("owner", "owner", "owner_protected"),
        ("boss", "owner", "owner_protected"),
        ("m1", "m2", "not_team_manager"),
    ],
)
def test_mute_refusals_are_403(client, team, url, operator, accid, code):
    response = client.post(f"{url}/mute", {"operator": operator, "accid": accid, "muted": True})
    assert response.status_code == 403
    assert response.json()["code"] == code
    assert not any(row.muted for row in members_of(team).values())


def test_mute_all(client, team, url):
    response = client.post(f"{url}/mute-all", {"operator": "owner", "muted": True})
    assert response.json()["mute_all"] is True
    assert Conversation.objects.get(pk=team.pk).mute_all is True
    assert client.get(url).json()["mute_all"] is True


def test_mute_all_by_a_manager_is_403(client, team, url):
    response = client.post(f"{url}/mute-all", {"operator": "boss", "muted": True})
    assert response.status_code == 403
    assert response.json()["code"] == "not_team_owner"
    assert Conversation.objects.get(pk=team.pk).mute_all is False
