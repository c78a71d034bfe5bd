"""Tenant isolation for teams: app A's credentials never read or change app B's teams.

A matrix over every team endpoint: B's team answers A with 404 ``no_such_team``, exactly as a team
that does not exist, and after A's attempt B's team (profile, conversation, member rows) is as it
was. A has users with the same accids as B's members, so every body is one A could send.
"""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from apps.messaging.models import Conversation, ConversationMember
from apps.teams.models import Team
from apps.teams.services import team_create
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient
from tests.teams_factories import make_managers

pytestmark = pytest.mark.django_db

ACCIDS = ("owner", "boss", "m1", "m2", "stranger")

ENDPOINTS_ON_ONE_TEAM = [
    ("GET", "", None),
    ("PATCH", "", {"operator": "owner", "name": "hijacked", "max_members": 10}),
    ("POST", "/dismiss", {"operator": "owner"}),
    ("GET", "/members", None),
    ("POST", "/members", {"operator": "owner", "accids": ["stranger"]}),
    ("POST", "/members/remove", {"operator": "owner", "accids": ["m1", "boss"]}),
    ("POST", "/leave", {"accid": "m1"}),
    ("POST", "/owner", {"operator": "owner", "new_owner": "m1", "leave": True}),
    ("POST", "/managers", {"operator": "owner", "accids": ["m1"]}),
    ("POST", "/managers/remove", {"operator": "owner", "accids": ["boss"]}),
    ("POST", "/mute", {"operator": "owner", "accid": "m1", "muted": True}),
    ("POST", "/mute-all", {"operator": "owner", "muted": True}),
]


def _team_in(app) -> Team:
    for accid in ACCIDS:
        ImUserFactory(app=app, accid=accid)
    team = team_create(app=app, owner="owner", name="Crew", members=["boss", "m1", "m2"])
    make_managers(team, "boss")
    return team


def _state(team: Team) -> tuple[object, ...]:
    members = ConversationMember.objects.filter(conversation_id=team.pk).order_by("id")
    return (
        model_to_dict(Team.objects.get(pk=team.pk)),
        model_to_dict(Conversation.objects.get(pk=team.pk)),
        [model_to_dict(m) for m in members],
    )


@pytest.fixture
def tenants():
    app_a, app_b = AppFactory(), AppFactory()
    _team_in(app_a)  # A has a team of its own, and users with the same accids
    victim = _team_in(app_b)
    return SignedClient(app_a), victim


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS_ON_ONE_TEAM)
def test_another_apps_team_is_not_found_and_untouched(tenants, method, suffix, body):
    client_a, victim = tenants
    before = _state(victim)
    response = client_a.request(method, f"/api/v1/teams/{victim.pk}{suffix}", body)
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_team", "team_id")
    assert _state(victim) == before


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS_ON_ONE_TEAM)
def test_another_apps_team_answers_like_a_team_that_does_not_exist(tenants, method, suffix, body):
    client_a, victim = tenants
    missing = Conversation.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    theirs = client_a.request(method, f"/api/v1/teams/{victim.pk}{suffix}", body)
    nobodys = client_a.request(method, f"/api/v1/teams/{missing}{suffix}", body)
    assert (theirs.status_code, theirs.json()["code"]) == (nobodys.status_code, nobodys.json()["code"])
    assert theirs.json()["detail"].replace(str(victim.pk), "ID") == nobodys.json()["detail"].replace(
        str(missing), "ID"
    )


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS_ON_ONE_TEAM)
def test_the_same_request_on_the_callers_own_team_succeeds(tenants, method, suffix, body):
    client_a, victim = tenants
    before = _state(victim)
    own = Team.objects.get(app=client_a.app)
    response = client_a.request(method, f"/api/v1/teams/{own.pk}{suffix}", body)
    assert response.status_code == 200
    assert _state(victim) == before


def test_a_team_cannot_take_members_from_another_app(tenants):
    client_a, victim = tenants
    ImUserFactory(app=victim.app, accid="only-in-b")
    response = client_a.post("/api/v1/teams", {"owner": "owner", "name": "Poach", "members": ["only-in-b"]})
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("no_such_user", "members")
    assert Team.objects.filter(app=client_a.app).count() == 1


def test_a_member_cursor_from_another_app_leaks_nothing(tenants):
    client_a, victim = tenants
    client_b = SignedClient(victim.app)
    cursor_b = client_b.get(f"/api/v1/teams/{victim.pk}/members", limit=1).json()["next_cursor"]
    own = Team.objects.get(app=client_a.app)
    page = client_a.get(f"/api/v1/teams/{own.pk}/members", cursor=cursor_b).json()
    # The cursor only says "after row N": A's own team resumes after it and shows none of B's rows.
    assert page == {"members": [], "next_cursor": None}
