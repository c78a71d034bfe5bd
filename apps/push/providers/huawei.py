"""Huawei Push Kit (HMS Core) server API v1.

An OAuth 2.0 client-credentials access token (client_id = app id) is cached per app until shortly
before it expires. ``POST {base}/v1/{app_id}/messages:send`` answers with a result ``code`` in the
JSON body ("80000000" is success); HTTP 401 drops the token, fetches a new one and sends once more.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

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
from apps.push.providers.tokens import TokenCache, cached_or_fetch, fetch_oauth_token
from apps.push.providers.validation import (
    check_bundle_id,
    check_provider,
    check_token,
    matching,
    optional_str,
    required_str,
)

APP_ID_RE = re.compile(r"^[0-9]{1,20}$")
SECRET_RE = re.compile(r"^[\x21-\x7e]{8,256}$")
CLASS_NAME_RE = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-+/=.:]+$")

SUCCESS = "80000000"
PARTIAL_SUCCESS = "80100000"  # some tokens failed; msg lists "illegal_tokens"
ALL_TOKENS_INVALID = "80300007"
# Push Kit result codes that are worth trying again: system errors on Huawei's side.
RETRY_CODES = frozenset(
    {
        "80000001",  # system error (transient)
        "80600003",  # Push Kit could not reach its OAuth service
        "81000001",  # internal system error
    }
)
# Everything else is FAILED, notably 80100001/80100003 (bad parameters / message structure),
# 80100004 (expired), 80100013 (collapse_key), 80100016 (sensitive content), 80200001/80200003
# (OAuth, after one refresh), 80300002 (no permission), 80300008 (body too large), 80300011.

_ACCESS_TOKENS = TokenCache()


@dataclass(frozen=True)
class _Credentials:
    app_id: str
    client_secret: str
    badge_class: str

    def cache_key(self, token_url: str) -> tuple[str, str, str]:
        return (token_url, self.app_id, keys.fingerprint(self.client_secret))


def collapse_key(collapse_id: str) -> int:
    """Huawei's collapse_key is an offline-cache group number 0-100: the id's CRC-32 mod 100."""
    return zlib.crc32(collapse_id.encode()) % 100


def build_message(notification: Notification, device: DeviceTarget, *, badge_class: str) -> dict[str, Any]:
    android_notification: dict[str, Any] = {
        "title": notification.title,
        "body": notification.body,
        "click_action": {"type": 3},  # open the app
    }
    if notification.sound == "default":
        android_notification["default_sound"] = True
    elif notification.sound:
        android_notification["default_sound"] = False
        android_notification["sound"] = notification.sound
    if notification.collapse_id:
        android_notification["tag"] = notification.collapse_id  # replaces the shown notification
    if notification.thread_id:
        android_notification["group"] = notification.thread_id
    if notification.badge is not None and badge_class:
        android_notification["badge"] = {"set_num": max(0, min(notification.badge, 99)), "class": badge_class}
    ttl = max(0, min(notification.ttl, config.HUAWEI_MAX_TTL))
    android: dict[str, Any] = {
        "urgency": "HIGH" if notification.priority == "high" else "NORMAL",
        "ttl": f"{ttl}s",
        "notification": android_notification,
    }
    if notification.collapse_id:
        android["collapse_key"] = collapse_key(notification.collapse_id)
    message: dict[str, Any] = {"token": [device.token], "android": android}
    if notification.data:
        message["data"] = json.dumps(dict(notification.data), separators=(",", ":"), ensure_ascii=False)
    return {"validate_only": False, "message": message}


def _token_named_illegal(msg: object, token: str) -> bool:
    """Whether a partial-success ``msg`` ({"success":..,"illegal_tokens":[..]} as JSON text) names token."""
    if not isinstance(msg, str):
        return False
    try:
        detail = json.loads(msg)
    except ValueError:
        return token in msg
    if not isinstance(detail, dict):
        return False
    illegal = detail.get("illegal_tokens") or detail.get("illegalTokens") or []
    if isinstance(illegal, dict):  # {"reason": [tokens]} in newer answers
        return any(isinstance(group, list) and token in group for group in illegal.values())
    return isinstance(illegal, list) and token in illegal


def map_response(response: httpx.Response, token: str) -> tuple[str, str]:
    status = response.status_code
    body = transport.json_object(response)
    code = str(body.get("code", ""))
    msg = body.get("msg", "")
    detail = f"{code} {msg}".strip() if isinstance(msg, str) and len(msg) <= 120 else code
    if status == 429 or status >= 500:
        return RETRY, detail or f"HTTP {status}"
    if code == SUCCESS:
        return DELIVERED, code
    if code == ALL_TOKENS_INVALID:
        return DEAD_TOKEN, detail
    if code == PARTIAL_SUCCESS:
        return (DEAD_TOKEN, detail) if _token_named_illegal(msg, token) else (DELIVERED, code)
    if code in RETRY_CODES:
        return RETRY, detail
    return FAILED, detail or f"HTTP {status}"


class HuaweiProvider:
    name = "huawei"

    def validate_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        app_id = matching(
            required_str(data, "app_id", label="App ID"),
            APP_ID_RE,
            field="app_id",
            message="App ID must be the numeric app id from AppGallery Connect.",
        )
        client_secret = matching(
            required_str(data, "client_secret", label="Client secret"),
            SECRET_RE,
            field="client_secret",
            message="Client secret must be 8 to 256 printable characters without spaces.",
        )
        badge_class = optional_str(data, "badge_class", max_length=255)
        if badge_class and not CLASS_NAME_RE.fullmatch(badge_class):
            raise InvalidField(
                "badge_class must be the full class name of the app's entry activity.", field="badge_class"
            )
        return {"app_id": app_id, "client_secret": client_secret, "badge_class": badge_class}

    def validate_device(self, device: DeviceTarget) -> None:
        check_provider(device.provider, self.name)
        check_token(
            device.token,
            TOKEN_RE,
            min_length=config.HUAWEI_TOKEN_MIN_LENGTH,
            max_length=config.HUAWEI_TOKEN_MAX_LENGTH,
            what="Huawei push token",
        )
        check_bundle_id(device.bundle_id, what="package name")

    def send(
        self, *, notification: Notification, device: DeviceTarget, credentials: Mapping[str, Any]
    ) -> ProviderResult:
        try:
            self.validate_device(device)
        except InvalidField as exc:
            return ProviderResult(DEAD_TOKEN, 0, f"{ALL_TOKENS_INVALID}: {exc.detail}")
        try:
            creds = _Credentials(
                app_id=required_str(credentials, "app_id"),
                client_secret=required_str(credentials, "client_secret"),
                badge_class=optional_str(credentials, "badge_class"),
            )
        except InvalidField as exc:
            return ProviderResult(FAILED, 0, f"InvalidCredentials: {exc.detail}")
        deadline = transport.Deadline()
        base = config.setting_url("PUSH_HUAWEI_URL", config.HUAWEI_DEFAULT_URL)
        token_url = config.setting_url("PUSH_HUAWEI_TOKEN_URL", config.HUAWEI_DEFAULT_TOKEN_URL)
        cache_key = creds.cache_key(token_url)
        url = f"{base}/v1/{quote(creds.app_id, safe='')}/messages:send"
        body = transport.compact_json(build_message(notification, device, badge_class=creds.badge_class))
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.app_id,
            "client_secret": creds.client_secret,
        }

        def send_once() -> tuple[str, httpx.Response | ProviderResult]:
            access_token = cached_or_fetch(
                _ACCESS_TOKENS,
                cache_key,
                lambda: fetch_oauth_token(token_url, form, deadline=deadline),
                deadline=deadline,
            )
            if isinstance(access_token, ProviderResult):
                return "", access_token
            headers = {
                "authorization": f"Bearer {access_token}",
                "content-type": "application/json;charset=utf-8",
            }
            return access_token, transport.post(
                transport.client_for(base), url, deadline=deadline, headers=headers, content=body
            )

        access_token, response = send_once()
        if isinstance(response, httpx.Response) and response.status_code == 401:
            # 80200001 / 80200003: the access token is invalid or expired; fetch one and resend once.
            _ACCESS_TOKENS.discard(cache_key, access_token)
            access_token, response = send_once()
        if isinstance(response, ProviderResult):
            return response
        outcome, reason = map_response(response, device.token)
        return transport.result(outcome, response, reason)


def cached_access_token_count() -> int:
    return len(_ACCESS_TOKENS)
