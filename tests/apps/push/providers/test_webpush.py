from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apps.core.errors import InvalidField
from apps.push.providers import PROVIDERS, DeviceTarget, Notification, ProviderResult, transport
from apps.push.providers.keys import b64url_decode, b64url_encode
from apps.push.providers.webpush import audience, encrypt, generate_vapid_keypair, topic
from tests.push_servers.webpush import Subscription, WebPushServer, decrypt

webpush = PROVIDERS["webpush"]

# RFC 8291, Appendix A.
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3"
    "jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)


def p256(raw: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(b64url_decode(raw), "big"), ec.SECP256R1())


def device(subscription: Subscription) -> DeviceTarget:
    return DeviceTarget("webpush", subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth)


@pytest.fixture
def subscription(webpush_server: WebPushServer, vapid_credentials: dict[str, Any]) -> Subscription:
    return webpush_server.subscribe(vapid_credentials["vapid_public_key"])


def send(
    credentials: dict[str, Any], target: DeviceTarget, notification: Notification | None = None
) -> ProviderResult:
    return webpush.send(
        notification=notification or Notification(title="Hi", body="Hello"),
        device=target,
        credentials=credentials,
    )


# --- RFC 8291 ------------------------------------------------------------------------------------------
def test_encryption_matches_the_rfc_8291_test_vector() -> None:
    body = encrypt(
        RFC_PLAINTEXT,
        ua_public=b64url_decode(RFC_UA_PUBLIC),
        auth_secret=b64url_decode(RFC_AUTH),
        salt=b64url_decode(RFC_SALT),
        as_private=p256(RFC_AS_PRIVATE),
    )

    assert b64url_encode(body) == RFC_BODY


def test_the_test_server_decrypts_the_rfc_8291_test_vector() -> None:
    plaintext = decrypt(
        b64url_decode(RFC_BODY), ua_private=p256(RFC_UA_PRIVATE), auth_secret=b64url_decode(RFC_AUTH)
    )

    assert plaintext == RFC_PLAINTEXT


def test_each_message_has_a_fresh_salt_and_key(subscription: Subscription) -> None:
    first, second = (
        encrypt(
            b"x", ua_public=b64url_decode(subscription.p256dh), auth_secret=b64url_decode(subscription.auth)
        )
        for _ in range(2)
    )

    assert first[:16] != second[:16]
    assert first[21:86] != second[21:86]
    assert first[16:21] == b"\x00\x00\x10\x00\x41"  # rs = 4096, idlen = 65


# --- delivery ------------------------------------------------------------------------------------------
def test_delivered_send_is_decrypted_by_the_subscriber(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    notification = Notification(
        title="alice",
        body="lunch? 🍜",
        badge=4,
        collapse_id="conv42",
        thread_id="p2p:alice",
        data={"conv": "p2p:alice"},
        ttl=600,
        priority="high",
    )

    result = send(vapid_credentials, device(subscription), notification)

    assert (result.outcome, result.status) == ("delivered", 201)
    [received] = webpush_server.delivered
    assert json.loads(received.plaintext) == {
        "title": "alice",
        "body": "lunch? 🍜",
        "badge": 4,
        "sound": "default",
        "tag": "p2p:alice",
        "collapse_id": "conv42",
        "data": {"conv": "p2p:alice"},
    }
    assert received.headers["ttl"] == "600"
    assert received.headers["urgency"] == "high"
    assert received.headers["topic"] == "conv42"
    assert received.headers["content-encoding"] == "aes128gcm"
    assert received.vapid_key == vapid_credentials["vapid_public_key"]
    assert received.vapid_claims["aud"] == webpush_server.origin
    assert received.vapid_claims["sub"] == "mailto:push@example.com"
    assert time.time() < received.vapid_claims["exp"] <= time.time() + 24 * 3600


def test_normal_urgency_and_no_topic(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    send(
        vapid_credentials,
        device(subscription),
        Notification(title="t", body="b", priority="normal", sound=""),
    )

    [received] = webpush_server.delivered
    assert received.headers["urgency"] == "normal"
    assert "topic" not in received.headers
    assert json.loads(received.plaintext) == {"title": "t", "body": "b"}


def test_vapid_jwt_is_reused_per_origin_and_renewed_before_it_expires(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    send(vapid_credentials, device(subscription))
    send(vapid_credentials, device(subscription))
    transport.CLOCK.offset = webpush_server.clock_offset = 11.5 * 3600
    send(vapid_credentials, device(subscription))

    first, second, third = (r.headers["authorization"] for r in webpush_server.delivered)
    assert first == second
    assert third != first


@pytest.mark.parametrize(
    ("collapse_id", "expected"),
    [
        ("conv-42_x", "conv-42_x"),
        ("a" * 32, "a" * 32),
    ],
)
def test_topics_that_fit_are_kept(collapse_id: str, expected: str) -> None:
    assert topic(collapse_id) == expected


@pytest.mark.parametrize("collapse_id", ["chat:42/alice", "a" * 33, "ünïcode"])
def test_other_collapse_ids_are_hashed_into_a_valid_topic(
    webpush_server: WebPushServer,
    vapid_credentials: dict[str, Any],
    subscription: Subscription,
    collapse_id: str,
) -> None:
    result = send(
        vapid_credentials, device(subscription), Notification(title="t", body="b", collapse_id=collapse_id)
    )

    assert result.outcome == "delivered"
    sent_topic = webpush_server.delivered[0].headers["topic"]
    assert len(sent_topic) == 32
    assert sent_topic == topic(collapse_id)


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://push.example.net:8443/p/1", "https://push.example.net:8443"),
        ("https://push.example.net:443/p/1", "https://push.example.net"),
        ("http://127.0.0.1:9000/wpush/x", "http://127.0.0.1:9000"),
    ],
)
def test_the_vapid_audience_is_the_endpoint_origin(endpoint: str, origin: str) -> None:
    assert audience(endpoint) == origin


# --- answers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (404, "dead_token"),
        (410, "dead_token"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (400, "failed"),
        (403, "failed"),
        (413, "failed"),
    ],
)
def test_answers_map_to_outcomes(
    webpush_server: WebPushServer,
    vapid_credentials: dict[str, Any],
    subscription: Subscription,
    status: int,
    outcome: str,
) -> None:
    webpush_server.set_error(subscription, status, retry_after="45")

    result = send(vapid_credentials, device(subscription))

    assert (result.outcome, result.status, result.retry_after) == (outcome, status, 45.0)
    assert result.response == f"scripted {status}"


