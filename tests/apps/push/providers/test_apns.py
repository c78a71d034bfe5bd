from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apps.core.errors import InvalidField
from apps.push.providers import PROVIDERS, DeviceTarget, Notification, ProviderResult, config, transport
from apps.push.providers import apns as apns_module
from tests.apps.push.providers.common import APNS_TOKEN
from tests.apps.push.providers.common import apns_send as send
from tests.push_servers.apns import ApnsServer

apns = PROVIDERS["apns"]


def pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def test_delivered_send_has_the_documented_request(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    notification = Notification(
        title="alice",
        body="lunch?",
        badge=3,
        sound="ping.caf",
        collapse_id="conv-42",
        thread_id="p2p:alice",
        data={"conv": "p2p:alice", "msg": "m-1"},
        ttl=3600,
        priority="high",
    )

    result = send(apns_credentials, notification)

    assert result == ProviderResult("delivered", 200, "", None, "")
    [received] = apns_server.delivered
    assert received.http_version == "2"
    assert received.token == APNS_TOKEN
    assert received.headers["apns-topic"] == "com.example.app"
    assert received.headers["apns-push-type"] == "alert"
    assert received.headers["apns-priority"] == "10"
    assert received.headers["apns-collapse-id"] == "conv-42"
    assert abs(int(received.headers["apns-expiration"]) - (time.time() + 3600)) <= 2
    assert received.payload == {
        "conv": "p2p:alice",
        "msg": "m-1",
        "aps": {
            "alert": {"title": "alice", "body": "lunch?"},
            "badge": 3,
            "sound": "ping.caf",
            "thread-id": "p2p:alice",
        },
    }
    assert received.jwt_header == {"alg": "ES256", "kid": "KEY1234567", "typ": "JWT"}
    assert received.jwt_claims["iss"] == "TEAM123456"
    assert abs(received.jwt_claims["iat"] - time.time()) <= 2


def test_normal_priority_no_collapse_and_zero_ttl(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    result = send(apns_credentials, Notification(title="t", body="b", priority="normal", ttl=0, sound=""))

    assert result.outcome == "delivered"
    [received] = apns_server.delivered
    assert received.headers["apns-priority"] == "5"
    assert received.headers["apns-expiration"] == "0"
    assert "apns-collapse-id" not in received.headers
    assert received.payload == {"aps": {"alert": {"title": "t", "body": "b"}}}


def test_long_collapse_id_is_hashed_to_64_bytes(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials, Notification(title="t", body="b", collapse_id="c" * 100))

    assert len(apns_server.delivered[0].headers["apns-collapse-id"]) == 64


def test_the_device_bundle_id_is_the_topic(apns_server: ApnsServer, apns_credentials: dict[str, Any]) -> None:
    result = send(apns_credentials, device=DeviceTarget("apns", APNS_TOKEN, bundle_id="com.example.other"))

    assert result.outcome == "delivered"
    assert apns_server.delivered[0].headers["apns-topic"] == "com.example.other"


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (410, "Unregistered", "dead_token"),
        (410, "ExpiredToken", "dead_token"),
        (400, "BadDeviceToken", "dead_token"),
        (400, "DeviceTokenNotForTopic", "dead_token"),
        (400, "BadTopic", "failed"),
        (403, "InvalidProviderToken", "failed"),
        (403, "ExpiredProviderToken", "failed"),
        (413, "PayloadTooLarge", "failed"),
        (429, "TooManyRequests", "retry"),
        (500, "InternalServerError", "retry"),
        (503, "ServiceUnavailable", "retry"),
        (503, "Shutdown", "retry"),
    ],
)
def test_error_answers_map_to_outcomes(
    apns_server: ApnsServer, apns_credentials: dict[str, Any], status: int, reason: str, outcome: str
) -> None:
    apns_server.set_error(APNS_TOKEN, status, reason)

    result = send(apns_credentials)

    assert (result.outcome, result.status, result.detail) == (outcome, status, reason)
    assert f'"reason": "{reason}"' in result.response


def test_410_body_is_kept_in_the_result(apns_server: ApnsServer, apns_credentials: dict[str, Any]) -> None:
    apns_server.set_error(APNS_TOKEN, 410, "Unregistered")

    result = send(apns_credentials)

    assert result.outcome == "dead_token"
    assert '"timestamp"' in result.response


def test_a_token_of_another_app_is_dead(apns_server: ApnsServer, apns_credentials: dict[str, Any]) -> None:
    apns_server.bind_token(APNS_TOKEN, "com.example.other")

    result = send(apns_credentials)

    assert (result.outcome, result.status, result.detail) == ("dead_token", 400, "DeviceTokenNotForTopic")
    apns_server.token_topics.clear()


def test_a_topic_the_key_may_not_push_to_fails(apns_credentials: dict[str, Any]) -> None:
    result = send(apns_credentials, device=DeviceTarget("apns", APNS_TOKEN, bundle_id="com.example.unknown"))

    assert (result.outcome, result.status, result.detail) == ("failed", 400, "TopicDisallowed")


