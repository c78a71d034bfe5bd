"""An HTTP/2-only client on libcurl (pycurl, with nghttp2), shaped like the part of ``httpx.Client``
the providers use: ``post(url, headers=, content=, timeout=)`` returning an ``httpx.Response``,
and httpx's exceptions for timeouts and network errors.

Why: APNs is the provider with the volume, and it speaks only HTTP/2. Through httpx a request cost
the push worker ~0.6 ms of CPU (httpx, httpcore, and h2/hpack framing in Python); through libcurl,
which frames, compresses headers and runs TLS in C, ~0.08 ms (docs/performance.md). The other
providers (HTTP/1.1 or HTTP/2 by ALPN, lower volumes) stay on httpx.

One handle per thread and origin (apps/push/providers/transport.py caches them), so each keeps its
own long-lived HTTP/2 connection, as the httpx clients did: http:// with prior knowledge (h2c, the
local test servers), https:// by ALPN (Apple's servers). No proxy from the environment, no
redirects, no cookies, certifi's CA bundle, as with httpx.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import certifi
import httpx
import pycurl

from apps.push.providers import config


class CurlHttp2Client:
    def __init__(self) -> None:
        self._handle: pycurl.Curl | None = pycurl.Curl()
        # A handle is used by its own thread only; the lock guards close() from another thread.
        self._lock = threading.Lock()
        handle = self._handle
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.PROXY, "")
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.CAINFO, certifi.where())
        handle.setopt(pycurl.USERAGENT, config.USER_AGENT)
        handle.setopt(pycurl.MAXAGE_CONN, int(config.KEEPALIVE_EXPIRY))
        handle.setopt(pycurl.TCP_KEEPALIVE, 1)

    @property
    def is_closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        timeout: httpx.Timeout,
    ) -> httpx.Response:
        if data is not None:
            raise ValueError("the HTTP/2 client posts bytes only")
        with self._lock:
            handle = self._handle
            if handle is None:
                raise httpx.ConnectError("the client is closed")
            body: list[bytes] = []
            lines: list[bytes] = []
            handle.setopt(pycurl.URL, url)
            # "Expect:" and "Accept:" remove curl's own; content-length comes from the body.
            fields = [f"{name}: {value}" for name, value in headers.items()]
            handle.setopt(pycurl.HTTPHEADER, [*fields, "Expect:", "Accept:"])
            handle.setopt(pycurl.POSTFIELDS, content or b"")
            handle.setopt(pycurl.WRITEFUNCTION, body.append)
            handle.setopt(pycurl.HEADERFUNCTION, lines.append)
            total = timeout.read if timeout.read is not None else config.TOTAL_TIMEOUT
            connect = timeout.connect if timeout.connect is not None else config.CONNECT_TIMEOUT
            handle.setopt(pycurl.TIMEOUT_MS, max(1, int(total * 1000)))
            handle.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(min(connect, total) * 1000)))
            try:
                handle.perform()
            except pycurl.error as exc:
                code, message = exc.args[0], str(exc.args[1]) if len(exc.args) > 1 else ""
                raise _ERRORS.get(code, httpx.ReadError)(f"curl {code}: {message}") from exc
            status = int(handle.getinfo(pycurl.RESPONSE_CODE))
        return httpx.Response(status, headers=_headers(lines), content=b"".join(body))


# libcurl's error codes as the httpx exceptions the providers already map (transport.post).
_ERRORS: dict[int, type[httpx.TransportError]] = {
    pycurl.E_OPERATION_TIMEDOUT: httpx.ReadTimeout,
    pycurl.E_COULDNT_CONNECT: httpx.ConnectError,
    pycurl.E_COULDNT_RESOLVE_HOST: httpx.ConnectError,
    pycurl.E_SSL_CONNECT_ERROR: httpx.ConnectError,
    pycurl.E_PEER_FAILED_VERIFICATION: httpx.ConnectError,
    pycurl.E_SEND_ERROR: httpx.WriteError,
    pycurl.E_HTTP2: httpx.RemoteProtocolError,
    92: httpx.RemoteProtocolError,  # CURLE_HTTP2_STREAM (a reset stream); pycurl names no constant
}


def _headers(lines: list[bytes]) -> list[tuple[str, str]]:
    """The final response's header fields (curl hands over the status line and each field)."""
    fields: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.decode("latin-1").rstrip("\r\n")
        if line.startswith("HTTP/"):
            fields = []  # an interim (1xx) response's fields are not the final one's
            continue
        name, sep, value = line.partition(":")
        if sep:
            fields.append((name.strip().lower(), value.strip()))
    return fields
