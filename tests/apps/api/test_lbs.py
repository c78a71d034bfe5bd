"""GET /api/v1/lbs: unsigned gateway discovery for SDKs that hold only an app key."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.api.throttling import AppRateThrottle
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db

GATEWAYS = ["wss://gw1.example.com/ws", "wss://gw2.example.com/ws"]


@pytest.fixture
def gateways(settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_URLS": GATEWAYS}
    return GATEWAYS


def test_a_known_app_key_gets_the_gateways_without_signing(gateways):
    app = AppFactory()
    response = Client().get("/api/v1/lbs", {"appkey": app.app_key})
    assert response.status_code == 200
    assert response.json() == {
        "gateways": gateways,
        "http": ["https://gw1.example.com", "https://gw2.example.com"],
        "ttl": 300,
        "protocol_version": 1,
        "subprotocols": ["imcloud.v1.proto", "imcloud.v1.json"],
    }
    assert response["Cache-Control"] == "public, max-age=300"


def test_the_gateway_list_is_read_when_called(settings):
    app = AppFactory()
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_URLS": ["ws://changed/ws"]}
    assert Client().get("/api/v1/lbs", {"appkey": app.app_key}).json()["gateways"] == ["ws://changed/ws"]


@pytest.mark.parametrize(
    ("gateway_urls", "http"),
    [
        (["ws://127.0.0.1:8000/ws"], ["http://127.0.0.1:8000"]),
        (["wss://im.example.com/ws/"], ["https://im.example.com"]),
        (
            ["wss://example.com/im/ws", "ws://example.com:81/ws"],
            ["https://example.com/im", "http://example.com:81"],
        ),
        # Two gateways on one server (a WebSocket per path) are one short-link base.
        (["wss://a.example.com/ws", "wss://a.example.com/ws?x=1"], ["https://a.example.com"]),
    ],
)
def test_the_short_link_bases_default_to_the_gateways_http_side(settings, gateway_urls, http):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_URLS": gateway_urls, "HTTP_URLS": []}
    app = AppFactory()
    assert Client().get("/api/v1/lbs", {"appkey": app.app_key}).json()["http"] == http


def test_configured_short_link_bases_are_handed_out_as_they_are(gateways, settings):
    settings.IMCLOUD = {
        **settings.IMCLOUD,
        "HTTP_URLS": ["https://short.example.com", "https://b.example.com"],
    }
    app = AppFactory()
    body = Client().get("/api/v1/lbs", {"appkey": app.app_key}).json()
    assert (body["gateways"], body["http"]) == (
        gateways,
        ["https://short.example.com", "https://b.example.com"],
    )


def test_an_unknown_app_key_is_not_found(gateways):
    response = Client().get("/api/v1/lbs", {"appkey": "f" * 32})
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("unknown_app", "appkey")
    assert "gateways" not in response.json()


@pytest.mark.parametrize("query", [{}, {"appkey": ""}, {"appkey": "k" * 65}])
def test_a_missing_app_key_is_bad_input(gateways, query):
    response = Client().get("/api/v1/lbs", query)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_field", "appkey")


def test_it_is_one_query_and_not_rate_limited(gateways, monkeypatch):
    app = AppFactory(api_rate_limit=1)
    monkeypatch.setattr(AppRateThrottle, "allow_request", lambda *a: pytest.fail("lbs must not be throttled"))
    with CaptureQueriesContext(connection) as queries:
        responses = [Client().get("/api/v1/lbs", {"appkey": app.app_key}) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(queries) == 3


def test_signing_headers_are_ignored_not_checked(gateways):
    app = AppFactory()
    response = Client().get(
        "/api/v1/lbs", {"appkey": app.app_key}, headers={"AppKey": app.app_key, "CheckSum": "wrong"}
    )
    assert response.status_code == 200
