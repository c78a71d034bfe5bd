"""Bad input gets a 400 (or 404/405/415) with a stable code, never a 500."""

from __future__ import annotations

import json

import pytest

from apps.imusers.models import ImUser
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> SignedClient:
    return SignedClient(AppFactory())


@pytest.mark.parametrize(
    "accid",
    ["", "a" * 33, "has space", "slash/no", "ünïcode", "semi;colon", "tab\t", "emoji😀", "new\nline"],
)
def test_bad_accids_are_refused_and_name_the_field(client, accid):
    response = client.post("/api/v1/users", {"accid": accid})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_field"
    assert response.json()["field"] == "accid"
    assert not ImUser.objects.filter(app=client.app).exists()


@pytest.mark.parametrize("accid", ["a", "a" * 32, "A.b-c_d@e", "0123"])
def test_good_accids_are_accepted(client, accid):
    assert client.post("/api/v1/users", {"accid": accid}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"accid": 5}, "accid"),
        ({"accid": None}, "accid"),
        ({"accid": ["x"]}, "accid"),
        ({"accid": "ok", "name": 1}, "name"),
        ({"accid": "ok", "name": "n" * 65}, "name"),
        ({"accid": "ok", "ext": {"a": 1}}, "ext"),
        ({"accid": "ok", "ext": "e" * 1025}, "ext"),
        ({"accid": "ok", "avatar": True}, "avatar"),
        ({"accid": "ok", "token": 123456}, "token"),
        ({"accid": "ok", "token": "has space"}, "token"),
        ({"accid": "ok", "token": "t" * 129}, "token"),
        ({"accid": "ok", "token": ""}, "token"),
        ({}, "accid"),
    ],
)
def test_wrong_types_and_sizes_name_the_field(client, body, field):
    response = client.post("/api/v1/users", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_field"
    assert response.json()["field"] == field


def test_unknown_fields_are_refused(client):
    response = client.post("/api/v1/users", {"accid": "ok", "nickname": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_field"
    assert response.json()["field"] == "nickname"


def test_patch_cannot_set_the_token(client):
    ImUserFactory(app=client.app, accid="ivy")
    response = client.patch("/api/v1/users/ivy", {"token": "sneaky"})
    assert response.json()["code"] == "unknown_field"
    assert response.json()["field"] == "token"


@pytest.mark.parametrize(
    "raw", [b"{", b"{'a': 1}", b"\xff\xfe", b'{"accid": "x",}', b"NaN", b'{"accid": Infinity}']
)
def test_malformed_json_is_refused(client, raw):
    response = client.post("/api/v1/users", raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


@pytest.mark.parametrize("body", [[], ["accid"], "alice", 42, None])
def test_a_body_that_is_not_an_object_is_refused(client, body):
    response = client.post("/api/v1/users", raw=json.dumps(body).encode())
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_body", "invalid_field"}
    assert response.json()["field"] in {"body", "accid"}


def test_a_body_over_64_kib_is_refused(client):
    response = client.post("/api/v1/users", {"accid": "big", "ext": "x" * (64 * 1024)})
    assert response.status_code == 400
    assert response.json()["code"] == "body_too_large"
    assert not ImUser.objects.filter(app=client.app).exists()


def test_a_body_just_under_the_cap_is_parsed(client):
    response = client.post("/api/v1/users", {"accid": "big", "ext": "x" * (60 * 1024)})
    assert response.status_code == 400
    assert response.json()["field"] == "ext"


def test_block_kick_must_be_a_boolean(client):
    ImUserFactory(app=client.app, accid="jay")
    response = client.post("/api/v1/users/jay/block", {"kick": "yes"})
    assert response.status_code == 400
    assert response.json()["field"] == "kick"
    assert client.get("/api/v1/users/jay").json()["blocked"] is False


@pytest.mark.parametrize("cursor", ["garbage", "eyJhIjoiLTEifQ", "e30", "!!!"])
def test_a_bad_cursor_is_refused(client, cursor):
    response = client.get("/api/v1/users", cursor=cursor)
    assert response.status_code == 400
    assert response.json()["field"] == "cursor"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_a_bad_limit_is_refused(client, limit):
    response = client.get("/api/v1/users", limit=limit)
    assert response.status_code == 400
    assert response.json()["field"] == "limit"


def test_a_wrong_content_type_is_refused(client):
    response = client.client.post(
        "/api/v1/users",
        "accid=x",
        content_type="application/x-www-form-urlencoded",
        headers=sign(app_key=client.app.app_key, secret=client.app.secret),
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_an_unknown_endpoint_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(client):
    response = client.request("DELETE", "/api/v1/users")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
