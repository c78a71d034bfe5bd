"""daphne's direct write path: the frame header (read back as RFC 6455 says a client reads it), the
write to many sockets at once, and the gateway's use of it."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

from apps.gateway.asgi_extensions import WEBSOCKET_FANOUT
from apps.gateway.connection import Connection
from apps.gateway.daphne_server import DirectWriteProtocol, _send_direct, frame_header, framed, read_frames
from apps.gateway.process import GatewayProcess
from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb


def _read_header(header: bytes) -> tuple[bool, int, bool, int, int]:
    """(fin, opcode, masked, payload length, header size)"""
    first, second = header[0], header[1]
    length, size = second & 0x7F, 2
    if length == 126:
        (length,), size = struct.unpack("!H", header[2:4]), 4
    elif length == 127:
        (length,), size = struct.unpack("!Q", header[2:10]), 10
    return bool(first & 0x80), first & 0x0F, bool(second & 0x80), length, size


@pytest.mark.parametrize(
    ("length", "size"), [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10), (5_000_000, 10)]
)
@pytest.mark.parametrize(("binary", "opcode"), [(True, 0x2), (False, 0x1)])
def test_a_header_is_final_unmasked_and_as_short_as_the_length_allows(
    length: int, size: int, binary: bool, opcode: int
) -> None:
    header = frame_header(length, binary=binary)
    assert _read_header(header) == (True, opcode, False, length, size)
    assert len(header) == size


def test_a_frame_is_built_once_for_the_same_message_and_anew_for_any_other() -> None:
    push = b"\x08\x01" * 100
    text = "h\u00e9llo"
    first, size = framed(push, binary=True)
    again, _ = framed(push, binary=True)
    as_text, text_size = framed(text, binary=False)
    equal_but_not_same, _ = framed(bytes(bytearray(push)), binary=True)
    after_text, _ = framed(push, binary=True)
    as_text_frame, _ = framed(push, binary=False)

    assert again is first  # the same object: framed once
    assert (first, size) == (frame_header(200, binary=True) + push, 200)
    assert (as_text, text_size) == (frame_header(6, binary=False) + text.encode(), 6)
    assert equal_but_not_same == first
    assert equal_but_not_same is not first
    assert after_text == first
    assert as_text_frame == frame_header(200, binary=False) + push


class _Transport:
    """The fields of a Twisted TCP transport the direct path reads, over a real socket."""

    def __init__(self, sock: socket.socket, *, buffered: bytes = b"") -> None:
        self.socket, self.connected, self.disconnecting = sock, True, False
        self.dataBuffer, self.offset = buffered, 0
        self._tempDataBuffer: list[bytes] = []
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class _Protocol:
    STATE_OPEN, STATE_CLOSING = DirectWriteProtocol.STATE_OPEN, DirectWriteProtocol.STATE_CLOSING

    def __init__(self, transport: _Transport, *, state: int = STATE_OPEN, queued: bool = False) -> None:
        self.transport, self.state, self._plain = transport, state, True
        self.send_queue = [object()] if queued else []
        self.maxMessagePayloadSize = 0


def _pair() -> tuple[socket.socket, socket.socket]:
    """Both ends of a loopback TCP connection: the server's (non-blocking, as Twisted has it)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    ours.setblocking(False)
    theirs.settimeout(5)
    return ours, theirs


