from __future__ import annotations

import json
from typing import Any

import pytest

from apps.core.errors import InvalidField
from apps.push.providers import PROVIDERS, DeviceTarget, Notification, ProviderResult
from apps.push.providers import xiaomi as xiaomi_module
from tests.apps.push.providers.common import XIAOMI_REGID
from tests.push_servers.xiaomi import XiaomiServer

xiaomi = PROVIDERS["xiaomi"]
DEVICE = DeviceTarget("xiaomi", XIAOMI_REGID)


def send(
    credentials: dict[str, Any], notification: Notification | None = None, device: DeviceTarget = DEVICE
) -> ProviderResult:
    return xiaomi.send(
        notification=notification or Notification(title="Hi", body="Hello"),
        device=device,
        credentials=credentials,
    )


def test_delivered_send_has_the_documented_form(
    xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any]
) -> None:
    notification = Notification(
        title="alice", body="lunch? 🍜", collapse_id="conv-42", data={"conv": "p2p:alice"}, ttl=600
    )

    result = send(xiaomi_credentials, notification)

    assert (result.outcome, result.status, result.detail) == ("delivered", 200, "0")
    assert json.loads(result.response)["result"] == "ok"
    [received] = xiaomi_server.delivered
    assert received.headers["authorization"] == f"key={xiaomi_credentials['app_secret']}"
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert received.form == {
        "registration_id": XIAOMI_REGID,
        "restricted_package_name": "com.example.app",
        "title": "alice",
        "description": "lunch? 🍜",
        "payload": '{"conv":"p2p:alice"}',
        "pass_through": "0",
        "notify_type": "-1",
        "time_to_live": "600000",
        "notify_id": str(xiaomi_module.notify_id("conv-42")),
        "extra.notify_foreground": "1",
        "extra.notify_effect": "1",
    }


def test_silent_and_custom_sounds(xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any]) -> None:
    send(xiaomi_credentials, Notification(title="t", body="b", sound=""))
    send(xiaomi_credentials, Notification(title="t", body="b", sound="ding", ttl=30 * 86400))

    silent, custom = (received.form for received in xiaomi_server.delivered)
    assert silent["notify_type"] == "6"
    assert "extra.sound_uri" not in silent
    assert custom["notify_type"] == "-1"
    assert custom["extra.sound_uri"] == "android.resource://com.example.app/raw/ding"
    assert custom["time_to_live"] == str(14 * 86400 * 1000)


def test_the_device_package_name_is_used_when_given(
    xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any]
) -> None:
    result = send(
        xiaomi_credentials, device=DeviceTarget("xiaomi", XIAOMI_REGID, bundle_id="com.example.lite")
    )

    assert (result.outcome, result.detail) == ("failed", "22022 Invalid package name")
    assert xiaomi_server.delivered == []


def test_a_wrong_app_secret_fails(xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any]) -> None:
    result = send({**xiaomi_credentials, "app_secret": "not-the-secret"})

    assert (result.outcome, result.status, result.detail) == ("failed", 200, "21301 Authentication failed")


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (20301, "dead_token"),
        (10016, "failed"),
        (10017, "failed"),
        (22006, "failed"),
        (10031, "failed"),
        (1, "retry"),
        (10001, "retry"),
        (10002, "retry"),
        (10027, "retry"),
        (10034, "retry"),
    ],
)
def test_result_codes_map_to_outcomes(
    xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any], code: int, outcome: str
) -> None:
    xiaomi_server.set_error(XIAOMI_REGID, code, "scripted reason")

    result = send(xiaomi_credentials)

    assert (result.outcome, result.status, result.detail) == (outcome, 200, f"{code} scripted reason")
    assert json.loads(result.response)["result"] == "error"


@pytest.mark.parametrize(
    ("status", "outcome"), [(500, "retry"), (502, "retry"), (503, "retry"), (429, "retry"), (401, "failed")]
)
def test_http_errors_map_to_outcomes(
    xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any], status: int, outcome: str
) -> None:
    xiaomi_server.set_error(XIAOMI_REGID, 1, "busy", http_status=status, retry_after="9")

    result = send(xiaomi_credentials)

    assert (result.outcome, result.status, result.retry_after) == (outcome, status, 9.0)


# --- credentials and devices -------------------------------------------------------------------------
def test_valid_credentials() -> None:
    stored = xiaomi.validate_credentials({"app_secret": "abcdEFGH1234==", "package_name": "com.example.app"})

    assert stored == {"app_secret": "abcdEFGH1234==", "package_name": "com.example.app"}


@pytest.mark.parametrize(
    ("upload", "field", "message"),
    [
        ({"package_name": "com.example.app"}, "app_secret", "AppSecret is required"),
        ({"app_secret": "short", "package_name": "com.example.app"}, "app_secret", "8 to 256"),
        ({"app_secret": "abcdEFGH1234=="}, "package_name", "Package name is required"),
        ({"app_secret": "abcdEFGH1234==", "package_name": "example"}, "package_name", "com.example.app"),
        ({"app_secret": "abcdEFGH1234==", "package_name": "com.1example"}, "package_name", "com.example.app"),
    ],
)
def test_malformed_credentials_name_the_field(upload: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        xiaomi.validate_credentials(upload)

    assert excinfo.value.field == field
    assert message in excinfo.value.detail


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (DeviceTarget("xiaomi", "short"), "token"),
        (DeviceTarget("xiaomi", XIAOMI_REGID + " "), "token"),
        (DeviceTarget("xiaomi", "r" * 257), "token"),
        (DeviceTarget("xiaomi", XIAOMI_REGID, bundle_id="-bad-"), "bundle_id"),
        (DeviceTarget("huawei", XIAOMI_REGID), "provider"),
    ],
)
def test_malformed_devices_are_refused(target: DeviceTarget, field: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        xiaomi.validate_device(target)

    assert excinfo.value.field == field


def test_sending_to_a_malformed_regid_is_a_dead_token_without_a_request(
    xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any]
) -> None:
    result = send(xiaomi_credentials, device=DeviceTarget("xiaomi", "bad regid"))

    assert (result.outcome, result.status) == ("dead_token", 0)
    assert xiaomi_server.requests == []


def test_missing_stored_credentials_fail_without_a_request(
    xiaomi_server: XiaomiServer, xiaomi_credentials: dict[str, Any]
) -> None:
    result = send({"package_name": "com.example.app"})

    assert (result.outcome, result.status) == ("failed", 0)
    assert result.detail.startswith("InvalidCredentials")
    assert xiaomi_server.requests == []
