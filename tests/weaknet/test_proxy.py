"""The fault proxy against a plain asyncio echo server: every fault does what it says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.live.stack import ROOT
from tests.weaknet.proxy import FaultProxy

# Every wait in this file is bounded; a broken proxy fails a test instead of hanging it.
WAIT = 5.0


class EchoServer:
    """Echoes every byte back; remembers what each connection received and how it ended."""

    def __init__(self) -> None:
        self.received: list[bytearray] = []
        self.endings: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> EchoServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = bytearray()
        self.received.append(got)
        try:
            while data := await reader.read(65536):
                got += data
                writer.write(data)
                await writer.drain()
            self.endings.append("eof")
        except ConnectionResetError:
            self.endings.append("reset")
        finally:
            writer.transport.abort()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = await EchoServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(upstream=("127.0.0.1", echo.port)) as proxy:
        yield proxy


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(proxy.host, proxy.port), WAIT)


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> float:
    started = time.monotonic()
    writer.write(data)
    assert await asyncio.wait_for(reader.readexactly(len(data)), WAIT) == data
    return time.monotonic() - started


async def nothing_arrives(reader: asyncio.StreamReader, seconds: float) -> None:
    """No byte and no close for ``seconds``."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), seconds)


def test_only_loopback_upstreams_and_listeners_are_accepted() -> None:
    for host in ("10.0.0.1", "192.168.1.1", "8.8.8.8", "example.com", "0.0.0.0"):  # noqa: S104
        with pytest.raises(ValueError, match="loopback"):
            FaultProxy(upstream=(host, 80))
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(upstream=("127.0.0.1", 80), host="0.0.0.0")  # noqa: S104
    assert FaultProxy(upstream=("localhost", 80)).upstream == ("127.0.0.1", 80)
    assert FaultProxy(upstream=("::1", 80)).upstream == ("::1", 80)