def test_one_message_is_sent_straight_to_every_open_idle_socket_and_the_rest_are_handed_back() -> None:
    push = b"\x08\x01" * 100
    idle = [_pair() for _ in range(3)]
    queued_pair, buffered_pair, closing_pair = _pair(), _pair(), _pair()
    idle_protocols = [_Protocol(_Transport(ours)) for ours, _ in idle]
    queued = _Protocol(_Transport(queued_pair[0]), queued=True)
    buffered = _Protocol(_Transport(buffered_pair[0], buffered=b"earlier"))
    closing = _Protocol(_Transport(closing_pair[0]), state=_Protocol.STATE_CLOSING)
    protocols: list[Any] = [
        idle_protocols[0],
        queued,
        idle_protocols[1],
        buffered,
        closing,
        idle_protocols[2],
    ]

    handed_back = _send_direct(protocols, push, binary=True)

    frame = frame_header(200, binary=True) + push
    assert [theirs.recv(4096) for _, theirs in idle] == [frame, frame, frame]
    assert handed_back == [queued, buffered]  # they take autobahn's path, behind what is queued
    assert [p.transport.written for p in (queued, buffered, closing)] == [[], [], []]
    for _, theirs in (queued_pair, buffered_pair, closing_pair):
        theirs.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing arrived
            theirs.recv(4096)
    for ours, theirs in (*idle, queued_pair, buffered_pair, closing_pair):
        ours.close()
        theirs.close()


def test_what_the_kernel_does_not_take_goes_to_twisteds_buffer() -> None:
    ours, theirs = _pair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    protocol = _Protocol(_Transport(ours))
    big = b"x" * 2_000_000

    assert _send_direct([protocol], big, binary=True) == []  # type: ignore[list-item]

    frame = frame_header(len(big), binary=True) + big
    (rest,) = protocol.transport.written
    assert 0 < len(rest) < len(frame)
    received = b""
    while len(received) < len(frame) - len(rest):
        received += theirs.recv(1 << 20)
    assert received + rest == frame
    ours.close()
    theirs.close()


async def _unused(*args: Any) -> Any:
    raise AssertionError("websocket.send is not used when the server offers a write")


async def _hang_up() -> dict[str, Any]:
    return {"type": "websocket.disconnect", "code": 1001}


def _session(
    process: GatewayProcess,
    write_many: Any,
    user_id: int,
    session: str,
    encoding: codec.Encoding = codec.Encoding.PROTO,
) -> Connection:
    """A logged-in connection on a server offering the fanout extension (its writer: ``session``)."""
    scope = {
        "type": "websocket",
        "extensions": {WEBSOCKET_FANOUT: {"writer": session, "write_many": write_many}},
    }
    conn = Connection(scope, _hang_up, _unused)  # its first read: the client went away
    conn.process, conn.user_id, conn.session_id, conn.encoding = process, user_id, session, encoding
    process.add_session(conn)
    return conn


async def test_a_delivery_hands_each_encoding_to_the_servers_write_many_once() -> None:
    calls: list[tuple[list[object], bytes | str]] = []

    def write_many(writers: Sequence[object], data: bytes | str) -> None:
        calls.append((list(writers), data))

    process = GatewayProcess(asyncio.get_running_loop())
    proto_conns = [_session(process, write_many, 1, "s1"), _session(process, write_many, 2, "s2")]
    json_conn = _session(process, write_many, 2, "s3", codec.Encoding.JSON)
    origin = _session(process, write_many, 3, "origin")
    waiting = _session(process, write_many, 4, "s4")  # logged in, login result not out yet
    for conn in (*proto_conns, json_conn, origin):
        await conn.open_for_pushes()
    frame = pb.Frame(message=pb.Message(text="hi", seq=7)).SerializeToString()

    await process.handle({"type": "gw.deliver", "groups": [[[1, 2, 3, 4, 5], frame, "origin"]]})

    assert sorted(calls, key=lambda call: isinstance(call[1], str)) == [
        (["s1", "s2"], frame),
        (["s3"], codec.proto_to_json(frame)),
    ]
    assert waiting._held == [frame]
    process.sends._router.cancel()


class _CountingUsers(defaultdict[int, set[Any]]):
    """``GatewayProcess.by_user``, counting the lookups made in it."""

    lookups = 0

    def __init__(self) -> None:
        super().__init__(set)

    def get(self, key: int, default: Any = None) -> Any:
        self.lookups += 1
        return super().get(key, default)


