"""A local APNs: ``POST /3/device/{token}`` over HTTP/2, as Apple documents it.

Validates what api.push.apple.com validates: HTTP/2, the provider JWT (ES256, kid of a registered
key, iss = its team, iat within the hour, not re-signed more often than every 20 minutes), the
apns-* headers, the path token, the topic and the JSON payload (≤ 4 KB); answers with Apple's
status codes and ``{"reason": ...}`` bodies (410 adds ``timestamp``).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.push_servers.base import PushServer, Request, Response, Scripted, run_cli

TOKEN_RE = re.compile(r"^(?:[0-9a-fA-F]{2}){32,100}$")
PUSH_TYPES = {
    "alert",
    "background",
    "location",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
}
JWT_LIFETIME = 3600
JWT_MIN_UPDATE_INTERVAL = 20 * 60
MAX_PAYLOAD = 4096


@dataclass(frozen=True)
class Received:
    token: str
    headers: dict[str, str]
    payload: dict[str, Any]
    jwt: str
    jwt_header: dict[str, Any]
    jwt_claims: dict[str, Any]
    http_version: str
    client: tuple[str, int]


class ApnsServer(PushServer):
    name = "apns"

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, ec.EllipticCurvePublicKey]] = {}  # kid -> (team id, key)
        self.topics: set[str] = set()
        self.token_topics: dict[str, str] = {}
        super().__init__()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.delivered: list[Received] = []
            self.jwts_accepted: list[str] = []  # each distinct provider token, in order
            self._last_jwt: dict[str, tuple[str, float]] = {}  # kid -> (jwt, accepted at)
            # token -> (header, claims, the registered key it was verified with)
            self._verified: dict[str, tuple[dict[str, Any], dict[str, Any], tuple[str, Any]]] = {}

    # --- set-up -----------------------------------------------------------------------------------
    def new_team_key(
        self, *, key_id: str = "KEY1234567", team_id: str = "TEAM123456", bundle_id: str = "com.example.app"
    ) -> dict[str, str]:
        """Register a fresh .p8 key for a team and a topic; return the credentials for the client."""
        private = ec.generate_private_key(ec.SECP256R1())
        with self.lock:
            self.keys[key_id] = (team_id, private.public_key())
            self.topics.add(bundle_id)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "key_id": key_id,
            "team_id": team_id,
            "private_key": pem,
            "bundle_id": bundle_id,
            "environment": "sandbox",
        }

    def allow_topic(self, bundle_id: str) -> None:
        with self.lock:
            self.topics.add(bundle_id)

    def bind_token(self, token: str, topic: str) -> None:
        """The token belongs to the app ``topic`` (another topic gets DeviceTokenNotForTopic)."""
        with self.lock:
            self.token_topics[token] = topic

    def set_error(
        self,
        token: str,
        status: int,
        reason: str,
        *,
        retry_after: str | None = None,
        times: int | None = None,
    ) -> None:
        self.script(token, Scripted(status, reason, retry_after, times))

    # --- protocol ---------------------------------------------------------------------------------
    def _error(self, status: int, reason: str, apns_id: str, retry_after: str | None = None) -> Response:
        body: dict[str, Any] = {"reason": reason}
        if status == 410:
            body["timestamp"] = int(self.now() * 1000)
        headers = [("apns-id", apns_id)]
        if retry_after is not None:
            headers.append(("retry-after", retry_after))
        return Response.json(status, body, headers)

    def _check_jwt(self, authorization: str | None) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
        """(error reason or "", jwt, header, claims)."""
        if not authorization:
            return "MissingProviderToken", "", {}, {}
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "MissingProviderToken", "", {}, {}
        verified = self._verified.get(token)
        if verified is not None and self.keys.get(str(verified[0].get("kid", ""))) is verified[2]:
            # As APNs does, a provider token's signature is checked once, not on every request.
            header, claims, (team_id, _) = verified
        else:
            try:
                header = jwt.get_unverified_header(token)
            except jwt.PyJWTError:
                return "InvalidProviderToken", token, {}, {}
            registered = self.keys.get(str(header.get("kid", "")))
            if header.get("alg") != "ES256" or registered is None:
                return "InvalidProviderToken", token, header, {}
            team_id, public_key = registered
            try:
                claims = jwt.decode(
                    token,
                    public_key,
                    algorithms=["ES256"],
                    options={"require": ["iss", "iat"], "verify_iat": False, "verify_exp": False},
                )
            except jwt.PyJWTError:
                return "InvalidProviderToken", token, header, {}
            if len(self._verified) >= 1000:
                self._verified.clear()
            self._verified[token] = (header, claims, registered)
        if claims["iss"] != team_id or not isinstance(claims["iat"], int):
            return "InvalidProviderToken", token, header, claims
        now = self.now()
        if claims["iat"] > now + 60:
            return "InvalidProviderToken", token, header, claims
        if claims["iat"] < now - JWT_LIFETIME:
            return "ExpiredProviderToken", token, header, claims
        return "", token, header, claims

    def handle(self, request: Request) -> Response:
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4()).upper()
        if request.http_version != "2":
            # Apple's servers only speak HTTP/2; an HTTP/1.1 request is refused outright.
            return Response(505, b"HTTP/2 required")
        match = re.fullmatch(r"/3/device/([^/]*)", request.path)
        if match is None:
            return self._error(404, "BadPath", apns_id)
        if request.method != "POST":
            return self._error(405, "MethodNotAllowed", apns_id)
        token = match.group(1)
        reason, provider_token, jwt_header, claims = self._check_jwt(request.headers.get("authorization"))
        if reason:
            return self._error(403, reason, apns_id)
        kid = jwt_header["kid"]
        last = self._last_jwt.get(kid)
        if last is None or last[0] != provider_token:
            if last is not None and self.now() - last[1] < JWT_MIN_UPDATE_INTERVAL:
                return self._error(429, "TooManyProviderTokenUpdates", apns_id)
            self._last_jwt[kid] = (provider_token, self.now())
            self.jwts_accepted.append(provider_token)
        topic = request.headers.get("apns-topic")
        if not topic:
            return self._error(400, "MissingTopic", apns_id)
        if topic not in self.topics:
            return self._error(400, "TopicDisallowed", apns_id)
        if request.headers.get("apns-push-type", "alert") not in PUSH_TYPES:
            return self._error(400, "InvalidPushType", apns_id)
        if request.headers.get("apns-priority", "10") not in {"1", "5", "10"}:
            return self._error(400, "BadPriority", apns_id)
        if not request.headers.get("apns-expiration", "0").isdigit():
            return self._error(400, "BadExpirationDate", apns_id)
        if len(request.headers.get("apns-collapse-id", "").encode()) > 64:
            return self._error(400, "BadCollapseId", apns_id)
        if not token:
            return self._error(400, "MissingDeviceToken", apns_id)
        if not TOKEN_RE.fullmatch(token):
            return self._error(400, "BadDeviceToken", apns_id)
        if token in self.token_topics and self.token_topics[token] != topic:
            return self._error(400, "DeviceTokenNotForTopic", apns_id)
        if not request.body:
            return self._error(400, "PayloadEmpty", apns_id)
        if len(request.body) > MAX_PAYLOAD:
            return self._error(413, "PayloadTooLarge", apns_id)
        try:
            payload = json.loads(request.body)
        except ValueError:
            return self._error(400, "BadPayload", apns_id)
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return self._error(400, "BadPayload", apns_id)
        scripted = self.take_script(token)
        if scripted is not None:
            return self._error(scripted.status, scripted.error, apns_id, scripted.retry_after)
        self.delivered.append(
            Received(
                token=token,
                headers=dict(request.headers),
                payload=payload,
                jwt=provider_token,
                jwt_header=jwt_header,
                jwt_claims=claims,
                http_version=request.http_version,
                client=request.client,
            )
        )
        return Response(200, b"", [("apns-id", apns_id)], delay=self.delay_for(token))


def main() -> None:
    server = ApnsServer()

    def setup(_: object) -> None:
        server.cli_info["credentials"] = server.new_team_key()

    run_cli(server, setup=setup)


if __name__ == "__main__":
    main()
