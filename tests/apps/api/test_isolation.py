"""Tenant isolation: app A's credentials never read or change app B's data.

A matrix over every endpoint: B's user is invisible to A (404, as if it did not exist), and after
A's attempt B's row is exactly as it was. Users with the same accid in both apps stay separate.
"""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from apps.imusers.models import ImUser
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db

ENDPOINTS_ON_ONE_USER = [
    ("GET", "/api/v1/users/{accid}", None),
    ("PATCH", "/api/v1/users/{accid}", {"name": "hijacked"}),
    ("POST", "/api/v1/users/{accid}/token", {}),
    ("POST", "/api/v1/users/{accid}/token", {"token": "attacker-token"}),
    ("POST", "/api/v1/users/{accid}/block", {"kick": True}),
    ("POST", "/api/v1/users/{accid}/unblock", None),
]


@pytest.fixture
def tenants():
    app_a, app_b = AppFactory(), AppFactory()
    victim = ImUserFactory(app=app_b, accid="only-in-b", is_blocked=True)
    return SignedClient(app_a), victim


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS_ON_ONE_USER)
def test_another_apps_user_is_not_found_and_untouched(tenants, method, path, body):
    client_a, victim = tenants
    before = model_to_dict(ImUser.objects.get(pk=victim.pk))
    response = client_a.request(method, path.format(accid=victim.accid), body)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert model_to_dict(ImUser.objects.get(pk=victim.pk)) == before


def test_list_shows_only_the_callers_users(tenants):
    client_a, _victim = tenants
    ImUserFactory(app=client_a.app, accid="mine")
    accids = [u["accid"] for u in client_a.get("/api/v1/users").json()["users"]]
    assert accids == ["mine"]


def test_a_cursor_from_another_app_leaks_nothing(tenants):
    client_a, victim = tenants
    client_b = SignedClient(victim.app)
    ImUserFactory.create_batch(3, app=victim.app)
    cursor_b = client_b.get("/api/v1/users", limit=1).json()["next_cursor"]
    page = client_a.get("/api/v1/users", cursor=cursor_b).json()
    assert page == {"users": [], "next_cursor": None}


def test_creating_an_accid_that_exists_in_another_app_is_allowed(tenants):
    client_a, victim = tenants
    response = client_a.post("/api/v1/users", {"accid": victim.accid})
    assert response.status_code == 201
    assert ImUser.objects.filter(accid=victim.accid).count() == 2


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS_ON_ONE_USER)
def test_the_same_accid_in_two_apps_only_changes_the_callers(method, path, body):
    app_a, app_b = AppFactory(), AppFactory()
    ImUserFactory(app=app_a, accid="twin")
    twin_b = ImUserFactory(app=app_b, accid="twin", is_blocked=True)
    before_b = model_to_dict(ImUser.objects.get(pk=twin_b.pk))
    response = SignedClient(app_a).request(method, path.format(accid="twin"), body)
    assert response.status_code == 200
    assert model_to_dict(ImUser.objects.get(pk=twin_b.pk)) == before_b
