"""Firebase Cloud Messaging, HTTP v1 API, with the OAuth 2.0 service-account flow.

An RS256 JWT assertion (iss = client_email, scope = firebase.messaging, aud = token_uri) is
exchanged at the service account's ``token_uri`` for an access token, cached per service account
until shortly before it expires. ``POST {base}/v1/projects/{project_id}/messages:send`` carries
it as a bearer token; a 401 drops it, fetches a new one and sends once more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt

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
from apps.push.providers.tokens import CachedToken, TokenCache, cached_or_fetch, fetch_oauth_token
from apps.push.providers.validation import check_bundle_id, check_provider, check_token, required_str

TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-:.]+$")
PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:\-]{1,99}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SERVICE_ACCOUNT_FIELDS = ("project_id", "client_email", "private_key", "token_uri")
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

_ACCESS_TOKENS = TokenCache()


@dataclass(frozen=True)
class _Credentials:
    project_id: str
    client_email: str
    private_key: str
    private_key_id: str
    token_uri: str

    @property
    def cache_key(self) -> tuple[str, str, str]:
        return (self.client_email, self.token_uri, keys.fingerprint(self.private_key))


def build_message(notification: Notification, device: DeviceTarget) -> dict[str, Any]:
    ttl = max(0, min(notification.ttl, config.FCM_MAX_TTL))
    android_notification: dict[str, Any] = {}
    if notification.thread_id:
        android_notification["tag"] = notification.thread_id
    if notification.badge is not None:
        android_notification["notification_count"] = notification.badge
    if notification.sound:
        android_notification["sound"] = notification.sound
    android: dict[str, Any] = {
        "priority": "HIGH" if notification.priority == "high" else "NORMAL",
        "ttl": f"{ttl}s",
    }
    if notification.collapse_id:
        android["collapse_key"] = notification.collapse_id
    if device.bundle_id:
        android["restricted_package_name"] = device.bundle_id
    if android_notification:
        android["notification"] = android_notification
    aps: dict[str, Any] = {}
    if notification.badge is not None:
        aps["badge"] = notification.badge
    if notification.sound:
        aps["sound"] = notification.sound
    if notification.thread_id:
        aps["thread-id"] = notification.thread_id
    apns_headers = {"apns-priority": "10" if notification.priority == "high" else "5"}
    apns_headers["apns-expiration"] = str(int(transport.CLOCK.now()) + ttl) if ttl > 0 else "0"
    if notification.collapse_id:
        apns_headers["apns-collapse-id"] = notification.collapse_id[:64]
    message: dict[str, Any] = {
        "token": device.token,
        "notification": {"title": notification.title, "body": notification.body},
        "android": android,
        "apns": {"headers": apns_headers, "payload": {"aps": aps}},
    }
    if notification.data:
        message["data"] = {str(key): str(value) for key, value in notification.data.items()}
    return {"message": message}


def _assertion(credentials: _Credentials) -> str:
    now = int(transport.CLOCK.now())
    headers = {"kid": credentials.private_key_id} if credentials.private_key_id else None
    return jwt.encode(
        {
            "iss": credentials.client_email,
            "scope": config.FCM_SCOPE,
            "aud": credentials.token_uri,
            "iat": now,
            "exp": now + config.FCM_ASSERTION_LIFETIME,
        },
        keys.cached_rsa_key(credentials.private_key),
        algorithm="RS256",
        headers=headers,
    )


def _fetch_access_token(
    credentials: _Credentials, deadline: transport.Deadline
) -> CachedToken | ProviderResult:
    problem = config.external_url_problem(credentials.token_uri)
    if problem is not None:
        return ProviderResult(FAILED, 0, f"InvalidCredentials: token_uri {problem}")
    return fetch_oauth_token(
        credentials.token_uri,
        {"grant_type": config.FCM_GRANT_TYPE, "assertion": _assertion(credentials)},
        deadline=deadline,
    )


def _error(response: httpx.Response) -> tuple[str, str, bool]:
    """(errorCode or status, message, whether a field violation names the token) of an FCM error."""
    error = transport.json_object(response).get("error")
    if not isinstance(error, dict):
        return "", "", False
    code = ""
    token_violation = False
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            code = detail["errorCode"]
        if detail.get("@type") == BAD_REQUEST_TYPE:
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict) and violation.get("field") == "message.token":
                    token_violation = True
    message = str(error.get("message", ""))
    return code or str(error.get("status", "")), message, token_violation


def map_response(response: httpx.Response) -> tuple[str, str]:
    """(outcome, reason) for an FCM messages:send response (after the 401 refresh, if any)."""
    status = response.status_code
    if status == 200:
        return DELIVERED, ""
    code, message, token_violation = _error(response)
    if code == "UNREGISTERED":
        return DEAD_TOKEN, code
    if code == "INVALID_ARGUMENT" and (token_violation or "registration token" in message.lower()):
        return DEAD_TOKEN, code
    if status == 429 or status >= 500 or code in {"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"}:
        return RETRY, code or f"HTTP {status}"
    return FAILED, code or f"HTTP {status}"


def _is_oauth_rejection(response: httpx.Response) -> bool:
    """A 401 about our access token (not THIRD_PARTY_AUTH_ERROR: APNs/Web Push credentials in FCM)."""
    return response.status_code == 401 and _error(response)[0] != "THIRD_PARTY_AUTH_ERROR"


class FcmProvider:
    name = "fcm"

    def validate_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        account = _service_account(data)
        if account.get("type", "service_account") != "service_account":
            raise InvalidField(
                "The JSON must be a service account key (type 'service_account').", field="service_account"
            )
        for name in SERVICE_ACCOUNT_FIELDS:
            value = account.get(name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidField(f"The service account JSON has no {name}.", field="service_account")
        project_id = account["project_id"].strip()
        if not PROJECT_ID_RE.fullmatch(project_id):
            raise InvalidField(
                "The service account's project_id is not a valid project id.", field="service_account"
            )
        client_email = account["client_email"].strip()
        if not EMAIL_RE.fullmatch(client_email):
            raise InvalidField(
                "The service account's client_email is not an email address.", field="service_account"
            )
        token_uri = account["token_uri"].strip()
        problem = config.external_url_problem(token_uri)
        if problem is not None:
            raise InvalidField(f"The service account's token_uri {problem}.", field="service_account")
        key = keys.load_rsa_private_key(
            account["private_key"], field="service_account", what="The service account's private_key"
        )
        private_key_id = account.get("private_key_id", "")
        return {
            "project_id": project_id,
            "client_email": client_email,
            "private_key": keys.rsa_private_pem(key),
            "private_key_id": private_key_id.strip() if isinstance(private_key_id, str) else "",
            "token_uri": token_uri,
        }

    def validate_device(self, device: DeviceTarget) -> None:
        check_provider(device.provider, self.name)
        check_token(
            device.token,
            TOKEN_RE,
            min_length=config.FCM_TOKEN_MIN_LENGTH,
            max_length=config.FCM_TOKEN_MAX_LENGTH,
            what="FCM registration token",
        )
        check_bundle_id(device.bundle_id, what="package name")

    def send(
        self, *, notification: Notification, device: DeviceTarget, credentials: Mapping[str, Any]
    ) -> ProviderResult:
        try:
            self.validate_device(device)
        except InvalidField as exc:
            return ProviderResult(DEAD_TOKEN, 0, f"INVALID_ARGUMENT: {exc.detail}")
        try:
            creds = _stored_credentials(credentials)
        except InvalidField as exc:
            return ProviderResult(FAILED, 0, f"InvalidCredentials: {exc.detail}")
        deadline = transport.Deadline()
        base = config.setting_url("PUSH_FCM_URL", config.FCM_DEFAULT_URL)
        url = f"{base}/v1/projects/{quote(creds.project_id, safe='')}/messages:send"
        body = transport.compact_json(build_message(notification, device))

        def send_once() -> tuple[str, httpx.Response | ProviderResult]:
            access_token = cached_or_fetch(
                _ACCESS_TOKENS,
                creds.cache_key,
                lambda: _fetch_access_token(creds, deadline),
                deadline=deadline,
            )
            if isinstance(access_token, ProviderResult):
                return "", access_token
            headers = {"authorization": f"Bearer {access_token}", "content-type": "application/json"}
            return access_token, transport.post(
                transport.client_for(base), url, deadline=deadline, headers=headers, content=body
            )

        access_token, response = send_once()
        if isinstance(response, httpx.Response) and _is_oauth_rejection(response):
            # The access token was revoked or expired early: fetch a new one and send once more.
            _ACCESS_TOKENS.discard(creds.cache_key, access_token)
            access_token, response = send_once()
        if isinstance(response, ProviderResult):
            return response
        outcome, reason = map_response(response)
        return transport.result(outcome, response, reason)


def _service_account(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The service account from ``{"service_account": <JSON text or object>}`` or the object itself."""
    if "service_account" not in data:
        return data
    raw = data["service_account"]
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidField(
                "The service account file is not valid JSON.", field="service_account"
            ) from exc
    if not isinstance(raw, Mapping):
        raise InvalidField("The service account must be a JSON object.", field="service_account")
    return raw


def _stored_credentials(data: Mapping[str, Any]) -> _Credentials:
    private_key = required_str(data, "private_key", max_length=20_000)
    keys.cached_rsa_key(private_key)
    return _Credentials(
        project_id=required_str(data, "project_id"),
        client_email=required_str(data, "client_email"),
        private_key=private_key,
        private_key_id=str(data.get("private_key_id") or ""),
        token_uri=required_str(data, "token_uri"),
    )


def cached_access_token_count() -> int:
    return len(_ACCESS_TOKENS)