def test_an_unsubscribed_browser_is_a_dead_token(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    webpush_server.unsubscribe(subscription)

    result = send(vapid_credentials, device(subscription))

    assert (result.outcome, result.status, result.detail) == ("dead_token", 410, "Gone")


def test_an_unknown_subscription_is_a_dead_token(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    gone = DeviceTarget(
        "webpush", f"{webpush_server.url}/wpush/never-existed", subscription.p256dh, subscription.auth
    )

    result = send(vapid_credentials, gone)

    assert (result.outcome, result.status) == ("dead_token", 404)


def test_a_vapid_key_other_than_the_subscriptions_is_refused(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    other_pem, _ = generate_vapid_keypair()
    other = webpush.validate_credentials(
        {"vapid_private_key": other_pem, "subject": "https://example.com/contact"}
    )

    result = send(other, device(subscription))

    assert (result.outcome, result.status) == ("failed", 403)
    assert "applicationServerKey" in result.response


def test_keys_of_another_subscription_cannot_be_decrypted(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    other = webpush_server.subscribe()
    mixed = DeviceTarget("webpush", subscription.endpoint, p256dh=other.p256dh, auth=other.auth)

    result = send(vapid_credentials, mixed)

    assert (result.outcome, result.status) == ("failed", 400)
    assert result.response.startswith("Could not decrypt")


def test_a_payload_over_one_record_fails_without_a_request(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    result = send(vapid_credentials, device(subscription), Notification(title="t", body="x" * 3994))

    assert (result.outcome, result.status) == ("failed", 0)
    assert result.detail.startswith("PayloadTooLarge")
    assert webpush_server.requests == []


def test_the_largest_payload_that_fits_is_delivered(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    envelope = len(b'{"title":"t","body":""}')
    notification = Notification(title="t", body="x" * (3993 - envelope), sound="")

    result = send(vapid_credentials, device(subscription), notification)

    assert result.outcome == "delivered"
    assert len(webpush_server.delivered[0].plaintext) == 3993
    assert len(webpush_server.delivered[0].body) == 4096


# --- VAPID keys and credentials ----------------------------------------------------------------------
def test_generated_vapid_keypair_is_p256_and_consistent() -> None:
    private_pem, public_key = generate_vapid_keypair()

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    point = b64url_decode(public_key)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert len(point) == 65
    assert point[0] == 4
    assert (
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        == point
    )
    stored = webpush.validate_credentials(
        {"vapid_private_key": private_pem, "subject": "mailto:a@example.com"}
    )
    assert stored["vapid_public_key"] == public_key


def test_a_raw_base64url_private_key_under_the_short_name_is_stored_as_pem() -> None:
    stored = webpush.validate_credentials({"private_key": RFC_AS_PRIVATE, "subject": "mailto:a@example.com"})

    assert set(stored) == {"vapid_private_key", "vapid_public_key", "subject"}
    assert stored["vapid_private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert stored["vapid_public_key"] == (
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
    )


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"vapid_private_key": _pem(ec.generate_private_key(ec.SECP384R1()))},
            "vapid_private_key",
            "not EC secp384r1",
        ),
        (
            {"vapid_private_key": _pem(rsa.generate_private_key(65537, 2048))},
            "vapid_private_key",
            "not RSA 2048-bit",
        ),
        ({"vapid_private_key": "AAAA"}, "vapid_private_key", "32 bytes, not 3"),
        ({"vapid_private_key": "not base64!"}, "vapid_private_key", "PEM EC P-256 key or its base64url"),
        ({"vapid_private_key": ""}, "vapid_private_key", "is required"),
        ({"subject": ""}, "subject", "is required"),
        ({"subject": "push@example.com"}, "subject", "mailto: address or an https:// URL"),
        ({"subject": "http://example.com"}, "subject", "mailto: address or an https:// URL"),
        ({"vapid_public_key": RFC_UA_PUBLIC}, "vapid_public_key", "does not belong to the private key"),
    ],
)
def test_malformed_vapid_credentials_name_the_field(
    changes: dict[str, str], field: str, message: str
) -> None:
    upload = {"vapid_private_key": RFC_AS_PRIVATE, "subject": "mailto:a@example.com", **changes}

    with pytest.raises(InvalidField) as excinfo:
        webpush.validate_credentials(upload)

    assert excinfo.value.field == field
    assert message in excinfo.value.detail


# --- subscriptions -----------------------------------------------------------------------------------
GOOD_P256DH = RFC_UA_PUBLIC
GOOD_AUTH = RFC_AUTH


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        (DeviceTarget("webpush", "ftp://push.example.com/x", GOOD_P256DH, GOOD_AUTH), "token", "https://"),
        (DeviceTarget("webpush", "push.example.com/x", GOOD_P256DH, GOOD_AUTH), "token", "https://"),
        (DeviceTarget("webpush", "https://push.example.com/a b", GOOD_P256DH, GOOD_AUTH), "token", "spaces"),
        (DeviceTarget("webpush", "", GOOD_P256DH, GOOD_AUTH), "token", "required"),
        (
            DeviceTarget("webpush", "https://u:p@push.example.com/x", GOOD_P256DH, GOOD_AUTH),
            "token",
            "password",
        ),
        (
            DeviceTarget("webpush", "https://push.example.com/x", GOOD_P256DH[:-2], GOOD_AUTH),
            "p256dh",
            "65 bytes",
        ),
        (DeviceTarget("webpush", "https://push.example.com/x", "B" + "A" * 86, GOOD_AUTH), "p256dh", "P-256"),
        (DeviceTarget("webpush", "https://push.example.com/x", "", GOOD_AUTH), "p256dh", "P-256"),
        (
            DeviceTarget("webpush", "https://push.example.com/x", GOOD_P256DH, "AAAA"),
            "auth",
            "16 bytes (got 3)",
        ),
        (DeviceTarget("webpush", "https://push.example.com/x", GOOD_P256DH, "%%%"), "auth", "base64url"),
    ],
)
def test_malformed_subscriptions_are_refused(target: DeviceTarget, field: str, message: str) -> None:
    with pytest.raises(InvalidField) as excinfo:
        webpush.validate_device(target)

    assert excinfo.value.field == field
    assert message in excinfo.value.detail


