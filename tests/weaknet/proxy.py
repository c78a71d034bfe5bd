"""A TCP fault proxy on loopback for weak-network tests.

``FaultProxy`` listens on 127.0.0.1 and forwards every accepted connection to one loopback
upstream, injecting the faults a phone meets on a bad network: one-way latency with jitter (byte
order kept), a blackhole, a stall that later delivers what it held, resets (a real RST), refused
connections, a flapping link and a NAT that silently forgets idle mappings. See README.md.

It only ever connects to loopback addresses, and everything it starts (listener, per-connection
tasks, the flapping task, the thread of the thread-backed variant) ends when it is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import json
import random
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 65536
QUEUE_CHUNKS = 256  # per direction: a stalled or slow side pushes back on its source like TCP would
_RESET = b"\x00reset"  # queue marker (compared by identity): the source side was reset
_EOF = b"\x00eof"  # queue marker (compared by identity): the source side closed


def loopback(host: str) -> str:
    """``host`` as a loopback IP address; anything else is refused (the proxy never leaves the box)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ValueError(f"{host!r}: the fault proxy only connects to loopback IP addresses") from exc
    if not address.is_loopback:
        raise ValueError(f"{host!r}: the fault proxy only connects to loopback IP addresses")
    return str(address)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bind_listener(host: str, port: int) -> socket.socket:
    """A listening socket. A port picked here lies below the ephemeral range: while the proxy is
    down, a client's own outgoing connection could otherwise be given the proxy's port as its source
    port and connect to itself (TCP simultaneous open), and the port could not be listened on again."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = [port] if port else random.sample(range(10000, min(_ephemeral_range()[0], 32768)), 50)
    last: OSError | None = None
    for candidate in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.listen(128)
        sock.setblocking(False)
        return sock
    assert last is not None
    raise last


def _set_rst(writer: asyncio.StreamWriter | None) -> None:
    """Make the next close of this connection send RST instead of FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Link:
    """One proxied connection: client side, upstream side, and a pump per direction."""

    def __init__(self, proxy: FaultProxy, number: int) -> None:
        self.proxy, self.number = proxy, number
        self.client: asyncio.StreamWriter | None = None
        self.upstream: asyncio.StreamWriter | None = None
        self.client_open = True
        self.upstream_open = False
        self.last_activity = time.monotonic()
        self.nat_dead = False
        self.stall_until = 0.0
        self.task: asyncio.Task[None] | None = None

    @property
    def dead(self) -> bool:
        return self.proxy.blackholed or self.nat_dead

    def admit(self, size: int, now: float) -> bool:
        """Whether bytes (or a close, size 0) arriving now may pass; counts what is dropped."""
        proxy = self.proxy
        if proxy.blackholed:
            proxy._stats["blackholed"] += size
            return False
        timeout = proxy.nat_idle_timeout
        if not self.nat_dead and timeout is not None and now - self.last_activity > timeout:
            self.nat_dead = True
            proxy._stats["nat_kills"] += 1
        if self.nat_dead:
            proxy._stats["nat_dropped"] += size
            return False
        self.last_activity = now
        return True

    def kill(self, rst: bool) -> None:
        """Tear the connection down at once, both sides (with RST when ``rst``)."""
        for writer in (self.client, self.upstream):
            if writer is not None:
                if rst:
                    _set_rst(writer)
                writer.transport.abort()
        self.client_open = self.upstream_open = False
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    def close_side(self, upstream: bool) -> None:
        writer = self.upstream if upstream else self.client
        if writer is not None:
            writer.transport.close()
        if upstream:
            self.upstream_open = False
        else:
            self.client_open = False

    async def pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream_bound: bool
    ) -> None:
        """Forward one direction: read chunks, stamp each with its delivery time, write in order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)

        async def read() -> None:
            last_due = 0.0
            while True:
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    data = _RESET
                now = time.monotonic()
                proxy = self.proxy
                delay = proxy.latency + (random.uniform(0.0, proxy.jitter) if proxy.jitter > 0 else 0.0)
                # Later chunks never overtake earlier ones: jitter stretches the gaps, it never reorders.
                last_due = max(now + delay, last_due)
                if not data or data is _RESET:
                    self.admit(0, now)  # a close after too long a silence meets a dead mapping too
                    await queue.put((last_due, data or _EOF))
                    return
                if self.admit(len(data), now):
                    await queue.put((last_due, data))

        reading = asyncio.create_task(read())
        try:
            await self._write(queue, writer, upstream_bound=upstream_bound)
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    async def _write(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter, *, upstream_bound: bool
    ) -> None:
        stat = "bytes_up" if upstream_bound else "bytes_down"
        while True:
            due, data = await queue.get()
            while (wait := max(due, self.stall_until) - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            if data is _EOF or data is _RESET:
                if upstream_bound:
                    self.proxy._stats["client_closed"] += 1
                if self.dead or not (self.upstream_open if upstream_bound else self.client_open):
                    # Nothing crosses a dead link, not even a close: only the closing side is let go.
                    self.close_side(upstream=not upstream_bound)
                elif data is _RESET:
                    self.kill(rst=True)
                else:
                    with contextlib.suppress(OSError):
                        writer.write_eof()  # half-close, as TCP would: the other direction still flows
                return
            if self.dead:
                self.proxy._stats["blackholed" if self.proxy.blackholed else "nat_dropped"] += len(data)
                continue
            if not (self.upstream_open if upstream_bound else self.client_open):
                continue
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                self.kill(rst=True)
                return
            self.proxy._stats[stat] += len(data)


class FaultProxy:
    """A loopback TCP proxy with switchable faults; an async context manager.

    ``latency`` / ``jitter``: seconds added to every chunk in each direction (latency + uniform(0,
    jitter); the setting is a floor, and order is kept). ``nat_idle_timeout``: a connection with no
    bytes either way for that long is silently dead from then on (``None`` = off).
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        jitter: float = 0.0,
        nat_idle_timeout: float | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.upstream = (loopback(upstream[0]), int(upstream[1]))
        self.host = loopback(host)
        self.port = port
        self.latency, self.jitter = latency, jitter
        self.nat_idle_timeout = nat_idle_timeout
        self.connect_timeout = connect_timeout
        self.blackholed = False
        self.refusing = False
        self._links: set[_Link] = set()
        self._listener: socket.socket | None = None
        self._accept_task: asyncio.Task[None] | None = None
        self._flap_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._numbers = 0
        self._started = False
        self._stats: dict[str, int] = dict.fromkeys(
            (
                "accepted",
                "resets",
                "bytes_up",
                "bytes_down",
                "nat_dropped",
                "nat_kills",
                "blackholed",
                "client_closed",
                "downs",
                "ups",
            ),
            0,
        )

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        self._loop = asyncio.get_running_loop()
        self._started = True
        self._open_listener()
        return self

    async def stop(self) -> None:
        """Stop flapping, close the listener, reset every connection and wait for their tasks."""
        if not self._started:
            return
        self._started = False
        if self._flap_task is not None:
            self._flap_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flap_task
            self._flap_task = None
        accepting = self._close_listener()
        if accepting is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await accepting
        tasks = [link.task for link in self._links if link.task is not None]
        for link in list(self._links):
            link.kill(rst=True)
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @classmethod
    def start_in_thread(cls, upstream: tuple[str, int], **options: Any) -> ThreadedFaultProxy:
        """The same proxy on its own event loop in a daemon thread, for synchronous code."""
        return ThreadedFaultProxy(upstream, **options)

    # --- controls ------------------------------------------------------------------------------------

    def url(self, template: str = "ws://{host}:{port}/ws") -> str:
        return template.format(host=self.host, port=self.port)

    def blackhole(self, on: bool = True) -> None:
        """Accept connections but forward nothing either way, not even a close; existing ones too."""
        self.blackholed = on

    def stall(self, seconds: float) -> None:
        """Existing connections forward nothing for ``seconds``, then deliver what they held."""
        until = time.monotonic() + seconds
        for link in self._links:
            link.stall_until = max(link.stall_until, until)

    def reset_all(self) -> None:
        """RST every open connection, on both sides."""
        for link in list(self._links):
            if link.client_open or link.upstream_open:
                self._stats["resets"] += 1
            link.kill(rst=True)

    def refuse(self, on: bool = True) -> None:
        """Close the listener (new connections are refused) or listen again on the same port."""
        self.refusing = on
        if on:
            self._close_listener()
        elif self._started and self._listener is None:
            self._open_listener()

    def down(self) -> None:
        self._stats["downs"] += 1
        self.reset_all()
        self.refuse(True)

    def up(self) -> None:
        self._stats["ups"] += 1
        self.refuse(False)

    def flap(self, up: float, down: float) -> None:
        """Alternate up (``up`` seconds) and down (``down`` seconds) until ``stop_flapping()``."""
        self.stop_flapping()
        assert self._loop is not None, "start the proxy first"
        self._flap_task = self._loop.create_task(self._flapping(up, down))

    def stop_flapping(self) -> None:
        """Stop alternating and leave the link up."""
        if self._flap_task is not None:
            self._flap_task.cancel()
            self._flap_task = None
            if self.refusing:
                self.up()

    @property
    def stats(self) -> dict[str, int]:
        """accepted, active (connections whose client side is open), resets, bytes_up, bytes_down,
        nat_dropped, nat_kills, blackholed (bytes), client_closed, downs, ups."""
        stats = dict(self._stats)
        stats["active"] = sum(1 for link in self._links if link.client_open)
        return stats

    # --- internals -----------------------------------------------------------------------------------

    async def _flapping(self, up: float, down: float) -> None:
        while True:
            await asyncio.sleep(up)
            self.down()
            await asyncio.sleep(down)
            self.up()

    def _open_listener(self) -> None:
        assert self._loop is not None
        for _ in range(20):
            try:
                sock = _bind_listener(self.host, self.port)
                break
            except OSError as exc:
                # Our own port, briefly held by a socket still closing; anything else is a real error.
                if exc.errno != errno.EADDRINUSE or not self.port:
                    raise
                time.sleep(0.05)
        else:
            sock = _bind_listener(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._accept_task = self._loop.create_task(self._accept(sock))

    def _close_listener(self) -> asyncio.Task[None] | None:
        sock, self._listener = self._listener, None
        if sock is not None and self._loop is not None:
            # Unregister before closing so the descriptor number cannot be confused with a new socket.
            self._loop.remove_reader(sock.fileno())
            sock.close()  # the kernel resets handshakes still waiting in the backlog
        task, self._accept_task = self._accept_task, None
        if task is not None:
            task.cancel()
        return task

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError:
                return  # the listener was closed under us
            self._numbers += 1
            link = _Link(self, self._numbers)
            self._links.add(link)
            self._stats["accepted"] += 1
            link.task = loop.create_task(self._serve(link, conn))

    async def _serve(self, link: _Link, conn: socket.socket) -> None:
        try:
            client_reader, client_writer = await asyncio.open_connection(sock=conn)
            link.client = client_writer
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream), self.connect_timeout
                )
            except (OSError, TimeoutError):
                link.kill(rst=True)  # like the upstream: nobody there
                return
            link.upstream, link.upstream_open = up_writer, True
            link.last_activity = time.monotonic()
            await asyncio.gather(
                link.pump(client_reader, up_writer, upstream_bound=True),
                link.pump(up_reader, client_writer, upstream_bound=False),
            )
        finally:
            self._links.discard(link)
            for writer in (link.client, link.upstream):
                if writer is not None and not writer.transport.is_closing():
                    writer.transport.close()  # both directions are done: flush what is left, then FIN
            if link.client is None:
                conn.close()
            link.client_open = link.upstream_open = False


