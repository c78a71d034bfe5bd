"""Both signatures: the documented formulas, a receiver checking them, and tampering caught."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from apps.webhooks import http
from apps.webhooks.signing import SignatureError, sign_headers, verify, verify_checksum, verify_signature
from tests.apps.webhooks.conftest import SECRET
from tests.webhook_receiver import WebhookReceiver

BODY = '{"event_id":"e-1","type":"message.p2p","data":{"text":"你好"}}'.encode()
NOW = 1_767_225_600


def test_headers_follow_the_documented_formulas() -> None:
    headers = sign_headers(
        app_key="k" * 32, secret=SECRET, body=BODY, event_id="e-1", event_type="message.p2p", now=NOW
    )

    md5 = hashlib.md5(BODY).hexdigest()
    assert headers["MD5"] == md5
    assert headers["CurTime"] == str(NOW)
    assert headers["CheckSum"] == hashlib.sha1(f"{SECRET}{md5}{NOW}".encode()).hexdigest()
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers["X-Imcloud-Signature"] == f"t={NOW},v1={expected}"
    assert (headers["AppKey"], headers["X-Imcloud-Event-Id"], headers["X-Imcloud-Event-Type"]) == (
        "k" * 32,
        "e-1",
        "message.p2p",
    )
    assert headers["Content-Type"] == "application/json; charset=utf-8"


def test_verify_accepts_what_was_signed() -> None:
    headers = sign_headers(app_key="k", secret=SECRET, body=BODY)

    verify(secret=SECRET, body=BODY, headers=headers)


@pytest.mark.parametrize("check", [verify_checksum, verify_signature])
def test_a_tampered_body_fails_each_check(check) -> None:
    headers = sign_headers(app_key="k", secret=SECRET, body=BODY)

    with pytest.raises(SignatureError):
        check(secret=SECRET, body=BODY.replace(b"message.p2p", b"message.team"), headers=headers)


@pytest.mark.parametrize("check", [verify_checksum, verify_signature])
def test_another_secret_fails_each_check(check) -> None:
    headers = sign_headers(app_key="k", secret=SECRET, body=BODY)

    with pytest.raises(SignatureError):
        check(secret="f" * 32, body=BODY, headers=headers)


def test_a_yunxin_receiver_that_recomputes_md5_notices_a_swapped_md5_header() -> None:
    headers = sign_headers(app_key="k", secret=SECRET, body=BODY)
    forged = {**headers, "MD5": hashlib.md5(b"other").hexdigest()}

    with pytest.raises(SignatureError, match="MD5"):
        verify_checksum(secret=SECRET, body=BODY, headers=forged)


def test_an_old_signature_is_refused() -> None:
    headers = sign_headers(app_key="k", secret=SECRET, body=BODY, now=NOW)

    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(secret=SECRET, body=BODY, headers=headers, now=NOW + 301)


def test_the_receiver_accepts_a_signed_post_and_refuses_a_tampered_one(receiver: WebhookReceiver) -> None:
    headers = sign_headers(app_key="k", secret=SECRET, body=BODY, event_id="e-1")
    tampered = BODY.replace("你好".encode(), b"hi")

    good = http.post(url=receiver.url, body=BODY, headers=headers, timeout=2)
    bad = http.post(url=receiver.url, body=tampered, headers=headers, timeout=2)

    assert (good.status, bad.status) == (200, 401)
    assert [r.body for r in receiver.accepted] == [BODY]
    assert [r.body for r in receiver.rejected] == [tampered]
