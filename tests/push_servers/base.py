"""The harness of the local push-service doubles: an ASGI app served by hypercorn in a thread.

Each provider's server subclasses `PushServer`, implements ``handle(request) -> Response`` with
that provider's documented validation and answers, and records what it received. hypercorn
speaks HTTP/1.1 and HTTP/2 on one plain-TCP port (h2c with prior knowledge, as the APNs client
uses it locally). ``scope["client"]`` is the peer's (host, port), so the set of them seen is the
set of TCP connections the client opened.

``start_h2c()`` serves the same double through a lean HTTP/2-only front end instead
(tests/push_servers/h2c.py: asyncio + h2, no ASGI), for the benchmark of the APNs client; both fronts
hand each request to ``respond``, which records it and asks ``handle``.

In pytest: ``server = ApnsServer().start()`` (or ``.start_h2c()``) ... ``server.stop()``.
For a benchmark: ``python -m tests.push_servers.apns --port 9001`` prints one JSON line (its URL and
the credentials/subscriptions it accepts) and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from hypercorn.asyncio import serve
from hypercorn.config import Config

logger = logging.getLogger("tests.push_servers")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    raw_headers: tuple[tuple[str, str], ...]
    body: bytes
    client: tuple[str, int]
    http_version: str  # "1.1" or "2"

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode(), keep_blank_values=True, strict_parsing=False)
        return {key: values[-1] for key, values in parsed.items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering (timeout tests)

    @classmethod
    def json(cls, status: int, value: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(
            status,
            json.dumps(value, ensure_ascii=False).encode(),
            [("content-type", "application/json; charset=utf-8"), *(headers or [])],
        )


@dataclass
class Scripted:
    """An answer the test asked for, for one token (or subscription id)."""

    status: int
    error: str = ""  # the provider's reason / error code
    retry_after: str | None = None
    times: int | None = None  # None: every time
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class PushServer:
    name = "push"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock_offset = 0.0
        self.host = "127.0.0.1"
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.cli_info: dict[str, Any] = {}  # what the CLI prints besides the URL
        self.reset()

    # --- state the tests read and steer -----------------------------------------------------------
    def reset(self) -> None:
        """Forget what was received and scripted (not the registered keys/apps/subscriptions)."""
        with self.lock:
            self.requests: list[Request] = []
            self.connections: set[tuple[str, int]] = set()
            self.errors: list[str] = []
            self.scripts: dict[str, list[Scripted]] = {}
            self.delays: dict[str, float] = {}
            self.clock_offset = 0.0

    def now(self) -> float:
        return time.time() + self.clock_offset

    def script(self, key: str, scripted: Scripted) -> None:
        with self.lock:
            self.scripts.setdefault(key, []).append(scripted)

    def take_script(self, key: str) -> Scripted | None:
        with self.lock:
            queue = self.scripts.get(key)
            if not queue:
                return None
            scripted = queue[0]
            if scripted.times is not None:
                scripted.times -= 1
                if scripted.times <= 0:
                    queue.pop(0)
            return scripted

    def delay(self, key: str, seconds: float) -> None:
        """Answer requests for ``key`` only after ``seconds`` (to exercise client timeouts)."""
        with self.lock:
            self.delays[key] = seconds

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connection_count(self) -> int:
        with self.lock:
            return len(self.connections)

    def describe(self) -> dict[str, Any]:
        """What a benchmark needs to use this server (printed by the CLI)."""
        return {"url": self.url, **self.cli_info}

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def respond(self, request: Request) -> Response:
        """Record ``request`` and answer it with ``handle`` (both fronts, ASGI and h2c, call this).

        A bug in ``handle`` is recorded in ``errors`` (the tests assert it stays empty) and answered
        500. The caller honours ``response.delay``.
        """
        with self.lock:
            self.connections.add(request.client)
            self.requests.append(request)
            try:
                return self.handle(request)
            except Exception:
                self.errors.append(traceback.format_exc())
                return Response(500, b"test server bug")

    # --- ASGI -------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw_headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"])
        client = scope.get("client") or ("", 0)
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=dict(raw_headers),
            raw_headers=raw_headers,
            body=body,
            client=(str(client[0]), int(client[1])),
            http_version=scope.get("http_version", ""),
        )
        response = self.respond(request)
        if response.delay:
            await asyncio.sleep(response.delay)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    def delay_for(self, key: str) -> float:
        with self.lock:
            return self.delays.get(key, 0.0)

    # --- running ----------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> PushServer:
        """Serve with hypercorn (HTTP/1.1 and h2c) in a daemon thread."""
        sock = self._listen(host, port)
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]  # hypercorn takes the bound socket over
        config.accesslog = None
        config.errorlog = logger
        config.graceful_timeout = 0.5
        config.keep_alive_timeout = 300
        config.h2_max_concurrent_streams = 1000
        self._run(lambda stop: serve(self, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
        return self

    def start_h2c(self, host: str = "127.0.0.1", port: int = 0) -> PushServer:
        """Serve HTTP/2 with prior knowledge only, through tests/push_servers/h2c.py, in a daemon thread.

        Far cheaper per request than hypercorn; what the APNs client speaks to an http:// URL.
        """
        from tests.push_servers.h2c import serve_h2c

        sock = self._listen(host, port)
        self._run(lambda stop: serve_h2c(self, sock, stop))
        return self

    def _listen(self, host: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        self.host, self.port = host, sock.getsockname()[1]
        return sock

    def _run(self, serve_until: Callable[[asyncio.Event], Awaitable[Any]]) -> None:
        """Run ``serve_until(stop_event)`` on an event loop in a daemon thread; ``stop()`` sets the event."""
        started = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            started.set()
            await serve_until(self._stop_event)

        self._thread = threading.Thread(
            target=asyncio.run, args=(main(),), name=f"{self.name}-server", daemon=True
        )
        self._thread.start()
        started.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None


def run_cli(
    server: PushServer,
    argv: list[str] | None = None,
    setup: Callable[[argparse.Namespace], None] | None = None,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """``python -m tests.push_servers.<name> --port N``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog=f"python -m tests.push_servers.{server.name}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    if arguments is not None:
        arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    server.start(args.host, args.port)
    if setup is not None:
        setup(args)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps(server.describe()), flush=True)  # noqa: T201
    stop.wait()
    server.stop()