class ThreadedFaultProxy:
    """``FaultProxy`` on an event loop of its own in a daemon thread; the controls are the same
    (each call runs on the proxy's loop and returns once done). A context manager."""

    def __init__(self, upstream: tuple[str, int], **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._proxy = FaultProxy(upstream, **options)  # validates the addresses here, in the caller
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("the fault proxy thread did not start")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._stopping = asyncio.Event()
            self._loop.run_until_complete(self._proxy.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_until_complete(self._stopping.wait())
            self._loop.run_until_complete(self._proxy.stop())
        finally:
            self._loop.close()

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._thread.is_alive() and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)

    def __enter__(self) -> ThreadedFaultProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._proxy.host

    @property
    def port(self) -> int:
        return self._proxy.port

    def url(self, template: str = "ws://{host}:{port}/ws") -> str:
        return self._proxy.url(template)

    @property
    def latency(self) -> float:
        return self._proxy.latency

    @latency.setter
    def latency(self, value: float) -> None:
        self._call(lambda: setattr(self._proxy, "latency", value))

    @property
    def jitter(self) -> float:
        return self._proxy.jitter

    @jitter.setter
    def jitter(self, value: float) -> None:
        self._call(lambda: setattr(self._proxy, "jitter", value))

    @property
    def nat_idle_timeout(self) -> float | None:
        return self._proxy.nat_idle_timeout

    @nat_idle_timeout.setter
    def nat_idle_timeout(self, value: float | None) -> None:
        self._call(lambda: setattr(self._proxy, "nat_idle_timeout", value))

    def blackhole(self, on: bool = True) -> None:
        self._call(lambda: self._proxy.blackhole(on))

    def stall(self, seconds: float) -> None:
        self._call(lambda: self._proxy.stall(seconds))

    def reset_all(self) -> None:
        self._call(self._proxy.reset_all)

    def refuse(self, on: bool = True) -> None:
        self._call(lambda: self._proxy.refuse(on))

    def down(self) -> None:
        self._call(self._proxy.down)

    def up(self) -> None:
        self._call(self._proxy.up)

    def flap(self, up: float, down: float) -> None:
        self._call(lambda: self._proxy.flap(up, down))

    def stop_flapping(self) -> None:
        self._call(self._proxy.stop_flapping)

    @property
    def stats(self) -> dict[str, int]:
        return self._call(lambda: self._proxy.stats)


# --- command line ----------------------------------------------------------------------------------


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return (host or "127.0.0.1").strip("[]"), int(port)


def _up_down(value: str) -> tuple[float, float]:
    up, _, down = value.partition(":")
    return float(up), float(down)


async def _main(args: argparse.Namespace) -> int:
    proxy = FaultProxy(
        args.upstream,
        port=args.listen,
        latency=args.latency,
        jitter=args.jitter,
        nat_idle_timeout=args.nat_idle,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with proxy:
        if args.flap:
            proxy.flap(*args.flap)
        host, port = proxy.upstream
        sys.stdout.write(f"fault proxy listening on {proxy.host}:{proxy.port} -> {host}:{port}\n")
        sys.stdout.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.max_seconds)
    sys.stdout.write(json.dumps({"stats": proxy.stats}) + "\n")
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.weaknet.proxy", description="Loopback TCP fault proxy (until SIGTERM/SIGINT)."
    )
    parser.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1 (0: pick one)")
    parser.add_argument("--upstream", type=_host_port, required=True, help="HOST:PORT, loopback only")
    parser.add_argument("--latency", type=float, default=0.0, help="one-way delay per chunk, seconds")
    parser.add_argument("--jitter", type=float, default=0.0, help="extra random delay 0..S, order kept")
    parser.add_argument("--flap", type=_up_down, default=None, metavar="UP:DOWN", help="alternate up/down")
    parser.add_argument("--nat-idle", type=float, default=None, help="silently kill idle connections, s")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop by itself after S seconds")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except ValueError as exc:
        parser.error(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
