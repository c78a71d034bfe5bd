"""A local Web Push service (RFC 8030) that is also the browser: it decrypts what it receives.

``subscribe()`` creates a subscription the way a browser does (a P-256 key pair and a 16-byte auth
secret, optionally bound to an application server key). ``POST /wpush/{id}`` checks VAPID
(RFC 8292: ``vapid t=<JWT>, k=<key>``, ES256 signature by k, aud = this origin, exp in the future
and at most 24 h away, sub a mailto:/https: contact), the TTL/Urgency/Topic headers and
``Content-Encoding: aes128gcm``, then decrypts the body (RFC 8291, implemented here independently
of the client with plain HMAC-SHA256) and records the plaintext. 201 Created on success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.push_servers.base import PushServer, Request, Response, Scripted, run_cli

URGENCIES = {"very-low", "low", "normal", "high"}
TOPIC_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
MAX_BODY = 4096
MAX_JWT_LIFETIME = 24 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with one expand block (length ≤ 32), written out with HMAC."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


class DecryptionError(ValueError):
    pass


def decrypt(body: bytes, *, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """The user agent's side of RFC 8291 (aes128gcm, RFC 8188 records)."""
    if len(body) < 21:
        raise DecryptionError("truncated header")
    salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    key_id, records = body[21 : 21 + id_length], body[21 + id_length :]
    if id_length != 65 or record_size < 18:
        raise DecryptionError("bad header")
    as_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_id)
    ua_public = ua_private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    shared = ua_private.exchange(ec.ECDH(), as_public)
    ikm = _hkdf(auth_secret, shared, b"WebPush: info\x00" + ua_public + key_id, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce_base = int.from_bytes(_hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12), "big")
    chunks = [records[i : i + record_size] for i in range(0, len(records), record_size)]
    if not chunks:
        raise DecryptionError("no records")
    plaintext = b""
    for sequence, chunk in enumerate(chunks):
        nonce = (nonce_base ^ sequence).to_bytes(12, "big")
        try:
            padded = AESGCM(cek).decrypt(nonce, chunk, None)
        except InvalidTag as exc:
            raise DecryptionError("authentication tag mismatch") from exc
        unpadded = padded.rstrip(b"\x00")
        last = sequence == len(chunks) - 1
        if not unpadded or unpadded[-1] != (2 if last else 1):
            raise DecryptionError("bad padding delimiter")
        plaintext += unpadded[:-1]
    return plaintext