def test_a_key_apple_does_not_know_fails(apns_credentials: dict[str, Any]) -> None:
    stranger = {**apns_credentials, "private_key": pem(ec.generate_private_key(ec.SECP256R1()))}

    result = send(stranger)

    assert (result.outcome, result.status, result.detail) == ("failed", 403, "InvalidProviderToken")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("30", 30.0), ("0", 0.0)],
)
def test_retry_after_seconds_is_honoured(
    apns_server: ApnsServer, apns_credentials: dict[str, Any], header: str, expected: float
) -> None:
    apns_server.set_error(APNS_TOKEN, 429, "TooManyRequests", retry_after=header)

    result = send(apns_credentials)

    assert (result.outcome, result.retry_after) == ("retry", expected)


def test_retry_after_http_date_is_honoured(apns_server: ApnsServer, apns_credentials: dict[str, Any]) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 120))
    apns_server.set_error(APNS_TOKEN, 503, "ServiceUnavailable", retry_after=when)

    result = send(apns_credentials)

    assert result.outcome == "retry"
    assert result.retry_after == pytest.approx(120, abs=2)


def test_payload_over_4_kb_fails_without_a_request(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    result = send(apns_credentials, Notification(title="t", body="x" * 5000))

    assert (result.outcome, result.status) == ("failed", 0)
    assert result.detail.startswith("PayloadTooLarge")
    assert apns_server.requests == []


# --- provider token (JWT) caching ----------------------------------------------------------------------
def test_the_jwt_is_signed_once_for_many_sends(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    results = [send(apns_credentials) for _ in range(5)]

    assert {r.outcome for r in results} == {"delivered"}
    assert len({received.jwt for received in apns_server.delivered}) == 1
    assert len(apns_server.jwts_accepted) == 1


def test_the_jwt_is_kept_at_49_minutes(apns_server: ApnsServer, apns_credentials: dict[str, Any]) -> None:
    send(apns_credentials)
    transport.CLOCK.offset = apns_server.clock_offset = 49 * 60

    send(apns_credentials)

    assert len(apns_server.jwts_accepted) == 1


def test_the_jwt_is_re_signed_after_50_minutes(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    first = send(apns_credentials)
    transport.CLOCK.offset = apns_server.clock_offset = 51 * 60

    second = send(apns_credentials)

    assert (first.outcome, second.outcome) == ("delivered", "delivered")
    _, new = apns_server.jwts_accepted
    assert apns_server.delivered[1].jwt == new
    assert (
        apns_server.delivered[1].jwt_claims["iat"] - apns_server.delivered[0].jwt_claims["iat"] >= 51 * 60 - 2
    )


def test_expired_provider_token_drops_the_jwt_so_the_next_send_re_signs(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials)
    transport.CLOCK.offset = apns_server.clock_offset = 25 * 60
    apns_server.set_error(APNS_TOKEN, 403, "ExpiredProviderToken", times=1)

    rejected = send(apns_credentials)
    after = send(apns_credentials)

    assert (rejected.outcome, rejected.detail) == ("failed", "ExpiredProviderToken")
    assert after.outcome == "delivered"
    assert len(apns_server.jwts_accepted) == 2
    assert apns_server.delivered[-1].jwt == apns_server.jwts_accepted[1]


def test_a_jwt_younger_than_20_minutes_is_not_re_signed_even_if_called_expired(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials)
    apns_server.set_error(APNS_TOKEN, 403, "ExpiredProviderToken", times=1)

    rejected = send(apns_credentials)
    after = send(apns_credentials)

    assert (rejected.outcome, after.outcome) == ("failed", "delivered")
    assert len(apns_server.jwts_accepted) == 1  # no TooManyProviderTokenUpdates either


def test_an_hour_old_jwt_is_expired_by_the_server(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials)
    apns_server.clock_offset = 61 * 60  # the server's clock is an hour ahead of ours

    result = send(apns_credentials)

    assert (result.outcome, result.status, result.detail) == ("failed", 403, "ExpiredProviderToken")


# --- connection reuse ----------------------------------------------------------------------------------
def test_sequential_sends_share_one_http2_connection(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    results = [send(apns_credentials) for _ in range(25)]

    assert [r.outcome for r in results] == ["delivered"] * 25
    assert apns_server.connection_count == 1
    assert transport.cached_client_count() == 1


def test_concurrent_sends_from_threads_reuse_one_connection_per_thread(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    tokens = [f"{i:064x}" for i in range(40)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda token: send(apns_credentials, device=DeviceTarget("apns", token)), tokens)
        )

    assert [r.outcome for r in results] == ["delivered"] * 40
    assert sorted(received.token for received in apns_server.delivered) == sorted(tokens)
    assert 1 <= apns_server.connection_count <= 8  # at most one per thread, not one per send
    assert len(apns_server.jwts_accepted) == 1


def test_production_and_sandbox_use_their_own_base_urls(
    settings: Any, apns_server: ApnsServer, apns_credentials: dict[str, Any], closed_port: int
) -> None:
    settings.IMCLOUD = {**settings.IMCLOUD, "PUSH_APNS_PRODUCTION_URL": f"http://127.0.0.1:{closed_port}"}

    sandbox = send(apns_credentials)
    production = send({**apns_credentials, "environment": "production"})

    assert sandbox.outcome == "delivered"
    assert (production.outcome, production.status) == ("retry", 0)
    assert production.detail.startswith("NetworkError: ConnectError")


def test_base_urls_default_to_apple(settings: Any) -> None:
    settings.IMCLOUD = {
        k: v
        for k, v in settings.IMCLOUD.items()
        if k not in {"PUSH_APNS_PRODUCTION_URL", "PUSH_APNS_SANDBOX_URL"}
    }

    assert apns_module.base_url("production") == "https://api.push.apple.com"
    assert apns_module.base_url("sandbox") == "https://api.sandbox.push.apple.com"


def test_a_slow_answer_is_a_retry(
    monkeypatch: pytest.MonkeyPatch, apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    monkeypatch.setattr(config, "TOTAL_TIMEOUT", 0.3)
    apns_server.delay(APNS_TOKEN, 1.0)

    started = time.monotonic()
    result = send(apns_credentials)

    assert (result.outcome, result.status) == ("retry", 0)
    assert result.detail.startswith("Timeout")
    assert time.monotonic() - started < 0.9


# --- credentials ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def upload() -> dict[str, str]:
    return {
        "key_id": "abc123defg",
        "team_id": "DEF123GHIJ",
        "private_key": pem(ec.generate_private_key(ec.SECP256R1())),
        "bundle_id": "com.example.app",
        "environment": "development",
    }


def test_valid_credentials_are_normalised(upload: dict[str, str]) -> None:
    stored = apns.validate_credentials(upload)

    assert stored["key_id"] == "ABC123DEFG"
    assert stored["environment"] == "sandbox"
    assert stored["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert set(stored) == {"key_id", "team_id", "private_key", "bundle_id", "environment"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"private_key": "not a key"}, "private_key", "must be a PEM private key"),
        (
            {"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
            "private_key",
            "not a readable PEM",
        ),
        ({"private_key": ""}, "private_key", "is required"),
        ({"key_id": ""}, "key_id", "Key ID is required"),
        ({"key_id": "ABC"}, "key_id", "10-character"),
        ({"team_id": None}, "team_id", "Team ID is required"),
        ({"team_id": "TEAM-12345"}, "team_id", "10-character"),
        ({"bundle_id": "app"}, "bundle_id", "com.example.app"),
        ({"environment": "staging"}, "environment", "'production' or 'sandbox'"),
    ],
)
def test_malformed_credentials_name_the_field(
    upload: dict[str, str], changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidField) as excinfo:
        apns.validate_credentials({**upload, **changes})

    assert excinfo.value.field == field
    assert message in excinfo.value.detail


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (ec.generate_private_key(ec.SECP384R1()), "must be an EC P-256 (prime256v1) key, not EC secp384r1"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "not RSA 2048-bit"),
    ],
)
def test_a_p8_that_is_not_p256_is_refused(upload: dict[str, str], key: Any, message: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        apns.validate_credentials({**upload, "private_key": pem(key)})

    assert excinfo.value.field == "private_key"
    assert message in excinfo.value.detail


def test_a_password_protected_p8_is_refused(upload: dict[str, str]) -> None:
    locked = pem(ec.generate_private_key(ec.SECP256R1()), password=b"secret")

    with pytest.raises(InvalidField, match="password-protected"):
        apns.validate_credentials({**upload, "private_key": locked})


def test_broken_stored_credentials_fail_the_send(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    result = send({**apns_credentials, "private_key": "garbage"})

    assert (result.outcome, result.status) == ("failed", 0)
    assert result.detail.startswith("InvalidCredentials")
    assert apns_server.requests == []


# --- devices -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("device", "field"),
    [
        (DeviceTarget("apns", "ab" * 31), "token"),  # 62 hex characters
        (DeviceTarget("apns", "a" * 65), "token"),  # odd length
        (DeviceTarget("apns", "zz" * 32), "token"),
        (DeviceTarget("apns", ""), "token"),
        (DeviceTarget("apns", "ab" * 101), "token"),
        (DeviceTarget("apns", APNS_TOKEN, bundle_id="not a bundle"), "bundle_id"),
        (DeviceTarget("fcm", APNS_TOKEN), "provider"),
    ],
)
def test_malformed_devices_are_refused(device: DeviceTarget, field: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        apns.validate_device(device)

    assert excinfo.value.field == field


def test_valid_devices_pass() -> None:
    apns.validate_device(DeviceTarget("apns", "AB" * 32, bundle_id="com.example.app"))
    apns.validate_device(DeviceTarget("apns", "ab" * 50))


def test_sending_to_a_malformed_token_is_a_dead_token_without_a_request(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    result = send(apns_credentials, device=DeviceTarget("apns", "not-hex"))

    assert (result.outcome, result.status) == ("dead_token", 0)
    assert apns_server.requests == []
