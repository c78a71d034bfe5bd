"""Web Push: RFC 8030 delivery, RFC 8291 message encryption (aes128gcm), RFC 8292 VAPID.

The device's token is the subscription endpoint, with the browser's ``p256dh`` (its ECDH P-256
public key) and ``auth`` (16-byte secret). The payload is encrypted to them in one aes128gcm
record; the request is signed with the app's VAPID key: ``Authorization: vapid t=<ES256 JWT
(aud = origin of the endpoint, exp, sub)>, k=<public key>``.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from apps.core.errors import InvalidField
from apps.push.providers import config, keys, transport
from apps.push.providers.base import (
    DEAD_TOKEN,
    DELIVERED,
    FAILED,
    RETRY,
    DeviceTarget,
    Notification,
    ProviderResult,
)
from apps.push.providers.tokens import CachedToken, TokenCache, cached_or_fetch
from apps.push.providers.validation import check_provider, required_str

AUTH_SECRET_BYTES = 16
TOPIC_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
SUBJECT_RE = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)$")

_VAPID_JWTS = TokenCache()


# --- RFC 8291 -------------------------------------------------------------------------------------
def encrypt(
    plaintext: bytes,
    *,
    ua_public: bytes,
    auth_secret: bytes,
    salt: bytes | None = None,
    as_private: ec.EllipticCurvePrivateKey | None = None,
    record_size: int = config.WEBPUSH_RECORD_SIZE,
) -> bytes:
    """The aes128gcm body (RFC 8188 header + one record) of ``plaintext`` for one subscription.

    ``salt`` and ``as_private`` (the sender's ephemeral key) are random unless given (RFC 8291
    Appendix A's test vector gives them).
    """
    if len(plaintext) > record_size - 17:
        raise ValueError(f"plaintext of {len(plaintext)} bytes does not fit one {record_size}-byte record")
    salt = os.urandom(16) if salt is None else salt
    as_private = ec.generate_private_key(ec.SECP256R1()) if as_private is None else as_private
    as_public = keys.p256_public_point(as_private)
    shared = as_private.exchange(ec.ECDH(), keys.p256_public_from_point(ua_public))
    # RFC 8291 §3.4: IKM = HKDF(salt = auth_secret, ikm = ECDH secret, info = key_info, 32)
    key_info = b"WebPush: info\x00" + ua_public + as_public
    ikm = HKDF(algorithm=hashes.SHA256(), length=32, salt=auth_secret, info=key_info).derive(shared)
    # RFC 8188 §2.2/2.3: PRK = HKDF-Extract(salt, IKM); CEK and NONCE from PRK.
    cek = HKDF(
        algorithm=hashes.SHA256(), length=16, salt=salt, info=b"Content-Encoding: aes128gcm\x00"
    ).derive(ikm)
    nonce = HKDF(algorithm=hashes.SHA256(), length=12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(
        ikm
    )
    # One record, so the sequence number is 0 and the nonce is used as derived.
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    header = salt + struct.pack("!IB", record_size, len(as_public)) + as_public
    return header + record


# --- RFC 8292 -------------------------------------------------------------------------------------
def generate_vapid_keypair() -> tuple[str, str]:
    """A new VAPID key: (private key PEM, public key as base64url uncompressed point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return keys.p256_private_pem(key), keys.b64url_encode(keys.p256_public_point(key))


def audience(endpoint: str) -> str:
    """The origin of the endpoint (RFC 8292 §2: the JWT's aud)."""
    parts = urlsplit(endpoint)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def _vapid_jwt(credentials: _Credentials, aud: str) -> CachedToken:
    now = transport.CLOCK.now()
    exp = int(now) + config.WEBPUSH_JWT_LIFETIME
    token = jwt.encode(
        {"aud": aud, "exp": exp, "sub": credentials.subject},
        keys.cached_p256_key(credentials.private_key),
        algorithm="ES256",
        headers={"typ": "JWT"},
    )
    return CachedToken(token, now, exp - config.WEBPUSH_JWT_REUSE_MARGIN)


def topic(collapse_id: str) -> str:
    """A Topic header value: ≤ 32 base64url characters; other ids are hashed to fit."""
    if TOPIC_RE.fullmatch(collapse_id):
        return collapse_id
    return keys.b64url_encode(hashlib.sha256(collapse_id.encode()).digest())[: config.WEBPUSH_TOPIC_MAX]


def build_payload(notification: Notification) -> dict[str, Any]:
    """What the app's service worker receives (event.data.json())."""
    payload: dict[str, Any] = {"title": notification.title, "body": notification.body}
    if notification.badge is not None:
        payload["badge"] = notification.badge
    if notification.sound:
        payload["sound"] = notification.sound
    if notification.thread_id:
        payload["tag"] = notification.thread_id
    if notification.collapse_id:
        payload["collapse_id"] = notification.collapse_id
    if notification.data:
        payload["data"] = dict(notification.data)
    return payload


def map_response(response: httpx.Response) -> tuple[str, str]:
    status = response.status_code
    reason = httpx.codes.get_reason_phrase(status) or f"HTTP {status}"
    if 200 <= status < 300:
        return DELIVERED, ""
    if status in (404, 410):
        return DEAD_TOKEN, reason
    if status == 429 or status >= 500:
        return RETRY, reason
    return FAILED, reason


@dataclass(frozen=True)
class _Credentials:
    private_key: str
    public_key: str
    subject: str


class WebPushProvider:
    name = "webpush"

    def validate_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``vapid_private_key`` (PEM, or base64url of the 32-byte scalar), ``subject``, and optionally
        ``vapid_public_key`` to check against it. ``private_key`` / ``public_key`` are accepted too.
        """
        data = _aliased(data)
        raw = required_str(data, "vapid_private_key", label="The VAPID private key", max_length=10_000)
        if raw.startswith("-----"):
            key = keys.load_p256_private_key(raw, field="vapid_private_key", what="The VAPID private key")
        else:
            key = _raw_p256_private_key(raw)
        public_key = keys.b64url_encode(keys.p256_public_point(key))
        given_public = data.get("vapid_public_key")
        if given_public and given_public != public_key:
            raise InvalidField(
                "The VAPID public key does not belong to the private key.", field="vapid_public_key"
            )
        subject = required_str(data, "subject", label="The VAPID subject", max_length=512)
        if not SUBJECT_RE.fullmatch(subject):
            raise InvalidField(
                "The VAPID subject must be a mailto: address or an https:// URL (RFC 8292).", field="subject"
            )
        return {
            "vapid_private_key": keys.p256_private_pem(key),
            "vapid_public_key": public_key,
            "subject": subject,
        }

    def validate_device(self, device: DeviceTarget) -> None:
        check_provider(device.provider, self.name)
        endpoint = device.token
        if not isinstance(endpoint, str) or not endpoint:
            raise InvalidField("The subscription endpoint is required.", field="token")
        if len(endpoint) > config.WEBPUSH_ENDPOINT_MAX_LENGTH:
            raise InvalidField("The subscription endpoint is too long.", field="token")
        if any(c.isspace() for c in endpoint):
            raise InvalidField("The subscription endpoint must not contain spaces.", field="token")
        problem = config.external_url_problem(endpoint)
        if problem is not None:
            raise InvalidField(f"The subscription endpoint {problem}.", field="token")
        try:
            point = keys.b64url_decode(device.p256dh)
            keys.p256_public_from_point(point)
        except ValueError as exc:
            raise InvalidField(
                "p256dh must be the base64url uncompressed P-256 public key (65 bytes) of the subscription.",
                field="p256dh",
            ) from exc
        try:
            secret = keys.b64url_decode(device.auth)
        except ValueError as exc:
            raise InvalidField(
                "auth must be the base64url 16-byte secret of the subscription.", field="auth"
            ) from exc
        if len(secret) != AUTH_SECRET_BYTES:
            raise InvalidField(
                f"auth must be {AUTH_SECRET_BYTES} bytes (got {len(secret)}).",
                field="auth",
            )

    def send(
        self, *, notification: Notification, device: DeviceTarget, credentials: Mapping[str, Any]
    ) -> ProviderResult:
        try:
            self.validate_device(device)
        except InvalidField as exc:
            return ProviderResult(DEAD_TOKEN, 0, f"InvalidSubscription: {exc.detail}")
        try:
            creds = _stored_credentials(credentials)
        except InvalidField as exc:
            return ProviderResult(FAILED, 0, f"InvalidCredentials: {exc.detail}")
        plaintext = transport.compact_json(build_payload(notification))
        if len(plaintext) > config.WEBPUSH_MAX_PLAINTEXT:
            return ProviderResult(FAILED, 0, f"PayloadTooLarge: {len(plaintext)} bytes")
        body = encrypt(
            plaintext,
            ua_public=keys.b64url_decode(device.p256dh),
            auth_secret=keys.b64url_decode(device.auth),
        )
        deadline = transport.Deadline()
        aud = audience(device.token)
        vapid = cached_or_fetch(
            _VAPID_JWTS,
            (creds.public_key, aud, creds.subject),
            lambda: _vapid_jwt(creds, aud),
            deadline=deadline,
        )
        if isinstance(vapid, ProviderResult):
            return vapid
        headers = {
            "authorization": f"vapid t={vapid}, k={creds.public_key}",
            "ttl": str(max(0, notification.ttl)),
            "urgency": "high" if notification.priority == "high" else "normal",
            "content-encoding": "aes128gcm",
            "content-type": "application/octet-stream",
        }
        if notification.collapse_id:
            headers["topic"] = topic(notification.collapse_id)
        response = transport.post(
            transport.client_for(device.token), device.token, deadline=deadline, headers=headers, content=body
        )
        if isinstance(response, ProviderResult):
            return response
        outcome, reason = map_response(response)
        return transport.result(outcome, response, reason)


def _raw_p256_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A VAPID private key given as base64url of the 32-byte scalar (as web-push libraries print it)."""
    try:
        raw = keys.b64url_decode(text)
    except ValueError as exc:
        raise InvalidField(
            "The VAPID private key must be a PEM EC P-256 key or its base64url 32-byte value.",
            field="vapid_private_key",
        ) from exc
    if len(raw) != 32:
        raise InvalidField(
            f"The VAPID private key must be a P-256 key: 32 bytes, not {len(raw)}.", field="vapid_private_key"
        )
    try:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise InvalidField(
            "The VAPID private key is not a valid P-256 scalar.", field="vapid_private_key"
        ) from exc


def _aliased(data: Mapping[str, Any]) -> dict[str, Any]:
    """The credentials, with ``private_key`` / ``public_key`` taken as the ``vapid_`` names."""
    named = dict(data)
    for short, full in (("private_key", "vapid_private_key"), ("public_key", "vapid_public_key")):
        if not named.get(full) and named.get(short):
            named[full] = named[short]
    return named


def _stored_credentials(data: Mapping[str, Any]) -> _Credentials:
    named = _aliased(data)
    private_key = required_str(named, "vapid_private_key", max_length=10_000)
    key = keys.cached_p256_key(private_key)
    return _Credentials(
        private_key=private_key,
        public_key=keys.b64url_encode(keys.p256_public_point(key)),
        subject=required_str(named, "subject"),
    )
