"""Signing what we POST to an app's server, twice.

- Yunxin-compatible: ``MD5`` = lowercase hex MD5 of the exact body bytes, ``CurTime`` = UTC
  seconds, ``CheckSum`` = lowercase hex SHA1(AppSecret + MD5 + CurTime).
- ``X-Imcloud-Signature: t=<CurTime>,v1=<hex HMAC-SHA256(AppSecret, "<t>." + body)>``: the
  stronger of the two, which a receiver that starts from scratch should check.

``verify`` is what a receiver does (tests/webhook_receiver.py uses it; docs/webhooks.md shows it).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

CONTENT_TYPE = "application/json; charset=utf-8"
USER_AGENT = "imcloud-webhooks/1"
SIGNATURE_HEADER = "X-Imcloud-Signature"
EVENT_ID_HEADER = "X-Imcloud-Event-Id"
EVENT_TYPE_HEADER = "X-Imcloud-Event-Type"
# A receiver should refuse signatures older (or newer) than this many seconds.
DEFAULT_TOLERANCE = 300


def body_md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def yunxin_checksum(*, secret: str, md5: str, cur_time: str) -> str:
    return hashlib.sha1(f"{secret}{md5}{cur_time}".encode(), usedforsecurity=False).hexdigest()


def hmac_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_headers(
    *,
    app_key: str,
    secret: str,
    body: bytes,
    event_id: str = "",
    event_type: str = "",
    now: int | None = None,
) -> dict[str, str]:
    """Every header of a signed POST of ``body``."""
    stamp = str(int(time.time()) if now is None else now)
    md5 = body_md5(body)
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        "AppKey": app_key,
        "CurTime": stamp,
        "MD5": md5,
        "CheckSum": yunxin_checksum(secret=secret, md5=md5, cur_time=stamp),
        SIGNATURE_HEADER: f"t={stamp},v1={hmac_signature(secret=secret, timestamp=stamp, body=body)}",
    }
    if event_id:
        headers[EVENT_ID_HEADER] = event_id
    if event_type:
        headers[EVENT_TYPE_HEADER] = event_type
    return headers


class SignatureError(Exception):
    pass


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise SignatureError(f"missing header {name}")


def verify_checksum(*, secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """The Yunxin-compatible pair: MD5 of the body, then CheckSum over it."""
    md5, cur_time, checksum = (_header(headers, n) for n in ("MD5", "CurTime", "CheckSum"))
    if not hmac.compare_digest(body_md5(body), md5.lower()):
        raise SignatureError("MD5 does not match the body")
    expected = yunxin_checksum(secret=secret, md5=md5.lower(), cur_time=cur_time)
    if not hmac.compare_digest(expected, checksum.lower()):
        raise SignatureError("CheckSum does not match")


def verify_signature(
    *,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    tolerance: int = DEFAULT_TOLERANCE,
    now: int | None = None,
) -> None:
    """The HMAC-SHA256 header, and its timestamp within ``tolerance`` seconds of now."""
    parts = dict(item.split("=", 1) for item in _header(headers, SIGNATURE_HEADER).split(",") if "=" in item)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isascii() or not stamp.isdigit() or not given:
        raise SignatureError("malformed signature header")
    current = int(time.time()) if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise SignatureError("signature timestamp outside the tolerance")
    if not hmac.compare_digest(hmac_signature(secret=secret, timestamp=stamp, body=body), given.lower()):
        raise SignatureError("signature does not match")


def verify(
    *, secret: str, body: bytes, headers: Mapping[str, str], tolerance: int = DEFAULT_TOLERANCE
) -> None:
    """Both signatures; raises ``SignatureError`` on the first that fails."""
    verify_checksum(secret=secret, body=body, headers=headers)
    verify_signature(secret=secret, body=body, headers=headers, tolerance=tolerance)
