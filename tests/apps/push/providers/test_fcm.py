from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apps.core.errors import InvalidField
from apps.push.providers import PROVIDERS, DeviceTarget, Notification, ProviderResult, transport
from apps.push.providers import fcm as fcm_module
from tests.apps.push.providers.common import FCM_TOKEN
from tests.push_servers.fcm import FcmServer

fcm = PROVIDERS["fcm"]
DEVICE = DeviceTarget("fcm", FCM_TOKEN)


def send(
    credentials: dict[str, Any], notification: Notification | None = None, device: DeviceTarget = DEVICE
) -> ProviderResult:
    return fcm.send(
        notification=notification or Notification(title="Hi", body="Hello"),
        device=device,
        credentials=credentials,
    )


def test_delivered_send_has_the_documented_message(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    notification = Notification(
        title="alice",
        body="lunch?",
        badge=2,
        collapse_id="conv-42",
        thread_id="p2p:alice",
        data={"conv": "p2p:alice"},
        ttl=600,
        priority="high",
    )

    result = send(fcm_credentials, notification, DeviceTarget("fcm", FCM_TOKEN, bundle_id="com.example.app"))

    assert (result.outcome, result.status) == ("delivered", 200)
    assert '"name": "projects/imcloud-test/messages/' in result.response
    [received] = fcm_server.delivered
    assert received.project_id == "imcloud-test"
    assert received.headers["authorization"] == f"Bearer {received.access_token}"
    expiration = received.message["apns"]["headers"].pop("apns-expiration")
    assert abs(int(expiration) - (time.time() + 600)) <= 2
    assert received.message == {
        "token": FCM_TOKEN,
        "notification": {"title": "alice", "body": "lunch?"},
        "data": {"conv": "p2p:alice"},
        "android": {
            "priority": "HIGH",
            "ttl": "600s",
            "collapse_key": "conv-42",
            "restricted_package_name": "com.example.app",
            "notification": {"tag": "p2p:alice", "notification_count": 2, "sound": "default"},
        },
        "apns": {
            "headers": {"apns-priority": "10", "apns-collapse-id": "conv-42"},
            "payload": {"aps": {"badge": 2, "sound": "default", "thread-id": "p2p:alice"}},
        },
    }


def test_the_oauth_assertion_is_the_documented_jwt(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    send(fcm_credentials)

    [claims] = fcm_server.assertions
    assert claims["iss"] == "push@imcloud-test.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert claims["aud"] == fcm_server.token_uri
    assert claims["exp"] - claims["iat"] == 3600


def test_normal_priority_and_no_optional_fields(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    send(fcm_credentials, Notification(title="t", body="b", priority="normal", sound="", ttl=0))

    message = fcm_server.delivered[0].message
    assert message["android"] == {"priority": "NORMAL", "ttl": "0s"}
    assert message["apns"] == {
        "headers": {"apns-priority": "5", "apns-expiration": "0"},
        "payload": {"aps": {}},
    }
    assert "data" not in message


def test_ttl_is_capped_at_28_days(fcm_server: FcmServer, fcm_credentials: dict[str, Any]) -> None:
    send(fcm_credentials, Notification(title="t", body="b", ttl=90 * 86400))

    assert fcm_server.delivered[0].message["android"]["ttl"] == f"{28 * 86400}s"


@pytest.mark.parametrize(
    ("status", "error_code", "extra", "outcome"),
    [
        (404, "UNREGISTERED", {}, "dead_token"),
        (400, "UNREGISTERED", {}, "dead_token"),
        (400, "INVALID_ARGUMENT", {"token_violation": True}, "dead_token"),
        (
            400,
            "INVALID_ARGUMENT",
            {"message": "The registration token is not a valid FCM registration token"},
            "dead_token",
        ),
        (400, "INVALID_ARGUMENT", {"message": "Invalid value at 'message.android.ttl'"}, "failed"),
        (403, "SENDER_ID_MISMATCH", {}, "failed"),
        (401, "THIRD_PARTY_AUTH_ERROR", {}, "failed"),
        (429, "QUOTA_EXCEEDED", {}, "retry"),
        (500, "INTERNAL", {}, "retry"),
        (503, "UNAVAILABLE", {}, "retry"),
    ],
)
def test_error_answers_map_to_outcomes(
    fcm_server: FcmServer,
    fcm_credentials: dict[str, Any],
    status: int,
    error_code: str,
    extra: dict[str, Any],
    outcome: str,
) -> None:
    fcm_server.set_error(FCM_TOKEN, status, error_code, **extra)

    result = send(fcm_credentials)

    assert (result.outcome, result.status, result.detail) == (outcome, status, error_code)
    assert json.loads(result.response)["error"]["code"] == status


def test_third_party_auth_error_does_not_refresh_the_access_token(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    fcm_server.set_error(FCM_TOKEN, 401, "THIRD_PARTY_AUTH_ERROR")

    send(fcm_credentials)

    assert (len(fcm_server.assertions), fcm_server.send_attempts) == (1, 1)


def test_quota_exceeded_carries_retry_after(fcm_server: FcmServer, fcm_credentials: dict[str, Any]) -> None:
    fcm_server.set_error(FCM_TOKEN, 429, "QUOTA_EXCEEDED", retry_after="120")

    result = send(fcm_credentials)

    assert (result.outcome, result.detail, result.retry_after) == ("retry", "QUOTA_EXCEEDED", 120.0)


def test_a_project_the_account_does_not_belong_to_fails(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    result = send({**fcm_credentials, "project_id": "someone-else"})

    assert (result.outcome, result.status, result.detail) == ("failed", 403, "PERMISSION_DENIED")


# --- OAuth access token ----------------------------------------------------------------------------
def test_one_access_token_serves_many_sends(fcm_server: FcmServer, fcm_credentials: dict[str, Any]) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: send(fcm_credentials), range(30)))

    assert {r.outcome for r in results} == {"delivered"}
    assert len(fcm_server.assertions) == 1
    assert len({received.access_token for received in fcm_server.delivered}) == 1
    assert fcm_module.cached_access_token_count() == 1


def test_a_401_refreshes_the_access_token_and_resends_once(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    send(fcm_credentials)
    fcm_server.revoke_access_tokens()

    result = send(fcm_credentials)

    assert (result.outcome, result.status) == ("delivered", 200)
    assert len(fcm_server.assertions) == 2
    assert fcm_server.send_attempts == 3  # first send, the refused one, the resend
    first, second = fcm_server.delivered
    assert first.access_token != second.access_token


def test_a_second_401_fails(fcm_server: FcmServer, fcm_credentials: dict[str, Any]) -> None:
    fcm_server.set_error(FCM_TOKEN, 401, "")

    result = send(fcm_credentials)

    assert (result.outcome, result.status, result.detail) == ("failed", 401, "UNAUTHENTICATED")
    assert (len(fcm_server.assertions), fcm_server.send_attempts) == (2, 2)


def test_the_access_token_is_replaced_shortly_before_it_expires(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    send(fcm_credentials)
    transport.CLOCK.offset = fcm_server.clock_offset = 3000  # still valid for 599 s: kept
    send(fcm_credentials)
    transport.CLOCK.offset = fcm_server.clock_offset = 3400  # 199 s left: inside the 300 s margin

    result = send(fcm_credentials)

    assert result.outcome == "delivered"
    assert len(fcm_server.assertions) == 2


def test_a_refused_assertion_fails(fcm_server: FcmServer, fcm_credentials: dict[str, Any]) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        **fcm_credentials,
        "private_key": other_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    }

    result = send(forged)

    assert (result.outcome, result.status) == ("failed", 400)
    assert result.detail == "OAuth: invalid_grant: Invalid JWT Signature."
    assert fcm_server.delivered == []


@pytest.mark.parametrize(("status", "outcome"), [(503, "retry"), (429, "retry"), (400, "failed")])
def test_token_endpoint_errors(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any], status: int, outcome: str
) -> None:
    fcm_server.fail_token_requests(status, "backendError", retry_after="7")

    result = send(fcm_credentials)

    assert (result.outcome, result.status) == (outcome, status)
    assert result.retry_after == 7.0
    assert fcm_server.send_attempts == 0


def test_the_service_account_token_uri_may_not_be_private_in_production(
    settings: Any, fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    settings.IMCLOUD = {**settings.IMCLOUD, "PUSH_ALLOW_PRIVATE_ENDPOINTS": False}

    result = send(fcm_credentials)

    assert (result.outcome, result.status) == ("failed", 0)
    assert "token_uri must not name a local or private address" in result.detail
    assert fcm_server.requests == []


# --- credentials ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def service_account() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": "abc",
        "private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
        "client_email": "firebase-adminsdk@my-project.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def test_a_service_account_json_file_is_accepted(service_account: dict[str, str]) -> None:
    stored = fcm.validate_credentials({"service_account": json.dumps(service_account)})

    assert stored["project_id"] == "my-project"
    assert stored["token_uri"] == "https://oauth2.googleapis.com/token"
    assert stored["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert set(stored) == {"project_id", "client_email", "private_key", "private_key_id", "token_uri"}


@pytest.mark.parametrize("missing", ["private_key", "client_email", "token_uri", "project_id"])
def test_a_service_account_without_a_required_field_is_refused(
    service_account: dict[str, str], missing: str
) -> None:
    account = {k: v for k, v in service_account.items() if k != missing}

    with pytest.raises(InvalidField) as excinfo:
        fcm.validate_credentials({"service_account": account})

    assert excinfo.value.field == "service_account"
    assert excinfo.value.detail == f"The service account JSON has no {missing}."


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ({"service_account": "{not json"}, "not valid JSON"),
        ({"service_account": "[1, 2]"}, "must be a JSON object"),
        ({"service_account": {"type": "authorized_user"}}, "type 'service_account'"),
    ],
)
def test_files_that_are_not_service_accounts_are_refused(upload: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidField, match=message):
        fcm.validate_credentials(upload)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"private_key": "nope"}, "must be a PEM private key"),
        ({"client_email": "not-an-email"}, "not an email address"),
        ({"token_uri": "ftp://oauth2.googleapis.com/token"}, "must be an https://"),
    ],
)
def test_malformed_service_account_fields_are_refused(
    service_account: dict[str, str], changes: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidField, match=message):
        fcm.validate_credentials({**service_account, **changes})


