from __future__ import annotations

import json

import pytest

from apps.imusers.models import ImUser
from apps.imusers.selectors import imuser_authenticate
from tests.factories import DEFAULT_TOKEN, AppFactory, ImUserFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> SignedClient:
    return SignedClient(AppFactory())


def test_create_returns_a_random_token_that_logs_in(client):
    response = client.post("/api/v1/users", {"accid": "alice", "name": "Alice"})
    body = response.json()
    assert response.status_code == 201
    assert body["accid"] == "alice"
    assert len(body["token"]) == 32
    assert imuser_authenticate(app=client.app, accid="alice", token=body["token"]) is not None


def test_create_with_a_given_token_stores_only_its_hash(client):
    response = client.post("/api/v1/users", {"accid": "bob", "token": "my-own-token"})
    stored = ImUser.objects.get(app=client.app, accid="bob")
    assert response.json() == {"accid": "bob", "token": "my-own-token"}
    assert "my-own-token" not in json.dumps([stored.token_hash, stored.token_salt, stored.name, stored.ext])
    assert imuser_authenticate(app=client.app, accid="bob", token="my-own-token") == stored


def test_get_shows_the_profile_without_the_token(client):
    ImUserFactory(app=client.app, accid="carol", name="Carol", avatar="https://x/a.png", ext='{"k":1}')
    body = client.get("/api/v1/users/carol").json()
    assert body["accid"] == "carol"
    assert (body["name"], body["avatar"], body["ext"], body["blocked"]) == (
        "Carol",
        "https://x/a.png",
        '{"k":1}',
        False,
    )
    assert "token" not in body


def test_a_duplicate_accid_is_a_conflict(client):
    ImUserFactory(app=client.app, accid="dave")
    response = client.post("/api/v1/users", {"accid": "dave"})
    assert response.status_code == 409
    assert response.json()["code"] == "accid_exists"
    assert response.json()["field"] == "accid"


def test_patch_changes_only_the_given_fields(client):
    ImUserFactory(app=client.app, accid="erin", name="Erin", ext="keep")
    response = client.patch("/api/v1/users/erin", {"name": "Erin B.", "avatar": ""})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["ext"]) == ("Erin B.", "keep")


def test_list_pages_through_every_user_once_in_creation_order(client):
    accids = [f"u{n:02d}" for n in range(7)]
    for accid in accids:
        ImUserFactory(app=client.app, accid=accid)
    seen: list[str] = []
    pages = 0
    body = client.get("/api/v1/users", limit=3).json()
    seen += [u["accid"] for u in body["users"]]
    pages += 1
    while body["next_cursor"]:
        body = client.get("/api/v1/users", limit=3, cursor=body["next_cursor"]).json()
        seen += [u["accid"] for u in body["users"]]
        pages += 1
    assert seen == accids
    assert pages == 3


def test_token_refresh_gives_a_new_random_token_and_retires_the_old(client):
    ImUserFactory(app=client.app, accid="fay")
    response = client.post("/api/v1/users/fay/token")
    new = response.json()["token"]
    assert response.status_code == 200
    assert new != DEFAULT_TOKEN
    assert imuser_authenticate(app=client.app, accid="fay", token=DEFAULT_TOKEN) is None
    assert imuser_authenticate(app=client.app, accid="fay", token=new) is not None


def test_token_set_to_a_given_value(client):
    ImUserFactory(app=client.app, accid="gus")
    response = client.post("/api/v1/users/gus/token", {"token": "chosen-token"})
    assert response.json() == {"accid": "gus", "token": "chosen-token"}
    assert imuser_authenticate(app=client.app, accid="gus", token="chosen-token") is not None
    assert imuser_authenticate(app=client.app, accid="gus", token=DEFAULT_TOKEN) is None


def test_block_stops_logins_and_unblock_restores_them(client):
    ImUserFactory(app=client.app, accid="hal")
    blocked = client.post("/api/v1/users/hal/block", {"kick": True})
    while_blocked = imuser_authenticate(app=client.app, accid="hal", token=DEFAULT_TOKEN)
    unblocked = client.post("/api/v1/users/hal/unblock")
    assert blocked.json() == {"accid": "hal", "blocked": True}
    assert while_blocked is None
    assert unblocked.json() == {"accid": "hal", "blocked": False}
    assert imuser_authenticate(app=client.app, accid="hal", token=DEFAULT_TOKEN) is not None
    assert client.get("/api/v1/users/hal").json()["blocked"] is False


def test_an_unknown_accid_is_404(client):
    response = client.get("/api/v1/users/nobody")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
