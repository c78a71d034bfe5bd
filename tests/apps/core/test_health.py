from __future__ import annotations

import pytest
from django.test import Client

from imcloud.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_reports_every_component_ok():
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert set(body["components"]) == {"database", "channel_layer", "broker"}
    assert {c["status"] for c in body["components"].values()} == {"ok"}


def test_a_broker_that_does_not_answer_makes_healthz_503(monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", UNREACHABLE_REDIS)
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["components"]["broker"]["status"] == "down"
    assert body["components"]["database"]["status"] == "ok"
    assert "error" in body["components"]["broker"]


def test_a_channel_layer_that_does_not_answer_makes_healthz_503(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [UNREACHABLE_REDIS]},
        }
    }
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["components"]["channel_layer"]["status"] == "down"


def test_healthz_only_answers_get():
    assert Client().post("/healthz").status_code == 405
