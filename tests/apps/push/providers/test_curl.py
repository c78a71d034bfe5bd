"""The libcurl HTTP/2 client's own edges (its requests are exercised against the APNs double in
test_apns.py and test_common.py): response headers, and what it refuses."""

from __future__ import annotations

import httpx
import pytest

from apps.push.providers.curl import CurlHttp2Client, _headers


def test_only_the_final_responses_header_fields_are_kept() -> None:
    lines = [
        b"HTTP/1.1 100 Continue\r\n",
        b"X-Interim: 1\r\n",
        b"\r\n",
        b"HTTP/2 429 \r\n",
        b"apns-id: ABC\r\n",
        b"Retry-After: 120\r\n",
        b"\r\n",
    ]
    assert _headers(lines) == [("apns-id", "ABC"), ("retry-after", "120")]


def test_a_form_post_and_a_closed_client_are_refused() -> None:
    client = CurlHttp2Client()
    timeout = httpx.Timeout(1.0)
    with pytest.raises(ValueError, match="bytes only"):
        client.post("http://127.0.0.1:9/", headers={}, data={"a": "b"}, timeout=timeout)
    client.close()
    assert client.is_closed
    with pytest.raises(httpx.ConnectError):
        client.post("http://127.0.0.1:9/", headers={}, content=b"{}", timeout=timeout)
