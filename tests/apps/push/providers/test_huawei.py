from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from apps.core.errors import InvalidField
from apps.push.providers import PROVIDERS, DeviceTarget, Notification, ProviderResult, transport
from apps.push.providers import huawei as huawei_module
from tests.apps.push.providers.common import HUAWEI_TOKEN
from tests.push_servers.huawei import HuaweiServer

huawei = PROVIDERS["huawei"]
DEVICE = DeviceTarget("huawei", HUAWEI_TOKEN)


def send(
    credentials: dict[str, Any], notification: Notification | None = None, device: DeviceTarget = DEVICE
) -> ProviderResult:
    return huawei.send(
        notification=notification or Notification(title="Hi", body="Hello"),
        device=device,
        credentials=credentials,
    )


def test_delivered_send_has_the_documented_message(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    notification = Notification(
        title="alice",
        body="lunch?",
        badge=120,
        collapse_id="conv-42",
        thread_id="p2p:alice",
        data={"conv": "p2p:alice"},
        ttl=600,
        priority="high",
    )

    result = send(huawei_credentials, notification)

    assert (result.outcome, result.status, result.detail) == ("delivered", 200, "80000000")
    [received] = huawei_server.delivered
    assert received.app_id == huawei_credentials["app_id"]
    assert received.headers["authorization"] == f"Bearer {received.access_token}"
    assert received.body == {
        "validate_only": False,
        "message": {
            "token": [HUAWEI_TOKEN],
            "data": '{"conv":"p2p:alice"}',
            "android": {
                "urgency": "HIGH",
                "ttl": "600s",
                "collapse_key": huawei_module.collapse_key("conv-42"),
                "notification": {
                    "title": "alice",
                    "body": "lunch?",
                    "click_action": {"type": 3},
                    "default_sound": True,
                    "tag": "conv-42",
                    "group": "p2p:alice",
                    "badge": {"set_num": 99, "class": "com.example.app.MainActivity"},
                },
            },
        },
    }
    assert 0 <= huawei_module.collapse_key("conv-42") <= 100
    [token_request] = huawei_server.token_requests
    assert token_request == {
        "grant_type": "client_credentials",
        "client_id": huawei_credentials["app_id"],
        "client_secret": huawei_credentials["client_secret"],
    }


def test_no_badge_without_the_entry_activity_and_a_custom_sound(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    credentials = {**huawei_credentials, "badge_class": ""}

    send(
        credentials,
        Notification(title="t", body="b", badge=3, sound="ding", priority="normal", ttl=99 * 86400),
    )

    android = huawei_server.delivered[0].body["message"]["android"]
    assert android["urgency"] == "NORMAL"
    assert android["ttl"] == f"{15 * 86400}s"
    assert android["notification"] == {
        "title": "t",
        "body": "b",
        "click_action": {"type": 3},
        "default_sound": False,
        "sound": "ding",
    }
    assert "data" not in huawei_server.delivered[0].body["message"]


@pytest.mark.parametrize(
    ("http_status", "code", "outcome"),
    [
        (200, "80300007", "dead_token"),
        (400, "80100003", "failed"),
        (400, "80100001", "failed"),
        (400, "80100016", "failed"),
        (403, "80300002", "failed"),
        (413, "80300008", "failed"),
        (200, "80000001", "retry"),
        (500, "81000001", "retry"),
        (503, "80600003", "retry"),
        (429, "80300001", "retry"),
    ],
)
def test_result_codes_map_to_outcomes(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any], http_status: int, code: str, outcome: str
) -> None:
    huawei_server.set_error(HUAWEI_TOKEN, code, http_status=http_status, msg="scripted")

    result = send(huawei_credentials)

    assert (result.outcome, result.status, result.detail) == (outcome, http_status, f"{code} scripted")
    assert json.loads(result.response)["code"] == code


def test_a_partial_success_naming_our_token_is_a_dead_token(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    msg = json.dumps({"success": 0, "failure": 1, "illegal_tokens": [HUAWEI_TOKEN]})
    huawei_server.set_error(HUAWEI_TOKEN, "80100000", msg=msg)

    result = send(huawei_credentials)

    assert (result.outcome, result.status) == ("dead_token", 200)


def test_a_partial_success_not_naming_our_token_is_delivered(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    msg = json.dumps({"success": 1, "failure": 1, "illegal_tokens": ["someone-else"]})
    huawei_server.set_error(HUAWEI_TOKEN, "80100000", msg=msg)

    result = send(huawei_credentials)

    assert (result.outcome, result.detail) == ("delivered", "80100000")


def test_retry_after_is_honoured(huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]) -> None:
    huawei_server.set_error(HUAWEI_TOKEN, "80300001", http_status=429, retry_after="15")

    result = send(huawei_credentials)

    assert (result.outcome, result.retry_after) == ("retry", 15.0)


# --- OAuth access token ----------------------------------------------------------------------------
def test_one_access_token_serves_many_sends(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: send(huawei_credentials), range(30)))

    assert {r.outcome for r in results} == {"delivered"}
    assert len(huawei_server.token_requests) == 1
    assert huawei_module.cached_access_token_count() == 1


def test_a_401_refreshes_the_access_token_and_resends_once(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    send(huawei_credentials)
    huawei_server.revoke_access_tokens()

    result = send(huawei_credentials)

    assert (result.outcome, result.status) == ("delivered", 200)
    assert len(huawei_server.token_requests) == 2
    assert huawei_server.send_attempts == 3


def test_a_second_401_fails(huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]) -> None:
    huawei_server.set_error(HUAWEI_TOKEN, "80200003", http_status=401, msg="Oauth Token expired.")

    result = send(huawei_credentials)

    assert (result.outcome, result.status, result.detail) == ("failed", 401, "80200003 Oauth Token expired.")
    assert (len(huawei_server.token_requests), huawei_server.send_attempts) == (2, 2)


def test_the_access_token_is_refetched_when_it_nears_expiry(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    send(huawei_credentials)
    transport.CLOCK.offset = huawei_server.clock_offset = 3400

    send(huawei_credentials)

    assert len(huawei_server.token_requests) == 2


def test_a_wrong_client_secret_fails(huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]) -> None:
    result = send({**huawei_credentials, "client_secret": "wrong-secret"})

    assert (result.outcome, result.status, result.detail) == ("failed", 400, "OAuth: 1101: invalid client")
    assert huawei_server.send_attempts == 0


def test_an_unavailable_oauth_service_is_a_retry(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    huawei_server.fail_token_requests(503, retry_after="3")

    result = send(huawei_credentials)

    assert (result.outcome, result.status, result.retry_after) == ("retry", 503, 3.0)


# --- credentials and devices -------------------------------------------------------------------------
def test_valid_credentials() -> None:
    stored = huawei.validate_credentials({"app_id": " 104857601 ", "client_secret": "a" * 64})

    assert stored == {"app_id": "104857601", "client_secret": "a" * 64, "badge_class": ""}


@pytest.mark.parametrize(
    ("upload", "field", "message"),
    [
        ({"client_secret": "a" * 64}, "app_id", "App ID is required"),
        ({"app_id": "com.example", "client_secret": "a" * 64}, "app_id", "numeric"),
        ({"app_id": "104857601"}, "client_secret", "Client secret is required"),
        ({"app_id": "104857601", "client_secret": "has space inside"}, "client_secret", "without spaces"),
        (
            {"app_id": "104857601", "client_secret": "a" * 64, "badge_class": "Main"},
            "badge_class",
            "entry activity",
        ),
    ],
)
def test_malformed_credentials_name_the_field(upload: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        huawei.validate_credentials(upload)

    assert excinfo.value.field == field
    assert message in excinfo.value.detail


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (DeviceTarget("huawei", "short"), "token"),
        (DeviceTarget("huawei", HUAWEI_TOKEN + " x"), "token"),
        (DeviceTarget("huawei", "A" * 513), "token"),
        (DeviceTarget("huawei", HUAWEI_TOKEN, bundle_id="x"), "bundle_id"),
        (DeviceTarget("xiaomi", HUAWEI_TOKEN), "provider"),
    ],
)
def test_malformed_devices_are_refused(target: DeviceTarget, field: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        huawei.validate_device(target)

    assert excinfo.value.field == field


def test_sending_to_a_malformed_token_is_a_dead_token_without_a_request(
    huawei_server: HuaweiServer, huawei_credentials: dict[str, Any]
) -> None:
    result = send(huawei_credentials, device=DeviceTarget("huawei", "bad token"))

    assert (result.outcome, result.status) == ("dead_token", 0)
    assert huawei_server.requests == []
