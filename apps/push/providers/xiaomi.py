"""Xiaomi Mi Push server API v3: ``POST {base}/v3/message/regid``, form-encoded.

Authenticated by ``Authorization: key=<AppSecret>``; the answer is JSON with ``result`` ("ok" |
"error") and a numeric ``code`` (0 is success).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from typing import Any

import httpx

from apps.core.errors import InvalidField
from apps.push.providers import config, transport
from apps.push.providers.base import (
    DEAD_TOKEN,
    DELIVERED,
    FAILED,
    RETRY,
    DeviceTarget,
    Notification,
    ProviderResult,
)
from apps.push.providers.validation import (
    PACKAGE_NAME_RE,
    check_bundle_id,
    check_provider,
    check_token,
    matching,
    required_str,
)

SECRET_RE = re.compile(r"^[\x21-\x7e]{8,256}$")
REGID_RE = re.compile(r"^[A-Za-z0-9+/=_\-:.]+$")

NOTIFY_DEFAULT_ALL = -1  # sound, vibration and lights
NOTIFY_VIBRATE_AND_LIGHTS = 2 | 4  # no sound

INVALID_REGID = 20301  # the registration id is not (or no longer) valid: "No valid targets!"
# Mi Push error codes worth trying again: system errors, "busy", and per-app rate/daily quotas.
RETRY_CODES = frozenset(
    {
        -1,  # unknown error
        1,  # internal error
        10001,  # system error
        10002,  # system busy
        10003,  # remote service error
        10027,  # the app calls the API too often
        10034,  # the app sent too many messages today
        26003,  # push internal call failed
        65029,  # remote service error
    }
)
# Everything else is FAILED: 10008/10016/10017 (parameters), 21301/22000/22006/22007 (auth, app),
# 22022 (package name), 10031 (app blacklisted), 65009 (content too long) ...


def notify_id(collapse_id: str) -> int:
    """Notifications with one notify_id replace each other: the collapse id's CRC-32 (31 bits)."""
    return zlib.crc32(collapse_id.encode()) & 0x7FFFFFFF


def build_form(notification: Notification, device: DeviceTarget, *, package_name: str) -> dict[str, str]:
    ttl = max(0, min(notification.ttl, config.XIAOMI_MAX_TTL))
    package = device.bundle_id or package_name
    form = {
        "registration_id": device.token,
        "restricted_package_name": package,
        "title": notification.title,
        "description": notification.body,
        "payload": json.dumps(dict(notification.data), separators=(",", ":"), ensure_ascii=False),
        "pass_through": "0",  # a notification shown by the system, not a pass-through message
        "notify_type": str(NOTIFY_DEFAULT_ALL if notification.sound else NOTIFY_VIBRATE_AND_LIGHTS),
        "time_to_live": str(ttl * 1000),  # milliseconds
        "extra.notify_foreground": "1",  # show it even when the app is in the foreground
        "extra.notify_effect": "1",  # a tap opens the app's launcher activity
    }
    if notification.sound and notification.sound != "default":
        form["extra.sound_uri"] = f"android.resource://{package}/raw/{notification.sound}"
    if notification.collapse_id:
        form["notify_id"] = str(notify_id(notification.collapse_id))
    return form


def map_response(response: httpx.Response) -> tuple[str, str]:
    status = response.status_code
    body = transport.json_object(response)
    code = body.get("code")
    reason = str(body.get("reason") or body.get("description") or "")
    detail = f"{code} {reason}".strip() if code is not None else f"HTTP {status}"
    if status == 429 or status >= 500:
        return RETRY, detail
    if status != 200 or not isinstance(code, int) or isinstance(code, bool):
        return FAILED, detail
    if code == 0 and body.get("result") == "ok":
        return DELIVERED, "0"
    if code == INVALID_REGID:
        return DEAD_TOKEN, detail
    if code in RETRY_CODES:
        return RETRY, detail
    return FAILED, detail


class XiaomiProvider:
    name = "xiaomi"

    def validate_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        app_secret = matching(
            required_str(data, "app_secret", label="AppSecret"),
            SECRET_RE,
            field="app_secret",
            message="AppSecret must be 8 to 256 printable characters without spaces.",
        )
        package_name = matching(
            required_str(data, "package_name", label="Package name", max_length=255),
            PACKAGE_NAME_RE,
            field="package_name",
            message="Package name must look like com.example.app.",
        )
        return {"app_secret": app_secret, "package_name": package_name}

    def validate_device(self, device: DeviceTarget) -> None:
        check_provider(device.provider, self.name)
        check_token(
            device.token,
            REGID_RE,
            min_length=config.XIAOMI_REGID_MIN_LENGTH,
            max_length=config.XIAOMI_REGID_MAX_LENGTH,
            what="Mi Push registration id",
        )
        check_bundle_id(device.bundle_id, what="package name")

    def send(
        self, *, notification: Notification, device: DeviceTarget, credentials: Mapping[str, Any]
    ) -> ProviderResult:
        try:
            self.validate_device(device)
        except InvalidField as exc:
            return ProviderResult(DEAD_TOKEN, 0, f"{INVALID_REGID}: {exc.detail}")
        try:
            app_secret = required_str(credentials, "app_secret")
            package_name = required_str(credentials, "package_name")
        except InvalidField as exc:
            return ProviderResult(FAILED, 0, f"InvalidCredentials: {exc.detail}")
        base = config.setting_url("PUSH_XIAOMI_URL", config.XIAOMI_DEFAULT_URL)
        url = f"{base}/v3/message/regid"
        response = transport.post(
            transport.client_for(base),
            url,
            deadline=transport.Deadline(),
            headers={"authorization": f"key={app_secret}"},
            form=build_form(notification, device, package_name=package_name),
        )
        if isinstance(response, ProviderResult):
            return response
        outcome, reason = map_response(response)
        return transport.result(outcome, response, reason)