async def test_bytes_pass_unchanged_and_are_counted(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    payload = bytes(range(256)) * 1000
    await round_trip(reader, writer, payload)
    writer.close()
    stats = proxy.stats
    assert (stats["accepted"], stats["bytes_up"], stats["bytes_down"]) == (1, len(payload), len(payload))
    assert proxy.url() == f"ws://127.0.0.1:{proxy.port}/ws"
    # The port is picked below the ephemeral range (see _bind_listener).
    assert 10000 <= proxy.port < 32768


async def test_latency_delays_each_direction_by_at_least_the_setting(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    direct = await round_trip(reader, writer, b"warm-up")
    proxy.latency = 0.3
    delayed = [await round_trip(reader, writer, f"ping {n}".encode()) for n in range(3)]
    writer.close()
    assert direct < 0.3
    assert min(delayed) >= 0.6  # one latency out, one back


async def test_jitter_never_reorders_bytes(proxy: FaultProxy) -> None:
    proxy.latency, proxy.jitter = 0.005, 0.05
    reader, writer = await connect(proxy)
    lines = [f"line {n:04d}\n".encode() for n in range(300)]
    for line in lines:
        writer.write(line)
        await writer.drain()
        await asyncio.sleep(0.001)  # separate chunks, each with its own random delay
    got = await asyncio.wait_for(reader.readexactly(sum(map(len, lines))), WAIT * 2)
    writer.close()
    assert got == b"".join(lines)


async def test_blackhole_forwards_nothing_and_closes_nothing(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    await round_trip(reader, writer, b"before")
    proxy.blackhole(True)
    writer.write(b"into the void")
    await nothing_arrives(reader, 1.0)
    new_reader, new_writer = await connect(proxy)  # new connections are still accepted
    new_writer.write(b"also lost")
    await nothing_arrives(new_reader, 0.5)
    assert bytes(echo.received[0]) == b"before"
    assert all(bytes(got) == b"" for got in echo.received[1:])
    assert proxy.stats["blackholed"] == len(b"into the void") + len(b"also lost")
    proxy.blackhole(False)
    fresh_reader, fresh_writer = await connect(proxy)
    await round_trip(fresh_reader, fresh_writer, b"after")
    for w in (writer, new_writer, fresh_writer):
        w.close()


async def test_a_client_closing_a_blackholed_connection_is_seen_but_not_forwarded(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    proxy.blackhole(True)
    _, writer = await connect(proxy)
    await wait_until(lambda: proxy.stats["active"] == 1)
    writer.close()
    await wait_until(lambda: proxy.stats["active"] == 0)
    assert proxy.stats["client_closed"] == 1
    assert echo.endings == []  # the upstream never learns: nothing crosses a blackhole


async def test_reset_all_sends_a_real_rst_both_ways(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await connect(proxy)
    await round_trip(reader, writer, b"hello")
    proxy.reset_all()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), WAIT)
    await wait_until(lambda: echo.endings == ["reset"])
    assert proxy.stats["resets"] == 1
    writer.close()


async def test_refuse_closes_the_listener_and_reopens_on_the_same_port(proxy: FaultProxy) -> None:
    port = proxy.port
    old_reader, old_writer = await connect(proxy)
    proxy.refuse(True)
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    await round_trip(old_reader, old_writer, b"open ones keep working")
    proxy.refuse(False)
    assert proxy.port == port
    reader, writer = await connect(proxy)
    await round_trip(reader, writer, b"back")
    for w in (writer, old_writer):
        w.close()


async def test_down_resets_open_connections_and_refuses_new_ones_until_up(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    await round_trip(reader, writer, b"x")
    proxy.down()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), WAIT)
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    proxy.up()
    reader, writer = await connect(proxy)
    await round_trip(reader, writer, b"y")
    writer.close()


async def test_nat_idle_timeout_kills_an_idle_connection_silently_but_not_a_busy_one(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    proxy.nat_idle_timeout = 1.0
    idle_reader, idle_writer = await connect(proxy)
    busy_reader, busy_writer = await connect(proxy)
    quiet_reader, quiet_writer = await connect(proxy)
    await round_trip(idle_reader, idle_writer, b"hi")
    await round_trip(quiet_reader, quiet_writer, b"bye")

    async def keep_busy() -> None:
        for n in range(18):  # 3.6 s of traffic, a chunk every 0.2 s: this mapping never times out
            await round_trip(busy_reader, busy_writer, f"busy {n}".encode())
            await asyncio.sleep(0.2)

    busy = asyncio.create_task(keep_busy())
    await asyncio.sleep(2.0)
    idle_writer.write(b"anyone?")  # idle for 2 s: the mapping is gone
    await nothing_arrives(idle_reader, 1.0)
    await asyncio.wait_for(busy, WAIT)
    assert bytes(echo.received[0]) == b"hi"
    assert bytes(echo.received[1]) == b"".join(f"busy {n}".encode() for n in range(18))
    stats = proxy.stats
    assert (stats["nat_kills"], stats["nat_dropped"], stats["active"]) == (1, len(b"anyone?"), 3)
    assert echo.endings == []  # nothing was closed on either side
    # A close dies with the mapping too, whether bytes or the close itself found it gone: the
    # upstream keeps its half, as behind a real NAT.
    idle_writer.close()
    quiet_writer.close()
    await wait_until(lambda: proxy.stats["active"] == 1)
    await asyncio.sleep(0.5)
    assert echo.endings == []
    assert proxy.stats["nat_kills"] == 2
    busy_writer.close()
    await wait_until(lambda: echo.endings == ["eof"])
    assert proxy.stats["client_closed"] == 3


async def test_stall_holds_bytes_then_delivers_them(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    await round_trip(reader, writer, b"warm")
    started = time.monotonic()
    proxy.stall(1.0)
    writer.write(b"held 1 ")
    writer.write(b"held 2")
    await nothing_arrives(reader, 0.5)
    got = await asyncio.wait_for(reader.readexactly(len(b"held 1 held 2")), WAIT)
    assert got == b"held 1 held 2"
    assert time.monotonic() - started >= 1.0
    # A connection opened after the stall began is not stalled.
    new_reader, new_writer = await connect(proxy)
    assert await round_trip(new_reader, new_writer, b"fresh") < 1.0
    for w in (writer, new_writer):
        w.close()


async def test_flap_alternates_up_and_down_until_stopped(proxy: FaultProxy) -> None:
    proxy.flap(up=0.6, down=0.4)
    outcomes: list[str] = []
    deadline = time.monotonic() + 3.2
    while time.monotonic() < deadline:
        try:
            _, writer = await connect(proxy)
        except (ConnectionRefusedError, ConnectionResetError):
            # Going down closes the listener: a connect racing it is refused, or reset when the
            # kernel had already queued it.
            outcome = "down"
        else:
            outcome = "up"
            writer.close()
        if not outcomes or outcomes[-1] != outcome:
            outcomes.append(outcome)
        await asyncio.sleep(0.05)
    proxy.stop_flapping()
    reader, writer = await connect(proxy)  # stopping leaves the link up
    await round_trip(reader, writer, b"steady")
    writer.close()
    # 3.2 s of 0.6 up / 0.4 down: at least three downs, each followed by an up.
    assert outcomes[:6] == ["up", "down", "up", "down", "up", "down"]
    assert proxy.stats["downs"] >= 3


async def test_stop_ends_every_connection_and_task(echo: EchoServer) -> None:
    before = set(asyncio.all_tasks())
    async with FaultProxy(upstream=("127.0.0.1", echo.port)) as proxy:
        proxy.flap(up=10, down=1)
        reader, _ = await connect(proxy)
        port = proxy.port
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), WAIT)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    await asyncio.sleep(0)
    assert set(asyncio.all_tasks()) - before == set()


async def test_an_upstream_that_is_not_there_resets_the_client() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with FaultProxy(upstream=("127.0.0.1", port)) as proxy:
        reader, writer = await connect(proxy)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), WAIT)
        writer.close()


