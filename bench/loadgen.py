"""Load-generator processes: many protocol clients on one event loop, driven over a pipe.

The client is a small asyncio Protocol that speaks RFC 6455 itself (handshake, masked client
frames, ping/pong, close) and imcloud.v1.proto frames on top. It is deliberately lighter than the
``websockets`` asyncio client: the generator shares the box's two cores with the servers under
test, and at 100,000 deliveries/s every microsecond spent receiving is taken from the server.

Every message the bench sends carries ``"<step>:<send time ns>"`` as its text; the receiver
subtracts that from its clock (one machine, one clock) to get the end-to-end latency.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import random
import signal
import time
from array import array
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from apps.protocol import imcloud_pb2 as pb

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SUBPROTOCOL = "imcloud.v1.proto"
HEADER_LIMIT = 16 * 1024


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if not n:
        return payload
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")


class WsClient(asyncio.Protocol):
    """One WebSocket connection; hands each complete binary message to its worker."""

    def __init__(self, worker: Worker, accid: str, host: str, port: int) -> None:
        self.worker, self.accid, self.host, self.port = worker, accid, host, port
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.fragments: list[bytes] | None = None
        self.open = False
        self.closed = False
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.login: asyncio.Future[pb.Frame] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.key = base64.b64encode(os.urandom(16))
        self.next_id = 1
        self.pending: dict[int, tuple[int, int]] = {}  # request id -> (step, send ns)

    # --- transport ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        request = (
            f"GET /ws HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
        )
        transport.write(request.encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for future in (self.handshake, self.login):
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
        if not self.lost.done():
            self.lost.set_result(None)
        self.worker.on_lost(self)

    def _fail(self, why: str) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.abort()

    def _check_handshake(self, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            self._fail(f"handshake refused: {lines[0]}")
            return False
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()  # noqa: S324
        if headers.get("sec-websocket-accept") != accept:
            self._fail("bad Sec-WebSocket-Accept")
            return False
        if headers.get("sec-websocket-protocol") != SUBPROTOCOL:
            self._fail("server did not select imcloud.v1.proto")
            return False
        return True

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data, self.buf = self.buf + data, b""
        if not self.open:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > HEADER_LIMIT:
                    self._fail("handshake response too long")
                else:
                    self.buf = data
                return
            if not self._check_handshake(data[:end]):
                return
            self.open = True
            self.handshake.set_result(None)
            data = data[end + 4 :]
        pos, size = 0, len(data)
        on_message = self.worker.on_message
        while size - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            if b1 & 0x80:  # servers never mask; refuse rather than guess
                self._fail("masked server frame")
                return
            end = pos + head + length
            if end > size:
                break
            payload = data[pos + head : end]
            pos = end
            opcode = b0 & 0x0F
            if opcode == 0x2 or opcode == 0x1:
                if b0 & 0x80:
                    on_message(self, payload)
                else:
                    self.fragments = [payload]
            elif opcode == 0x0 and self.fragments is not None:
                self.fragments.append(payload)
                if b0 & 0x80:
                    whole, self.fragments = b"".join(self.fragments), None
                    on_message(self, whole)
            elif opcode == 0x9:
                self.send_frame(payload, 0xA)
            elif opcode == 0x8:
                self.worker.closes[int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005] += 1
                if not self.closed and self.transport is not None:
                    self.send_frame(payload[:2], 0x8)
                    self.transport.close()
                self.closed = True
                return
        if pos < size:
            self.buf = data[pos:]

    def send_frame(self, payload: bytes, opcode: int = 0x2) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            header = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            header = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
        key = random.randbytes(4)
        self.transport.write(header + key + _mask(payload, key))

    # --- protocol ---------------------------------------------------------------------------------

    def request(self, frame: pb.Frame) -> int:
        request_id = self.next_id
        self.next_id += 1
        frame.request_id = request_id
        self.send_frame(frame.SerializeToString())
        return request_id

    def close(self) -> None:
        if not self.closed and self.transport is not None and not self.transport.is_closing():
            self.send_frame((1000).to_bytes(2, "big"), 0x8)


class Step:
    """What one worker saw of one measured step."""

    def __init__(self) -> None:
        self.window_end_ns = 1 << 62
        self.latencies = array("f")  # ms, send to receive
        self.in_window = 0
        self.ack_latencies = array("f")  # ms, send to ack
        self.acks_in_window = 0
        self.duplicates = 0
        self.sent = 0
        self.errors: Counter[str] = Counter()


class Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.clients: dict[str, WsClient] = {}
        self.steps: dict[int, Step] = {}
        self.errors: Counter[str] = Counter()
        self.closes: Counter[int] = Counter()
        self.kicks = 0

    def step(self, step: int) -> Step:
        found = self.steps.get(step)
        if found is None:
            found = self.steps[step] = Step()
        return found

    # --- frames in --------------------------------------------------------------------------------

    def on_message(self, client: WsClient, payload: bytes) -> None:
        now = time.time_ns()
        frame = pb.Frame.FromString(payload)
        kind = frame.WhichOneof("body")
        if kind == "message":
            text = frame.message.text
            sep = text.find(":")
            if sep > 0:
                step = self.step(int(text[:sep]))
                step.latencies.append((now - int(text[sep + 1 :])) / 1e6)
                if now <= step.window_end_ns:
                    step.in_window += 1
        elif kind == "send_ack":
            sent = client.pending.pop(frame.request_id, None)
            if sent is not None:
                step = self.step(sent[0])
                step.ack_latencies.append((now - sent[1]) / 1e6)
                if now <= step.window_end_ns:
                    step.acks_in_window += 1
                if frame.send_ack.duplicate:
                    step.duplicates += 1
        elif kind == "login_result":
            if not client.login.done():
                client.login.set_result(frame)
        elif kind == "error":
            code = frame.error.code or "error"
            sent = client.pending.pop(frame.request_id, None) if frame.request_id else None
            if sent is not None:
                self.step(sent[0]).errors[code] += 1
            elif frame.request_id == 1 and not client.login.done():
                client.login.set_exception(ConnectionError(f"login refused: {code}"))
            else:
                self.errors[code] += 1
        elif kind == "kick":
            self.kicks += 1

    def on_lost(self, client: WsClient) -> None:
        if self.clients.get(client.accid) is client:
            del self.clients[client.accid]

    # --- commands ---------------------------------------------------------------------------------

    async def connect(
        self,
        *,
        users: list[tuple[str, int]],
        endpoints: list[tuple[str, int]],
        app_key: str,
        token: str,
        concurrency: int,
        timeout: float,
    ) -> dict[str, Any]:
        """Open and log in one connection per (accid, endpoint index); bounded in time."""
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        failures: Counter[str] = Counter()
        started = time.monotonic()
        deadline = started + timeout

        async def one(accid: str, where: int) -> None:
            host, port = endpoints[where]
            async with gate:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    failures["deadline"] += 1
                    return
                client: WsClient | None = None
                try:
                    async with asyncio.timeout(min(remaining, 30)):
                        _, client = await loop.create_connection(
                            lambda: WsClient(self, accid, host, port), host, port
                        )
                        await client.handshake
                        client.request(
                            pb.Frame(
                                login=pb.Login(
                                    app_key=app_key,
                                    accid=accid,
                                    token=token,
                                    device_id=f"bench-{accid}",
                                    platform=pb.PLATFORM_LINUX,
                                    client_version="imcloud-bench/1",
                                    heartbeat_interval=600,
                                    protocol_version=1,
                                )
                            )
                        )
                        await client.login
                    self.clients[accid] = client
                except (OSError, TimeoutError) as exc:
                    failures[type(exc).__name__ + (f": {exc}" if str(exc) else "")[:80]] += 1
                    if client is not None and client.transport is not None:
                        client.transport.abort()

        await asyncio.gather(*(one(accid, where) for accid, where in users))
        return {
            "connected": sum(1 for accid, _ in users if accid in self.clients),
            "failures": dict(failures),
            "seconds": time.monotonic() - started,
        }

    async def run(
        self,
        *,
        step: int,
        start_at: float,
        duration: float,
        rate: float,
        senders: list[tuple[str, str]],
        conversation_type: int,
    ) -> dict[str, Any]:
        """Open-loop sends at ``rate``/s over ``senders`` from wall time start_at for duration s."""
        stats = self.step(step)
        stats.window_end_ns = int((start_at + duration) * 1e9)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        clients = [(self.clients.get(accid), target) for accid, target in senders]
        live = [(client, target) for client, target in clients if client is not None]
        if len(live) < len(clients):
            stats.errors["sender_offline"] += len(clients) - len(live)
        sent = 0
        worst_lag = 0.0
        if live and rate > 0:
            start = time.monotonic()
            index = 0
            while True:
                elapsed = time.monotonic() - start
                if elapsed >= duration:
                    break
                due = int(elapsed * rate) + 1 - sent
                if due > 0:
                    worst_lag = max(worst_lag, (due - 1) / rate)
                for _ in range(due):
                    client, target = live[index % len(live)]
                    index += 1
                    now = time.time_ns()
                    request_id = client.request(
                        pb.Frame(
                            send=pb.SendMessage(
                                conversation_type=conversation_type,  # type: ignore[arg-type]
                                target=target,
                                type=pb.MESSAGE_TYPE_TEXT,
                                client_msg_id=f"b{step}-{self.index}-{sent}",
                                text=f"{step}:{now}",
                            )
                        )
                    )
                    client.pending[request_id] = (step, now)
                    sent += 1
                await asyncio.sleep(0.002)
        else:
            await asyncio.sleep(duration)
        stats.sent = sent
        return {"sent": sent, "worst_lag_s": worst_lag}

    async def counts(self, *, step: int) -> dict[str, Any]:
        stats = self.step(step)
        return {"received": len(stats.latencies), "acks": len(stats.ack_latencies)}

    async def collect(self, *, step: int) -> dict[str, Any]:
        stats = self.steps.pop(step, None) or Step()
        return {
            "sent": stats.sent,
            "latencies": stats.latencies.tobytes(),
            "in_window": stats.in_window,
            "ack_latencies": stats.ack_latencies.tobytes(),
            "acks_in_window": stats.acks_in_window,
            "duplicates": stats.duplicates,
            "errors": dict(stats.errors),
        }

    async def close_all(self, *, timeout: float) -> dict[str, Any]:
        clients = list(self.clients.values())
        for client in clients:
            client.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(client.lost for client in clients), return_exceptions=True)
        aborted = 0
        for client in clients:
            if not client.closed and client.transport is not None:
                client.transport.abort()
                aborted += 1
        self.clients.clear()
        for client in clients:
            client.pending.clear()
        return {"closed": len(clients), "aborted": aborted}

    async def status(self) -> dict[str, Any]:
        return {
            "open": len(self.clients),
            "errors": dict(self.errors),
            "closes": {str(code): n for code, n in self.closes.items()},
            "kicks": self.kicks,
        }


async def _serve(conn: Connection, worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            op, kwargs = await loop.run_in_executor(None, conn.recv)
        except (EOFError, OSError):
            return  # the orchestrator is gone
        if op == "exit":
            await worker.close_all(timeout=2)
            conn.send({"ok": True})
            return
        try:
            result = await getattr(worker, op)(**kwargs)
        except Exception as exc:
            result = {"exception": f"{type(exc).__name__}: {exc}"}
        conn.send(result)


def worker_main(conn: Connection, index: int) -> None:
    """Entry point of one load-generator process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator stops us
    try:
        import uvloop  # type: ignore[import-not-found]

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(_serve(conn, Worker(index)))
