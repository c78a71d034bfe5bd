"""daphne's direct write path: the frame header (read back as RFC 6455 says a client reads it), and
the gateway's use of the synchronous write the server offers."""

from __future__ import annotations

import struct
from typing import Any
from unittest.mock import AsyncMock

import pytest

from apps.gateway.asgi_extensions import WEBSOCKET_WRITE
from apps.gateway.connection import Connection
from apps.gateway.daphne_server import frame_header, framed


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


def test_pushes_use_the_servers_synchronous_write_once_the_client_is_ready() -> None:
    written: list[bytes | str] = []

    async def unused(*args: Any) -> Any:
        raise AssertionError("websocket.send is not used when the server offers a write")

    conn = Connection({"type": "websocket", "extensions": {WEBSOCKET_WRITE: written.append}}, unused, unused)
    assert conn.write_now(b"held back") is False  # before the login result: held by write()
    conn.ready = True
    assert (conn.write_now(b"one"), conn.write_now("two")) == (True, True)
    assert written == [b"one", "two"]
    conn.closed = True
    assert conn.write_now(b"dropped") is True
    assert written == [b"one", "two"]


def test_without_the_extension_pushes_go_through_websocket_send() -> None:
    conn = Connection({"type": "websocket"}, AsyncMock(), AsyncMock())
    conn.ready = True
    assert conn.write_now(b"one") is False