def test_an_ec_private_key_is_refused(service_account: dict[str, str]) -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )

    with pytest.raises(InvalidField, match="must be an RSA key, not EC secp256r1"):
        fcm.validate_credentials({**service_account, "private_key": ec_pem})


def test_a_private_token_uri_is_refused_unless_allowed(
    settings: Any, service_account: dict[str, str]
) -> None:
    settings.IMCLOUD = {**settings.IMCLOUD, "PUSH_ALLOW_PRIVATE_ENDPOINTS": False}
    account = {**service_account, "token_uri": "http://169.254.169.254/token"}

    with pytest.raises(InvalidField, match="must not name a local or private address"):
        fcm.validate_credentials(account)


# --- devices -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "token",
    ["short", "x" * 4097, FCM_TOKEN[:-1] + " ", FCM_TOKEN + "/", ""],
)
def test_malformed_registration_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        fcm.validate_device(DeviceTarget("fcm", token))

    assert excinfo.value.field == "token"


def test_sending_to_a_malformed_token_is_a_dead_token_without_a_request(
    fcm_server: FcmServer, fcm_credentials: dict[str, Any]
) -> None:
    result = send(fcm_credentials, device=DeviceTarget("fcm", "bad token"))

    assert (result.outcome, result.status) == ("dead_token", 0)
    assert fcm_server.requests == []