class _SyncEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.request.recv(65536):
                self.request.sendall(data)


@pytest.fixture
def sync_echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SyncEcho)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_thread_backed_proxy_for_synchronous_code(sync_echo: int) -> None:
    with FaultProxy.start_in_thread(("127.0.0.1", sync_echo)) as proxy:
        with socket.create_connection((proxy.host, proxy.port), timeout=WAIT) as sock:
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
            proxy.latency = 0.2
            started = time.monotonic()
            sock.sendall(b"slow")
            assert sock.recv(4) == b"slow"
            assert time.monotonic() - started >= 0.4
            proxy.down()
            with pytest.raises(ConnectionResetError):
                sock.recv(1)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((proxy.host, proxy.port), timeout=WAIT)
        proxy.up()
        with socket.create_connection((proxy.host, proxy.port), timeout=WAIT) as sock:
            sock.sendall(b"again")
            assert sock.recv(5) == b"again"
        assert proxy.stats["accepted"] == 2
        port = proxy.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=WAIT)


async def test_command_line_proxies_until_sigterm(echo: EchoServer) -> None:
    with socket.socket() as sock:  # a free port below the ephemeral range would do; any free one is fine
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.weaknet.proxy",
        "--listen",
        str(port),
        "--upstream",
        f"127.0.0.1:{echo.port}",
        "--latency",
        "0.1",
        "--max-seconds",
        "60",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line.decode().startswith(f"fault proxy listening on 127.0.0.1:{port}")
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
        assert await round_trip(reader, writer, b"via the cli") >= 0.2
        writer.close()
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 10)
        assert process.returncode == 0, err
        assert b'"accepted": 1' in out
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_command_line_flaps_and_stops_by_itself(echo: EchoServer) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.weaknet.proxy",
        "--listen",
        "0",
        "--upstream",
        f"127.0.0.1:{echo.port}",
        "--flap",
        "0.4:0.3",
        "--nat-idle",
        "5",
        "--max-seconds",
        "2.5",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err
    stats = json.loads(out.decode().splitlines()[-1])["stats"]
    assert stats["downs"] >= 3
    assert stats["ups"] >= 3


async def test_command_line_refuses_a_remote_upstream() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.weaknet.proxy",
        "--listen",
        "0",
        "--upstream",
        "10.1.2.3:80",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert b"loopback" in err


async def wait_until(condition: object, timeout: float = WAIT) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
