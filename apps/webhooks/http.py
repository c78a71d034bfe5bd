"""One HTTP POST to an app's server, bounded in time and in what it reads back.

Redirects are not followed (a 3xx is a failure) and proxies from the environment are ignored.
Unless ``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` is on, the address is checked when the connection is made
(after DNS resolution, so a name that resolves to a private address is refused as well).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from apps.webhooks import conf

# Bytes of the answer read at most (the log keeps fewer characters).
READ_MAX = 64 * 1024


@dataclass(frozen=True)
class PostResult:
    status: int | None  # None: no HTTP answer (refused, timed out, blocked ...)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    error: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class BlockedAddress(OSError):
    pass


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def _guarded_create_connection(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """``socket.create_connection`` that only connects to public addresses."""
    host, port = address
    last_error: OSError = BlockedAddress(f"{host} resolves to no public address")
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if not _allowed(str(sockaddr[0])):
            continue
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock
    raise last_error


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the URL must be http:// or https:// with a host")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    if not conf.flag("WEBHOOK_ALLOW_PRIVATE_NETWORKS"):
        connection._create_connection = _guarded_create_connection  # type: ignore[attr-defined]
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return connection, target


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, BlockedAddress):
        return f"address not allowed: {exc}"
    return f"{type(exc).__name__}: {exc}"[:300]


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> PostResult:
    """POST ``body``; never raises for network trouble, which comes back as ``error``."""
    started = time.monotonic()
    deadline = started + timeout

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        connection, target = _connection(url, timeout)
    except ValueError as exc:
        return PostResult(status=None, error=str(exc))
    try:
        connection.request("POST", target, body=body, headers=headers)
        # The remaining budget, not a fresh one, for the answer.
        if connection.sock is not None:
            connection.sock.settimeout(max(0.001, deadline - time.monotonic()))
        response = connection.getresponse()
        if connection.sock is not None:
            connection.sock.settimeout(max(0.001, deadline - time.monotonic()))
        answer = response.read(READ_MAX)
        response_headers = {name.lower(): value for name, value in response.getheaders()}
        return PostResult(
            status=response.status, body=answer, headers=response_headers, duration_ms=elapsed_ms()
        )
    except Exception as exc:  # network trouble of any kind, and URLs http.client cannot use
        return PostResult(status=None, error=_describe(exc), duration_ms=elapsed_ms())
    finally:
        connection.close()
