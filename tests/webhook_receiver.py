"""A customer's webhook endpoint for tests: an HTTP server on 127.0.0.1 in a thread.

It checks both signatures the way docs/webhooks.md tells customers to (written out here with
hashlib and hmac, not with apps.webhooks.signing, so the two cannot share a mistake), records what
it accepted, dedupes by event id, and can be told to misbehave for a while:

    receiver.fail(500)                  # answer 500 until recover()
    receiver.fail(503, retry_after="2") # ... with a Retry-After header
    receiver.fail(500, times=2)         # only the next two requests
    receiver.hang(2.0)                  # answer nothing for 2 s (the sender times out)
    receiver.slow(0.5)                  # answer normally, after 0.5 s
    receiver.go_down()                  # stop listening: connection refused
    receiver.recover()                  # back to normal (listening again on the same port)

As the before-delivery callback it answers ``respond_with(...)``'s JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SignatureMismatch(Exception):
    pass


def verify_both(*, secret: str, body: bytes, headers: dict[str, str], tolerance: int = 300) -> None:
    """What a customer's server does (the docs' example): raises SignatureMismatch."""
    md5 = hashlib.md5(body).hexdigest()
    if not hmac.compare_digest(md5, headers.get("md5", "").lower()):
        raise SignatureMismatch("MD5")
    cur_time = headers.get("curtime", "")
    checksum = hashlib.sha1((secret + md5 + cur_time).encode()).hexdigest()
    if not hmac.compare_digest(checksum, headers.get("checksum", "").lower()):
        raise SignatureMismatch("CheckSum")
    parts = dict(p.split("=", 1) for p in headers.get("x-imcloud-signature", "").split(",") if "=" in p)
    stamp = parts.get("t", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance:
        raise SignatureMismatch("signature timestamp")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise SignatureMismatch("X-Imcloud-Signature")


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what we answered (0: nothing, we hung up)
    verified: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Misbehaviour:
    status: int = 0  # 0: answer normally
    retry_after: str = ""
    hang: float = 0.0
    delay: float = 0.0
    times: int | None = None  # None: until recover()


@dataclass
class WebhookReceiver:
    secret: str
    tolerance: int = 300
    requests: list[Received] = field(default_factory=list)
    # Accepted events by id (the first copy) and how many copies of each were accepted.
    events: dict[str, Any] = field(default_factory=dict)
    copies: Counter[str] = field(default_factory=Counter)
    answer: Any = field(default_factory=lambda: {"ok": True})
    answer_status: int = 200

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._misbehaviour: _Misbehaviour | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    # --- misbehaving ---------------------------------------------------------------------------

    def fail(self, status: int = 500, *, retry_after: str = "", times: int | None = None) -> None:
        with self._cond:
            self._misbehaviour = _Misbehaviour(status=status, retry_after=retry_after, times=times)

    def hang(self, seconds: float, *, times: int | None = None) -> None:
        with self._cond:
            self._misbehaviour = _Misbehaviour(hang=seconds, times=times)

    def slow(self, seconds: float, *, times: int | None = None) -> None:
        with self._cond:
            self._misbehaviour = _Misbehaviour(delay=seconds, times=times)

    def go_down(self) -> None:
        self.stop()

    def recover(self) -> None:
        with self._cond:
            self._misbehaviour = None
        if self._server is None:
            self.start()

    def respond_with(self, answer: Any, *, status: int = 200) -> None:
        """The body (JSON, or bytes as they are) and status of a normal answer."""
        with self._cond:
            self.answer, self.answer_status = answer, status

    # --- reading what arrived --------------------------------------------------------------------

    @property
    def accepted(self) -> list[Received]:
        with self._cond:
            return [r for r in self.requests if r.verified and 200 <= r.status < 300]

    @property
    def rejected(self) -> list[Received]:
        with self._cond:
            return [r for r in self.requests if not r.verified]

    def wait_for(self, count: int, *, timeout: float = 10.0) -> bool:
        """Wait until ``count`` distinct events have been accepted."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.events) >= count, timeout=timeout)

    def wait_for_requests(self, count: int, *, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout=timeout)

    # --- the handler -----------------------------------------------------------------------------

    def _take_misbehaviour(self) -> _Misbehaviour | None:
        with self._cond:
            current = self._misbehaviour
            if current is not None and current.times is not None:
                current.times -= 1
                if current.times <= 0:
                    self._misbehaviour = None
            return current

    def _record(self, received: Received) -> None:
        with self._cond:
            self.requests.append(received)
            if received.verified and 200 <= received.status < 300:
                event_id = received.headers.get("x-imcloud-event-id", "")
                self.copies[event_id] += 1
                self.events.setdefault(event_id, received.json())
            self._cond.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    verify_both(
                        secret=receiver.secret, body=body, headers=headers, tolerance=receiver.tolerance
                    )
                except SignatureMismatch as exc:
                    receiver._record(Received(self.path, headers, body, 401, verified=False))
                    self._answer(401, json.dumps({"error": f"bad {exc}"}).encode())
                    return
                misbehaviour = receiver._take_misbehaviour()
                if misbehaviour is not None and misbehaviour.hang:
                    time.sleep(misbehaviour.hang)
                    receiver._record(Received(self.path, headers, body, 0, verified=True))
                    return  # hang up without an answer
                if misbehaviour is not None and misbehaviour.delay:
                    time.sleep(misbehaviour.delay)
                if misbehaviour is not None and misbehaviour.status:
                    extra = {"Retry-After": misbehaviour.retry_after} if misbehaviour.retry_after else {}
                    receiver._record(Received(self.path, headers, body, misbehaviour.status, verified=True))
                    self._answer(misbehaviour.status, b'{"error":"down"}', extra)
                    return
                with receiver._cond:
                    answer, status = receiver.answer, receiver.answer_status
                raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                receiver._record(Received(self.path, headers, body, status, verified=True))
                self._answer(status, raw)

        return Handler
