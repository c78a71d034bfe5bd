"""HTTP plumbing shared by the providers: the per-origin client cache, the send deadline, the clock.

One client per origin and thread is kept open for the life of the process: an ``httpx.Client``,
or for HTTP/2-only origins (APNs) a libcurl handle (apps/push/providers/curl.py), so APNs keeps
its HTTP/2 connections and the others keep their keep-alive connections. A forked child (Celery
prefork) starts with an empty cache instead of sharing its parent's sockets.
"""

from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from apps.push.providers import config
from apps.push.providers.base import RETRY, ProviderResult
from apps.push.providers.curl import CurlHttp2Client

Client = httpx.Client | CurlHttp2Client


class Clock:
    """Unix time for JWT iat/exp and token expiry; tests shift it with `offset`.

    (Request deadlines use time.monotonic and are not shifted.)
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


CLOCK = Clock()


# --- Client cache ---------------------------------------------------------------------------------
_clients_lock = threading.Lock()
_clients: OrderedDict[tuple[str, bool, int], Client] = OrderedDict()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def client_for(url: str, *, http2_only: bool = False) -> Client:
    """This thread's client for the origin of ``url``.

    One client (and so one connection) per thread: httpcore's HTTP/2 connection is not safe to
    share between threads (streams and the HPACK state are used outside any lock; the push
    benchmark saw lost and duplicated notifications, encode/httpcore#1062). Workers keep their
    threads, so each thread keeps reusing its own connection.

    ``http2_only`` (APNs): libcurl, HTTP/2 via ALPN on https and with prior knowledge (h2c) on
    http. Otherwise httpx: HTTP/1.1, or HTTP/2 when the server offers it through ALPN.
    """
    key = (origin_of(url), http2_only, threading.get_ident())
    with _clients_lock:
        cached = _clients.get(key)
        if cached is not None and not cached.is_closed:
            _clients.move_to_end(key)
            return cached
        client: Client = (
            CurlHttp2Client()
            if http2_only
            else httpx.Client(
                http1=True,
                http2=True,
                timeout=httpx.Timeout(config.TOTAL_TIMEOUT, connect=config.CONNECT_TIMEOUT),
                limits=httpx.Limits(
                    max_connections=config.MAX_CONNECTIONS_PER_ORIGIN,
                    max_keepalive_connections=config.MAX_CONNECTIONS_PER_ORIGIN,
                    keepalive_expiry=config.KEEPALIVE_EXPIRY,
                ),
                headers={"user-agent": config.USER_AGENT},
                follow_redirects=False,
                trust_env=False,
            )
        )
        _clients[key] = client
        evicted = []
        while len(_clients) > config.CLIENT_CACHE_SIZE:
            evicted.append(_clients.popitem(last=False)[1])
    for old in evicted:
        old.close()
    return client


def close_clients() -> None:
    """Close every cached client (worker shutdown, tests)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def cached_client_count() -> int:
    with _clients_lock:
        return len(_clients)


def _forget_after_fork() -> None:
    global _clients_lock, _clients
    # The parent's sockets and lock state are not ours: start empty, leave the parent's alone.
    _clients_lock = threading.Lock()
    _clients = OrderedDict()


os.register_at_fork(after_in_child=_forget_after_fork)


# --- Deadline and requests ------------------------------------------------------------------------
class Deadline:
    """The TOTAL_TIMEOUT budget of one send(), shared by all its requests."""

    def __init__(self, total: float | None = None) -> None:
        self.expires = time.monotonic() + (config.TOTAL_TIMEOUT if total is None else total)

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def timeout(self) -> httpx.Timeout:
        left = max(self.remaining(), 0.001)
        return httpx.Timeout(left, connect=min(config.CONNECT_TIMEOUT, left))


def post(
    client: Client,
    url: str,
    *,
    deadline: Deadline,
    headers: dict[str, str],
    content: bytes | None = None,
    form: dict[str, str] | None = None,
) -> httpx.Response | ProviderResult:
    """POST and read the whole response, or the RETRY result for a timeout/network error."""
    if deadline.remaining() <= 0:
        return ProviderResult(RETRY, 0, "Timeout: no time left for the request")
    try:
        return client.post(url, headers=headers, content=content, data=form, timeout=deadline.timeout())
    except httpx.TimeoutException as exc:
        return ProviderResult(RETRY, 0, f"Timeout: {type(exc).__name__}")
    except (httpx.TransportError, httpx.DecodingError) as exc:
        return ProviderResult(RETRY, 0, f"NetworkError: {type(exc).__name__}: {exc}"[:200])


# --- Reading responses ----------------------------------------------------------------------------
def body_text(response: httpx.Response) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        text = response.content.decode("utf-8", "replace")
    return text[: config.RESPONSE_BODY_LIMIT]


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object, or {} when it is empty or not an object."""
    try:
        value = json.loads(response.content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta: float = (when - datetime.fromtimestamp(CLOCK.now(), UTC)).total_seconds()
    return max(0.0, delta)


def result(outcome: str, response: httpx.Response, detail: str = "") -> ProviderResult:
    return ProviderResult(
        outcome,
        response.status_code,
        detail,
        retry_after=retry_after(response),
        response=body_text(response),
    )


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
