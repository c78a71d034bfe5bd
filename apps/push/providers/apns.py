"""Apple Push Notification service: token-based (.p8) auth over HTTP/2.

``POST {base}/3/device/{token}`` with ``authorization: bearer <ES256 JWT>`` (header kid = key id;
claims iss = team id, iat). The JWT is cached per key and re-signed after APNS_JWT_REFRESH_AFTER,
never sooner than APNS_JWT_MIN_INTERVAL after the last signing. Apple counts that per key, not per
process, so the JWT is shared by every worker process through Django's cache (Redis), with a
per-process copy in front of it. Each sending thread keeps its own HTTP/2 connection per base URL
(transport.client_for).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from django.core.cache import cache

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
from apps.push.providers.transport import CLOCK, Deadline
from apps.push.providers.validation import (
    BUNDLE_ID_RE,
    check_bundle_id,
    check_provider,
    check_token,
    matching,
    required_str,
)

KEY_ID_RE = re.compile(r"^[A-Z0-9]{10}$")
TEAM_ID_RE = re.compile(r"^[A-Z0-9]{10}$")
TOKEN_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
ENVIRONMENTS = {"production": "production", "sandbox": "sandbox", "development": "sandbox"}

# APNs reasons (documented with each status) that mean "this device token is gone".
DEAD_TOKEN_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"})
# Reasons (403, 429) that refuse the provider JWT rather than the notification.
PROVIDER_TOKEN_REFUSALS = frozenset({"ExpiredProviderToken", "TooManyProviderTokenUpdates"})

logger = logging.getLogger(__name__)

SHARED_KEY_PREFIX = "push:apns-jwt"


class SharedJwts(TokenCache):
    """The per-process copies of the shared JWTs; remembers which shared keys it read, for clear_all."""

    def _reset(self) -> None:
        super()._reset()
        self._shared_keys: set[str] = set()

    def remember_shared(self, key: str) -> None:
        with self._lock:
            self._shared_keys.add(key)

    def clear_shared(self) -> None:
        with self._lock:
            keys = list(self._shared_keys)
            self._shared_keys.clear()
        if keys:
            try:
                cache.delete_many(keys)
            except Exception:  # a cache outage must not break a test teardown or a rotation
                logger.warning("could not forget the shared APNs JWTs", exc_info=True)


_JWTS = SharedJwts()


@dataclass(frozen=True)
class _Credentials:
    key_id: str
    team_id: str
    private_key: str
    bundle_id: str
    environment: str

    @property
    def cache_key(self) -> tuple[str, str, str]:
        return (self.team_id, self.key_id, keys.fingerprint(self.private_key))


def base_url(environment: str) -> str:
    if environment == "sandbox":
        return config.setting_url("PUSH_APNS_SANDBOX_URL", config.APNS_DEFAULT_SANDBOX_URL)
    return config.setting_url("PUSH_APNS_PRODUCTION_URL", config.APNS_DEFAULT_PRODUCTION_URL)


def build_payload(notification: Notification) -> dict[str, Any]:
    aps: dict[str, Any] = {"alert": {"title": notification.title, "body": notification.body}}
    if notification.badge is not None:
        aps["badge"] = notification.badge
    if notification.sound:
        aps["sound"] = notification.sound
    if notification.thread_id:
        aps["thread-id"] = notification.thread_id
    payload: dict[str, Any] = {key: value for key, value in notification.data.items() if key != "aps"}
    payload["aps"] = aps
    return payload


def collapse_id(value: str) -> str:
    """apns-collapse-id is at most 64 bytes: longer ids are replaced by their SHA-256 (hex)."""
    if len(value.encode()) <= config.APNS_MAX_COLLAPSE_ID_BYTES:
        return value
    return hashlib.sha256(value.encode()).hexdigest()


def build_headers(notification: Notification, *, topic: str, bearer: str) -> dict[str, str]:
    headers = {
        "authorization": f"bearer {bearer}",
        "apns-topic": topic,
        "apns-push-type": "alert",
        "apns-priority": "10" if notification.priority == "high" else "5",
        # 0: deliver once or drop; otherwise the UNIX time after which APNs stops trying.
        "apns-expiration": str(int(transport.CLOCK.now()) + notification.ttl)
        if notification.ttl > 0
        else "0",
        "content-type": "application/json",
    }
    if notification.collapse_id:
        headers["apns-collapse-id"] = collapse_id(notification.collapse_id)
    return headers


def _sign(credentials: _Credentials) -> CachedToken:
    now = transport.CLOCK.now()
    token = jwt.encode(
        {"iss": credentials.team_id, "iat": int(now)},
        keys.cached_p256_key(credentials.private_key),
        algorithm="ES256",
        headers={"kid": credentials.key_id},
    )
    return CachedToken(token, now, now + config.APNS_JWT_REFRESH_AFTER)


# --- The JWT shared by every process -------------------------------------------------------------
class _SharedUnavailable(Exception):
    """Django's cache did not answer: this process signs for itself rather than not sending."""