async def test_a_large_groups_connections_are_looked_up_again_only_after_a_session_comes_or_goes() -> None:
    written: list[list[object]] = []

    def write_many(writers: Sequence[object], data: bytes | str) -> None:
        written.append(sorted(writers, key=str))

    process = GatewayProcess(asyncio.get_running_loop())
    users = process.by_user = _CountingUsers()
    here = {n: _session(process, write_many, n, f"s{n:03d}") for n in range(1, 101)}
    for conn in here.values():
        await conn.open_for_pushes()
    team = list(range(1, 201))  # 200 members, 100 of them on this process
    frame = pb.Frame(message=pb.Message(text="hi", seq=1)).SerializeToString()

    async def deliver(exclude: str = "") -> tuple[list[object], int]:
        written.clear()
        before = users.lookups
        await process.handle({"type": "gw.deliver", "groups": [[team, frame, exclude]]})
        (writers,) = written
        return writers, users.lookups - before

    everyone = [f"s{n:03d}" for n in range(1, 101)]
    first, looked_up = await deliver()
    again, looked_up_again = await deliver(exclude="s007")
    without_origin = [s for s in everyone if s != "s007"]
    after_origin, _ = await deliver()
    newcomer = _session(process, write_many, 150, "s150")
    await newcomer.open_for_pushes()
    with_newcomer, looked_up_after_login = await deliver()
    await here[5].run()  # reads the disconnect
    after_close, _ = await deliver()

    assert (first, looked_up) == (everyone, 200)
    assert (again, looked_up_again) == (without_origin, 0)
    assert after_origin == everyone  # the cached list was not changed by the exclusion
    assert (with_newcomer, looked_up_after_login) == ([*everyone, "s150"], 200)
    assert after_close == [s for s in [*everyone, "s150"] if s != "s005"]
    process.sends._router.cancel()


def _client_frame(
    payload: bytes, *, opcode: int = 0x2, fin: bool = True, mask: bytes = b"\x01\x82\x03\xf4"
) -> bytes:
    """A client frame as RFC 6455 has clients send it: masked."""
    size = len(payload)
    length = bytes((0x80 | size,)) if size < 126 else bytes((0x80 | 126,)) + size.to_bytes(2, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(((0x80 if fin else 0) | opcode,)) + length + mask + masked


def test_whole_masked_data_frames_are_read_and_unmasked_up_to_the_first_other_one() -> None:
    medium = bytes(range(256)) * 4
    text = "héllo 🙂".encode()
    data = (
        _client_frame(b"\x08\x01")
        + _client_frame(b"")
        + _client_frame(text, opcode=0x1)
        + _client_frame(medium)
        + _client_frame(b"ping", opcode=0x9)  # a control frame: autobahn's from here on
        + _client_frame(b"after")
    )
    messages, used = read_frames(data, 0)
    assert messages == [(b"\x08\x01", True), (b"", True), (text, False), (medium, True)]
    assert data[used:] == _client_frame(b"ping", opcode=0x9) + _client_frame(b"after")


@pytest.mark.parametrize(
    "frame",
    [
        _client_frame(b"part", fin=False),  # a fragment
        _client_frame(b"\xff\xfe", opcode=0x1),  # text that is not UTF-8
        b"\x82\xff" + (70_000).to_bytes(8, "big") + b"\x00" * 4 + b"x" * 70_000,  # a 64-bit length
        b"\x82\x05" + b"plain",  # not masked
        b"\xc2\x84\x00\x00\x00\x00abcd",  # an extension bit
        b"\x82\xfe\x00\x05\x00\x00\x00\x00hello",  # a length not minimally encoded
        _client_frame(b"x" * 300)[:-1],  # not all here yet
    ],
)
def test_anything_else_is_left_to_autobahn(frame: bytes) -> None:
    assert read_frames(_client_frame(b"first") + frame, 0) == (
        [(b"first", True)],
        len(_client_frame(b"first")),
    )


def test_a_frame_over_the_size_limit_is_left_to_autobahn() -> None:
    data = _client_frame(b"x" * 100) + _client_frame(b"x" * 101)
    assert read_frames(data, 100) == ([(b"x" * 100, True)], len(_client_frame(b"x" * 100)))