@dataclass
class Subscription:
    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    p256dh: str
    auth: str
    application_server_key: str | None
    gone: bool = False

    def as_json(self) -> dict[str, Any]:
        """Like PushSubscription.toJSON() in a browser."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class Received:
    subscription_id: str
    plaintext: bytes
    headers: dict[str, str]
    vapid_claims: dict[str, Any]
    vapid_key: str
    body: bytes


class WebPushServer(PushServer):
    name = "webpush"

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        super().__init__()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.delivered: list[Received] = []

    @property
    def origin(self) -> str:
        return self.url

    def subscribe(self, application_server_key: str | None = None) -> Subscription:
        """A new subscription (as PushManager.subscribe would make), bound to a VAPID key if given."""
        private = ec.generate_private_key(ec.SECP256R1())
        point = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        sub_id = secrets.token_urlsafe(24)
        subscription = Subscription(
            id=sub_id,
            endpoint=f"{self.url}/wpush/{sub_id}",
            private_key=private,
            p256dh=b64url(point),
            auth=b64url(secrets.token_bytes(16)),
            application_server_key=application_server_key,
        )
        with self.lock:
            self.subscriptions[sub_id] = subscription
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """The browser dropped it: later pushes get 410 Gone."""
        with self.lock:
            subscription.gone = True

    def set_error(
        self,
        subscription: Subscription,
        status: int,
        *,
        retry_after: str | None = None,
        times: int | None = None,
    ) -> None:
        self.script(subscription.id, Scripted(status, retry_after=retry_after, times=times))

    # --- protocol ---------------------------------------------------------------------------------
    @staticmethod
    def _answer(status: int, text: str, retry_after: str | None = None) -> Response:
        headers = [("content-type", "text/plain")]
        if retry_after is not None:
            headers.append(("retry-after", retry_after))
        return Response(status, text.encode(), headers)

    def _check_vapid(
        self, authorization: str, subscription: Subscription
    ) -> tuple[int, str, dict[str, Any], str]:
        """(status or 0, why, claims, k)."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return 401, "Missing VAPID authorization", {}, ""
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        token, key = fields.get("t", ""), fields.get("k", "")
        try:
            point = unb64url(key)
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except (ValueError, TypeError):
            return 401, "Invalid VAPID key (k)", {}, key
        if len(point) != 65:
            return 401, "VAPID key is not an uncompressed P-256 point", {}, key
        if subscription.application_server_key is not None and key != subscription.application_server_key:
            return 403, "VAPID key does not match the subscription's applicationServerKey", {}, key
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["aud", "exp", "sub"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            return 403, f"Invalid VAPID JWT: {exc}", {}, key
        now = self.now()
        if not now < claims["exp"] <= now + MAX_JWT_LIFETIME + 60:
            return 403, "VAPID JWT exp must be in the future and at most 24 hours away", claims, key
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            return 403, "VAPID sub must be a mailto: or https: URI", claims, key
        return 0, "", claims, key

    def handle(self, request: Request) -> Response:
        match = re.fullmatch(r"/wpush/([^/]+)", request.path)
        if match is None or request.method != "POST":
            return self._answer(404, "Not Found")
        subscription = self.subscriptions.get(match.group(1))
        if subscription is None:
            return self._answer(404, "No such subscription")
        if subscription.gone:
            return self._answer(410, "Push subscription has expired")
        status, why, claims, key = self._check_vapid(request.headers.get("authorization", ""), subscription)
        if status:
            return self._answer(status, why)
        if not request.headers.get("ttl", "").isdigit():
            return self._answer(400, "Missing or invalid TTL header")
        if request.headers.get("urgency", "normal") not in URGENCIES:
            return self._answer(400, "Invalid Urgency header")
        if "topic" in request.headers and not TOPIC_RE.fullmatch(request.headers["topic"]):
            return self._answer(400, "Invalid Topic header")
        if len(request.body) > MAX_BODY:
            return self._answer(413, "Payload Too Large")
        if request.body and request.headers.get("content-encoding") != "aes128gcm":
            return self._answer(400, "Unsupported Content-Encoding")
        try:
            plaintext = decrypt(
                request.body, ua_private=subscription.private_key, auth_secret=unb64url(subscription.auth)
            )
        except (DecryptionError, ValueError) as exc:
            return self._answer(400, f"Could not decrypt: {exc}")
        scripted = self.take_script(subscription.id)
        if scripted is not None:
            return self._answer(
                scripted.status, scripted.message or f"scripted {scripted.status}", scripted.retry_after
            )
        self.delivered.append(
            Received(subscription.id, plaintext, dict(request.headers), claims, key, request.body)
        )
        response = self._answer(201, "")
        response.headers.append(("location", f"{self.url}/m/{secrets.token_urlsafe(12)}"))
        response.delay = self.delay_for(subscription.id)
        return response


def main() -> None:
    server = WebPushServer()

    def arguments(parser: Any) -> None:
        parser.add_argument(
            "--subscriptions", type=int, default=100, help="subscriptions to create and print"
        )
        parser.add_argument("--vapid-public-key", default=None, help="bind them to this applicationServerKey")

    def setup(args: Any) -> None:
        server.cli_info["subscriptions"] = [
            server.subscribe(args.vapid_public_key).as_json() for _ in range(args.subscriptions)
        ]

    run_cli(server, setup=setup, arguments=arguments)


if __name__ == "__main__":
    main()
