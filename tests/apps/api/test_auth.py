from __future__ import annotations

import hashlib

import pytest
import time_machine

from apps.tenants.services import app_rotate_secret
from tests.factories import AppFactory
from tests.signing import SignedClient, sign

pytestmark = pytest.mark.django_db

URL = "/api/v1/users"


def _get(client: SignedClient, headers: dict[str, str]):
    return client.client.get(URL, headers=headers)


def test_a_signed_request_is_accepted():
    client = SignedClient(AppFactory())
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"users": [], "next_cursor": None}


def test_the_checksum_is_case_insensitive():
    app = AppFactory()
    headers = sign(app_key=app.app_key, secret=app.secret)
    headers["CheckSum"] = headers["CheckSum"].upper()
    assert _get(SignedClient(app), headers).status_code == 200


@pytest.mark.parametrize("header", ["AppKey", "Nonce", "CurTime", "CheckSum"])
def test_each_missing_header_is_refused(header):
    app = AppFactory()
    headers = sign(app_key=app.app_key, secret=app.secret)
    del headers[header]
    response = _get(SignedClient(app), headers)
    assert response.status_code == 401
    assert response.json()["code"] == "missing_header"
    assert header in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("CheckSum")


def test_an_unknown_app_key_is_refused():
    app = AppFactory()
    headers = sign(app_key="0" * 32, secret=app.secret)
    response = _get(SignedClient(app), headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unknown_app"


def test_a_wrong_secret_is_refused():
    app = AppFactory()
    headers = sign(app_key=app.app_key, secret="not-the-secret")
    response = _get(SignedClient(app), headers)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_checksum"


def test_a_checksum_over_other_values_is_refused():
    app = AppFactory()
    headers = sign(app_key=app.app_key, secret=app.secret)
    headers["Nonce"] = headers["Nonce"] + "x"
    assert _get(SignedClient(app), headers).json()["code"] == "bad_checksum"


NOW = 1_900_000_000


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_a_curtime_outside_five_minutes_is_refused(offset):
    app = AppFactory()
    with time_machine.travel(NOW, tick=False):
        headers = sign(app_key=app.app_key, secret=app.secret, cur_time=NOW + offset)
        response = _get(SignedClient(app), headers)
    assert response.status_code == 401
    assert response.json()["code"] == "stale_curtime"


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_a_curtime_within_five_minutes_is_accepted(offset):
    app = AppFactory()
    with time_machine.travel(NOW, tick=False):
        headers = sign(app_key=app.app_key, secret=app.secret, cur_time=NOW + offset)
        response = _get(SignedClient(app), headers)
    assert response.status_code == 200


def test_a_non_numeric_curtime_is_refused():
    app = AppFactory()
    # Correctly signed over the odd CurTime, so only the time check can refuse it.
    headers = {
        "AppKey": app.app_key,
        "Nonce": "n1",
        "CurTime": "yesterday",
        "CheckSum": hashlib.sha1(f"{app.secret}n1yesterday".encode()).hexdigest(),
    }
    response = _get(SignedClient(app), headers)
    assert response.status_code == 401
    assert response.json()["code"] == "stale_curtime"


def test_a_replayed_nonce_is_refused():
    app = AppFactory()
    client = SignedClient(app)
    headers = sign(app_key=app.app_key, secret=app.secret)
    first = _get(client, headers)
    replay = _get(client, headers)
    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json()["code"] == "replayed_nonce"


def test_the_same_nonce_in_another_app_is_not_a_replay():
    app_a, app_b = AppFactory(), AppFactory()
    nonce = "shared-nonce"
    first = _get(SignedClient(app_a), sign(app_key=app_a.app_key, secret=app_a.secret, nonce=nonce))
    second = _get(SignedClient(app_b), sign(app_key=app_b.app_key, secret=app_b.secret, nonce=nonce))
    assert (first.status_code, second.status_code) == (200, 200)


def test_a_refused_request_does_not_burn_its_nonce():
    app = AppFactory()
    client = SignedClient(app)
    good = sign(app_key=app.app_key, secret=app.secret)
    bad = dict(good, CheckSum="0" * 40)
    assert _get(client, bad).json()["code"] == "bad_checksum"
    assert _get(client, good).status_code == 200


def test_a_nonce_over_128_characters_is_refused():
    app = AppFactory()
    headers = sign(app_key=app.app_key, secret=app.secret, nonce="n" * 129)
    response = _get(SignedClient(app), headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_nonce"


def test_a_nonce_of_128_characters_is_accepted():
    app = AppFactory()
    headers = sign(app_key=app.app_key, secret=app.secret, nonce="n" * 128)
    assert _get(SignedClient(app), headers).status_code == 200


def test_rotating_the_secret_stops_the_old_one_at_once():
    app = AppFactory()
    old_secret = app.secret
    assert _get(SignedClient(app), sign(app_key=app.app_key, secret=old_secret)).status_code == 200
    new_secret = app_rotate_secret(app=app)
    old = _get(SignedClient(app), sign(app_key=app.app_key, secret=old_secret))
    new = _get(SignedClient(app), sign(app_key=app.app_key, secret=new_secret))
    assert old.json()["code"] == "bad_checksum"
    assert new.status_code == 200