def test_a_browser_subscription_passes() -> None:
    webpush.validate_device(
        DeviceTarget(
            "webpush", "https://updates.push.services.mozilla.com/wpush/v2/gAAAA", GOOD_P256DH, GOOD_AUTH
        )
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8000/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
        "https://192.168.0.1/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
    ],
)
def test_private_endpoints_are_refused_unless_allowed(settings: Any, endpoint: str) -> None:
    target = DeviceTarget("webpush", endpoint, GOOD_P256DH, GOOD_AUTH)
    webpush.validate_device(target)  # the tests allow them
    settings.IMCLOUD = {**settings.IMCLOUD, "PUSH_ALLOW_PRIVATE_ENDPOINTS": False}

    with pytest.raises(InvalidField, match="must not name a local or private address"):
        webpush.validate_device(target)


def test_a_malformed_subscription_is_a_dead_token_without_a_request(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    broken = DeviceTarget("webpush", subscription.endpoint, p256dh="AAAA", auth=subscription.auth)

    result = send(vapid_credentials, broken)

    assert (result.outcome, result.status) == ("dead_token", 0)
    assert webpush_server.requests == []


def test_vapid_jwt_lifetime_is_under_24_hours(
    webpush_server: WebPushServer, vapid_credentials: dict[str, Any], subscription: Subscription
) -> None:
    send(vapid_credentials, device(subscription))

    token = webpush_server.delivered[0].headers["authorization"].split("t=")[1].split(",")[0]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "ES256", "typ": "JWT"}
    assert claims["exp"] - time.time() == pytest.approx(12 * 3600, abs=5)