def _shared_key(credentials: _Credentials) -> str:
    team_id, key_id, fingerprint = credentials.cache_key
    return f"{SHARED_KEY_PREFIX}:{team_id}:{key_id}:{fingerprint}"


def _cache_call(name: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return getattr(cache, name)(*args, **kwargs)
    except Exception as exc:
        raise _SharedUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _read_shared(key: str) -> CachedToken | None:
    value = _cache_call("get", key)
    if not isinstance(value, dict) or not isinstance(value.get("jwt"), str):
        return None
    issued_at = float(value.get("iat", 0))
    return CachedToken(value["jwt"], issued_at, issued_at + config.APNS_JWT_REFRESH_AFTER)


def _fresh(token: CachedToken | None, *, rejected: str | None) -> CachedToken | None:
    """``token`` if it may be used until its refresh time.

    A JWT that APNs called expired is replaced, unless it is younger than APNS_JWT_MIN_INTERVAL:
    that early, "expired" means the clocks disagree; signing again would not help and would trip
    TooManyProviderTokenUpdates.
    """
    if token is None:
        return None
    now = CLOCK.now()
    if token.value == rejected and now - token.issued_at >= config.APNS_JWT_MIN_INTERVAL:
        return None
    return token if now < token.refresh_at else None


def _shared_token(
    credentials: _Credentials, *, deadline: Deadline, rejected: str | None = None
) -> CachedToken | ProviderResult:
    """The JWT every process uses for this key; signed by one process at a time when it is due."""
    key = _shared_key(credentials)
    _JWTS.remember_shared(key)
    lock_key = f"{key}:lock"
    while True:
        current = _read_shared(key)
        if (fresh := _fresh(current, rejected=rejected)) is not None:
            return fresh
        owner = uuid.uuid4().hex
        if _cache_call("add", lock_key, owner, timeout=config.APNS_JWT_SIGN_LOCK_SECONDS):
            try:
                current = _read_shared(key)
                if (fresh := _fresh(current, rejected=rejected)) is not None:
                    return fresh
                token = _sign(credentials)
                # Redis may drop it after an hour: APNs refuses it by then anyway.
                _cache_call("set", key, {"jwt": token.value, "iat": token.issued_at}, timeout=3600)
                return token
            finally:
                if _cache_call("get", lock_key) == owner:
                    _cache_call("delete", lock_key)
        # Another process is signing. The JWT it replaces is still accepted for a while: use it
        # for a second and look again, rather than make every send wait.
        now = CLOCK.now()
        if (
            current is not None
            and current.value != rejected
            and now - current.issued_at < config.APNS_JWT_USABLE_FOR
        ):
            return CachedToken(current.value, current.issued_at, now + 1.0)
        if deadline.remaining() <= 0:
            return ProviderResult(RETRY, 0, "Timeout: waiting for another process to sign the provider token")
        time.sleep(min(config.APNS_JWT_WAIT_STEP, max(deadline.remaining(), 0.0)))


def _provider_token(credentials: _Credentials, deadline: Deadline) -> CachedToken | ProviderResult:
    """This process's copy of the shared JWT, looked up again after APNS_JWT_RECHECK_SECONDS at most
    (another process may have replaced it after APNs refused it)."""
    try:
        token = _shared_token(credentials, deadline=deadline)
    except _SharedUnavailable:
        logger.warning("shared APNs JWT unavailable: this process signs its own", exc_info=True)
        return _sign(credentials)
    if isinstance(token, ProviderResult):
        return token
    return CachedToken(
        token.value, token.issued_at, min(token.refresh_at, CLOCK.now() + config.APNS_JWT_RECHECK_SECONDS)
    )


def _provider_token_refused(credentials: _Credentials, value: str, reason: str) -> None:
    """APNs refused the JWT ``value`` (ExpiredProviderToken, TooManyProviderTokenUpdates).

    This process drops its copy, so its next send reads the shared JWT again (another process may
    have replaced it already). A JWT called expired is replaced for every process, unless it is
    younger than APNS_JWT_MIN_INTERVAL (see _fresh).
    """
    cached = _JWTS.get(credentials.cache_key)
    if cached is None or cached.value != value:
        return  # already replaced
    _JWTS.discard(credentials.cache_key, value)
    if reason != "ExpiredProviderToken" or CLOCK.now() - cached.issued_at < config.APNS_JWT_MIN_INTERVAL:
        return
    try:
        replaced = _shared_token(credentials, deadline=Deadline(), rejected=value)
    except _SharedUnavailable:
        return  # the next send signs a per-process one
    if isinstance(replaced, CachedToken):
        _JWTS.put(
            credentials.cache_key,
            CachedToken(
                replaced.value,
                replaced.issued_at,
                min(replaced.refresh_at, CLOCK.now() + config.APNS_JWT_RECHECK_SECONDS),
            ),
        )


def map_response(response: httpx.Response) -> tuple[str, str]:
    """(outcome, reason) for an APNs response."""
    status = response.status_code
    reason = str(transport.json_object(response).get("reason", ""))
    if status == 200:
        return DELIVERED, reason
    if status == 410 or (status == 400 and reason in DEAD_TOKEN_REASONS):
        return DEAD_TOKEN, reason
    if status == 429 or status >= 500:
        return RETRY, reason or f"HTTP {status}"
    return FAILED, reason or f"HTTP {status}"


class ApnsProvider:
    name = "apns"

    def validate_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        key_id = matching(
            required_str(data, "key_id", label="Key ID").upper(),
            KEY_ID_RE,
            field="key_id",
            message="Key ID must be the 10-character id of the APNs key (letters and digits).",
        )
        team_id = matching(
            required_str(data, "team_id", label="Team ID").upper(),
            TEAM_ID_RE,
            field="team_id",
            message="Team ID must be the 10-character Apple Developer team id (letters and digits).",
        )
        private_key = required_str(data, "private_key", label="The .p8 key", max_length=10_000)
        key = keys.load_p256_private_key(private_key, field="private_key", what="The .p8 key")
        bundle_id = matching(
            required_str(data, "bundle_id", label="Bundle ID", max_length=255),
            BUNDLE_ID_RE,
            field="bundle_id",
            message="Bundle ID must look like com.example.app.",
        )
        environment_name = str(data.get("environment") or "production").strip().lower()
        if environment_name not in ENVIRONMENTS:
            raise InvalidField("environment must be 'production' or 'sandbox'.", field="environment")
        return {
            "key_id": key_id,
            "team_id": team_id,
            "private_key": keys.p256_private_pem(key),
            "bundle_id": bundle_id,
            "environment": ENVIRONMENTS[environment_name],
        }

    def validate_device(self, device: DeviceTarget) -> None:
        check_provider(device.provider, self.name)
        check_token(
            device.token,
            TOKEN_RE,
            min_length=config.APNS_TOKEN_MIN_HEX,
            max_length=config.APNS_TOKEN_MAX_HEX,
            what="APNs device token (hexadecimal)",
        )
        check_bundle_id(device.bundle_id)

    def send(
        self, *, notification: Notification, device: DeviceTarget, credentials: Mapping[str, Any]
    ) -> ProviderResult:
        try:
            self.validate_device(device)
        except InvalidField as exc:
            return ProviderResult(DEAD_TOKEN, 0, f"BadDeviceToken: {exc.detail}")
        try:
            creds = _stored_credentials(credentials)
        except InvalidField as exc:
            return ProviderResult(FAILED, 0, f"InvalidCredentials: {exc.detail}")
        body = transport.compact_json(build_payload(notification))
        if len(body) > config.APNS_MAX_PAYLOAD_BYTES:
            return ProviderResult(FAILED, 0, f"PayloadTooLarge: {len(body)} bytes")
        deadline = transport.Deadline()
        bearer = cached_or_fetch(
            _JWTS, creds.cache_key, lambda: _provider_token(creds, deadline), deadline=deadline
        )
        if isinstance(bearer, ProviderResult):
            return bearer
        base = base_url(creds.environment)
        response = transport.post(
            transport.client_for(base, http2_only=True),
            f"{base}/3/device/{device.token}",
            deadline=deadline,
            headers=build_headers(notification, topic=device.bundle_id or creds.bundle_id, bearer=bearer),
            content=body,
        )
        if isinstance(response, ProviderResult):
            return response
        outcome, reason = map_response(response)
        if reason in PROVIDER_TOKEN_REFUSALS:
            _provider_token_refused(creds, bearer, reason)
        return transport.result(outcome, response, reason)


def _stored_credentials(data: Mapping[str, Any]) -> _Credentials:
    """The credentials as validate_credentials stored them (light checks; the key is cached)."""
    private_key = required_str(data, "private_key", max_length=10_000)
    keys.cached_p256_key(private_key)
    return _Credentials(
        key_id=required_str(data, "key_id"),
        team_id=required_str(data, "team_id"),
        private_key=private_key,
        bundle_id=required_str(data, "bundle_id"),
        environment=ENVIRONMENTS.get(str(data.get("environment") or "production"), "production"),
    )


def cached_jwt_count() -> int:
    return len(_JWTS)
