"""Yunxin-compatible request signing for the server API.

Headers: AppKey, Nonce, CurTime (UTC seconds), CheckSum = lowercase hex SHA1(AppSecret + Nonce +
CurTime). CurTime must lie within the checksum window of server time, and a nonce is accepted once
per app within that window. Every refusal is a 401 with its own stable code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from django.core.cache import cache
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.core.conf import setting_int
from apps.tenants.models import App
from apps.tenants.selectors import app_get_by_key

NONCE_MAX_LENGTH = 128
SIGNED_HEADERS = ("AppKey", "Nonce", "CurTime", "CheckSum")


class SignatureError(AuthenticationFailed):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail=detail, code=code)
        self.error_code = code


def checksum(*, secret: str, nonce: str, cur_time: str) -> str:
    return hashlib.sha1(f"{secret}{nonce}{cur_time}".encode()).hexdigest()  # noqa: S324 - Yunxin's scheme


class ChecksumAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[None, App]:
        headers = {name: request.headers.get(name, "").strip() for name in SIGNED_HEADERS}
        missing = [name for name, value in headers.items() if not value]
        if missing:
            raise SignatureError("missing_header", f"Missing header(s): {', '.join(missing)}.")
        nonce, cur_time = headers["Nonce"], headers["CurTime"]
        if len(nonce) > NONCE_MAX_LENGTH:
            raise SignatureError("invalid_nonce", f"Nonce has at most {NONCE_MAX_LENGTH} characters.")
        app = app_get_by_key(app_key=headers["AppKey"])
        if app is None:
            raise SignatureError("unknown_app", "No app has this AppKey.")
        expected = checksum(secret=app.secret, nonce=nonce, cur_time=cur_time)
        if not hmac.compare_digest(expected, headers["CheckSum"].lower()):
            raise SignatureError("bad_checksum", "CheckSum does not match.")
        window = setting_int("API_CHECKSUM_WINDOW")
        try:
            signed_at = int(cur_time)
        except ValueError:
            raise SignatureError("stale_curtime", "CurTime must be UTC seconds.") from None
        if abs(time.time() - signed_at) > window:
            raise SignatureError("stale_curtime", f"CurTime is more than {window} s from server time.")
        # Checked last, so a refused request does not burn its nonce. cache.add is atomic
        # (SET NX on Redis): of two racing replays, exactly one gets through.
        if not cache.add(f"api-nonce:{app.app_key}:{nonce}", 1, timeout=2 * window):
            raise SignatureError("replayed_nonce", "This Nonce was already used.")
        return None, app

    def authenticate_header(self, request: Request) -> str:
        return 'CheckSum realm="imcloud"'


class IsSignedApp(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, App)


def request_app(request: Request) -> App:
    """The app a signed request acts for: the tenant every query of the view is scoped to."""
    app = request.auth
    if not isinstance(app, App):  # IsSignedApp has already refused such requests
        raise SignatureError("missing_header", "Unsigned request.")
    return app
