"""Bad input to team endpoints gets a 400 (or 404) with a stable code and the field at fault."""

from __future__ import annotations

import pytest

from apps.teams.models import Team
from tests.factories import ImUserFactory
from tests.teams_factories import fresh, members_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "T"}, "owner"),
        ({"owner": "ann"}, "name"),
        ({"owner": 5, "name": "T"}, "owner"),
        ({"owner": "a" * 33, "name": "T"}, "owner"),
        ({"owner": "ann", "name": 1}, "name"),
        ({"owner": "ann", "name": ""}, "name"),
        ({"owner": "ann", "name": "   "}, "name"),
        ({"owner": "ann", "name": "n" * 65}, "name"),
        ({"owner": "ann", "name": "T", "intro": "i" * 513}, "intro"),
        ({"owner": "ann", "name": "T", "announcement": "a" * 1025}, "announcement"),
        ({"owner": "ann", "name": "T", "icon": None}, "icon"),
        ({"owner": "ann", "name": "T", "ext": {"k": 1}}, "ext"),
        ({"owner": "ann", "name": "T", "members": "bea"}, "members"),
        ({"owner": "ann", "name": "T", "members": [1]}, "members.0"),
        ({"owner": "ann", "name": "T", "members": ["x"] * 501}, "members"),
        ({"owner": "ann", "name": "T", "max_members": "50"}, "max_members"),
        ({"owner": "ann", "name": "T", "max_members": 50.0}, "max_members"),
        ({"owner": "ann", "name": "T", "max_members": True}, "max_members"),
        ({"owner": "ann", "name": "T", "max_members": 1}, "max_members"),
        ({"owner": "ann", "name": "T", "max_members": 10_001}, "max_members"),
    ],
)
def test_create_refuses_bad_fields(client, body, field):
    ImUserFactory(app=client.app, accid="ann")
    response = client.post("/api/v1/teams", body)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_field", field)
    assert not Team.objects.filter(app=client.app).exists()


def test_create_refuses_unknown_fields(client):
    ImUserFactory(app=client.app, accid="ann")
    response = client.post("/api/v1/teams", {"owner": "ann", "name": "T", "tname": "x"})
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("unknown_field", "tname")


@pytest.mark.parametrize("raw", [b"[]", b'"team"', b"{", b"NaN"])
def test_create_refuses_bodies_that_are_not_objects(client, raw):
    response = client.post("/api/v1/teams", raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_body", "invalid_json"}


# Each write endpoint with a body that is right but for one field.
WRITES = [
    ("PATCH", "", {"operator": "owner", "name": "x"}),
    ("POST", "/dismiss", {"operator": "owner"}),
    ("POST", "/members", {"operator": "owner", "accids": ["stranger"]}),
    ("POST", "/members/remove", {"operator": "owner", "accids": ["m1"]}),
    ("POST", "/leave", {"accid": "m1"}),
    ("POST", "/owner", {"operator": "owner", "new_owner": "m1", "leave": False}),
    ("POST", "/managers", {"operator": "owner", "accids": ["m1"]}),
    ("POST", "/managers/remove", {"operator": "owner", "accids": ["boss"]}),
    ("POST", "/mute", {"operator": "owner", "accid": "m1", "muted": True}),
    ("POST", "/mute-all", {"operator": "owner", "muted": True}),
]
# Values of the wrong type for each kind of field (strings unless named here).
WRONG_VALUES = {
    "accids": [7, None, "m1", {"a": 1}, [7], [None]],
    "leave": [1, None, "true", ["x"], {}],
    "muted": [1, None, "true", ["x"], {}],
}
WRONG_STRINGS = [7, None, True, ["x"], {"a": 1}]


def _snapshot(team: Team) -> tuple[object, ...]:
    current = fresh(team)
    rows = {accid: (row.role, row.muted) for accid, row in members_of(team).items()}
    return (current.name, current.owner_id, current.member_count, current.conversation.mute_all, rows)


def _refusal(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["field"].split(".")[0]


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_every_field_of_every_write_is_type_checked(client, team, url, method, suffix, body):
    before = _snapshot(team)
    cases = [(field, wrong) for field in body for wrong in WRONG_VALUES.get(field, WRONG_STRINGS)]
    seen = [_refusal(client.request(method, url + suffix, {**body, field: wrong})) for field, wrong in cases]
    assert seen == [(400, "invalid_field", field) for field, _wrong in cases]
    assert _snapshot(team) == before


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_every_write_refuses_unknown_fields_and_missing_required_ones(
    client, team, url, method, suffix, body
):
    before = _snapshot(team)
    unknown = client.request(method, url + suffix, {**body, "owner_accid": "x"})
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["field"]) == (
        400,
        "unknown_field",
        "owner_accid",
    )
    empty = client.request(method, url + suffix, {})
    assert (empty.status_code, empty.json()["code"]) == (400, "invalid_field")
    assert empty.json()["field"] in body
    assert _snapshot(team) == before


@pytest.mark.parametrize("suffix", ["/members", "/members/remove", "/managers", "/managers/remove"])
@pytest.mark.parametrize("accids", [[], ["x"] * 501, ["a" * 33]])
def test_accid_lists_are_one_to_five_hundred_accids(client, team, url, suffix, accids):
    response = client.post(url + suffix, {"operator": "owner", "accids": accids})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_field"
    assert response.json()["field"].split(".")[0] == "accids"


@pytest.mark.parametrize("team_id", ["abc", "-1", "1.5", "0x1", "9" * 19, "%EF%BC%91"])
@pytest.mark.parametrize(
    ("method", "suffix", "body"), [("GET", "", None), ("GET", "/members", None), *WRITES]
)
def test_team_ids_that_are_not_digits_are_no_such_team(client, team, method, suffix, body, team_id):
    response = client.request(method, f"/api/v1/teams/{team_id}{suffix}", body)
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_team", "team_id")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_member_list_paging_parameters_are_checked(client, team, url, params, field):
    response = client.get(f"{url}/members", **params)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_field", field)


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_the_reference_bodies_above_are_accepted(client, team, url, method, suffix, body):
    assert client.request(method, url + suffix, body).status_code == 200
