from __future__ import annotations

import pytest

from apps.messaging.models import ConversationMember
from apps.push.models import Device, PushPreferences
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db
APNS_TOKEN = "d4" * 32
DEVICE = {"device_id": "phone", "provider": "apns", "token": APNS_TOKEN, "bundle_id": "com.example.chat"}


@pytest.fixture
def client() -> SignedClient:
    app = AppFactory()
    ImUserFactory(app=app, accid="alice")
    ImUserFactory(app=app, accid="bob")
    return SignedClient(app)


def test_register_list_and_unregister_a_device(client):
    created = client.post("/api/v1/users/alice/devices", DEVICE)
    listed = client.get("/api/v1/users/alice/devices")
    deleted = client.request("DELETE", "/api/v1/users/alice/devices/phone")
    assert created.status_code == 201
    assert created.json()["provider"] == "apns"
    assert "token" not in created.json()
    assert [d["device_id"] for d in listed.json()["devices"]] == ["phone"]
    assert deleted.status_code == 204
    assert not Device.objects.exists()


def test_a_token_moves_to_whoever_registers_it_last(client):
    client.post("/api/v1/users/alice/devices", DEVICE)
    client.post("/api/v1/users/bob/devices", DEVICE)
    assert list(Device.objects.values_list("user__accid", flat=True)) == ["bob"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**DEVICE, "token": "short"}, "token"),
        ({**DEVICE, "provider": "nokia"}, "provider"),
        ({**DEVICE, "device_id": 7}, "device_id"),
        ({**DEVICE, "surprise": 1}, "surprise"),
    ],
)
def test_bad_registrations_name_the_field(client, body, field):
    response = client.post("/api/v1/users/alice/devices", body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Device.objects.exists()


def test_unregistering_an_unknown_device_is_404(client):
    response = client.request("DELETE", "/api/v1/users/alice/devices/nothing")
    assert response.json()["code"] == "no_such_device"


def test_preferences_round_trip_and_refuse_a_bad_time_zone(client):
    prefs = {
        "push_enabled": True, "dnd_enabled": True, "dnd_start_minute": 1320, "dnd_end_minute": 420,
        "timezone": "Asia/Shanghai",
    }  # fmt: skip
    saved = client.request("PUT", "/api/v1/users/alice/push-preferences", prefs)
    refused = client.request(
        "PUT", "/api/v1/users/alice/push-preferences", {**prefs, "timezone": "Mars/Olympus"}
    )
    assert saved.json() == prefs
    assert refused.json()["field"] == "timezone"
    assert PushPreferences.objects.get(user__accid="alice").timezone == "Asia/Shanghai"


def test_a_conversation_mute(client):
    response = client.post(
        "/api/v1/users/alice/push-mutes", {"conversation_type": "p2p", "to": "bob", "muted": True}
    )
    assert response.json() == {"conversation_type": "p2p", "to": "bob", "muted": True}
    assert ConversationMember.objects.get(user__accid="alice").push_muted is True


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/users/alice/devices", None),
        ("POST", "/api/v1/users/alice/devices", DEVICE),
        ("DELETE", "/api/v1/users/alice/devices/phone", None),
        ("GET", "/api/v1/users/alice/push-preferences", None),
        ("POST", "/api/v1/users/alice/push-mutes", {"conversation_type": "p2p", "to": "bob", "muted": True}),
    ],
)
def test_another_apps_users_are_not_found(client, method, path, body):
    client.post("/api/v1/users/alice/devices", DEVICE)
    stranger = SignedClient(AppFactory())
    response = stranger.request(method, path, body)
    assert response.status_code == 404
    assert Device.objects.filter(user__accid="alice", user__app=client.app).count() == 1
