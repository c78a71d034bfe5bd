"""daphne, with a direct write path for WebSocket messages.

    python -m apps.gateway.daphne_server -b HOST -p PORT --proxy-headers imcloud.asgi:application

Takes daphne's command-line options unchanged. The difference is how a WebSocket message reaches
the socket (through ``websocket.send``, or the ``imcloud.websocket.write`` and
``imcloud.websocket.fanout`` scope extensions that this server offers,
apps/gateway/asgi_extensions.py). Stock daphne frames every message in
autobahn and hands it to Twisted, which registers the socket with the poller, writes it on the
next loop iteration and unregisters it: two ``epoll_ctl`` calls and a loop callback per message
and connection, which is what limits a large team's fan-out (docs/performance.md). Here, when the
connection is a plain TCP socket whose Twisted buffer is empty, the frame (header + payload,
unmasked as RFC 6455 has servers send) is written with one ``send``; whatever the kernel does not
take goes through Twisted's buffer as before, and every other case (a buffer already waiting, TLS,
compression, a closing connection) takes autobahn's own path. Order is kept because the direct
write happens only while nothing is queued ahead of it.

WebSocket pings from the server are off by default (``--ping-interval`` defaults to a day here):
clients keep the connection alive with the protocol's heartbeat, whose interval the SDKs learn
per network to spare mobile radios (docs/sdk.md), and the gateway closes a connection that misses
it (the login result's ``idle_timeout``). A 20 s server ping would wake every phone every 20 s.
"""

from __future__ import annotations

import errno
import logging
import struct
import sys
from collections.abc import Sequence
from typing import Any

from daphne import cli, server, ws_protocol
from twisted.internet import tcp

from apps.gateway.asgi_extensions import WEBSOCKET_FANOUT, WEBSOCKET_WRITE

logger = logging.getLogger(__name__)

NO_PINGS = 86_400
_AGAIN = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.EINTR)


def frame_header(length: int, *, binary: bool) -> bytes:
    """A final, unmasked RFC 6455 frame header for a payload of ``length`` bytes."""
    first = 0x82 if binary else 0x81
    if length < 126:
        return bytes((first, length))
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


class _LastFrame:
    """The last message framed, by identity: a team's fan-out hands the same encoded push to every
    member's connection, so it is framed (header + payload, UTF-8 for text) once instead of once
    per connection. Only the reactor thread writes, so one entry without a lock is enough; it
    holds a reference to the message, so the identity cannot be reused while cached."""

    content: bytes | str | None = None
    binary = True
    data = b""
    size = 0


_last = _LastFrame()


def framed(content: bytes | str, *, binary: bool) -> tuple[bytes, int]:
    """The whole frame for ``content`` and the payload's length in bytes."""
    if content is _last.content and binary == _last.binary:
        return _last.data, _last.size
    payload = content.encode("utf8") if isinstance(content, str) else bytes(content)
    data = frame_header(len(payload), binary=binary) + payload
    if type(content) in (bytes, str):  # immutable: safe to recognise by identity
        _last.content, _last.binary, _last.data, _last.size = content, binary, data, len(payload)
    return data, len(payload)


def read_frames(data: bytes, limit: int) -> tuple[list[tuple[bytes, bool]], int]:
    """The complete client data frames at the start of ``data`` that need nothing but unmasking:
    final, masked, no extension bits, text or binary, minimally encoded lengths up to 65,535 bytes
    and ``limit`` (0: none), text that is UTF-8. Returns their payloads (with whether binary) and
    the bytes they took; reading stops at the first frame that is not one of them (a control
    frame, a fragment, a partial frame, anything invalid), which autobahn then reads, with its
    own checks and errors. autobahn's per-frame objects (a header, an XOR masker) were a tenth of a
    gateway's CPU at 4,000 msgs/s."""
    messages: list[tuple[bytes, bool]] = []
    at, end = 0, len(data)
    while end - at >= 6:
        first, second = data[at], data[at + 1]
        if (first != 0x82 and first != 0x81) or not second & 0x80:
            break
        length = second & 0x7F
        if length < 126:
            start = at + 6
        elif length == 126 and end - at >= 8:
            length = int.from_bytes(data[at + 2 : at + 4], "big")
            if length < 126:
                break
            start = at + 8
        else:
            break
        stop = start + length
        if stop > end or 0 < limit < length:
            break
        key = data[start - 4 : start] * (length // 4 + 1)
        payload = (
            int.from_bytes(data[start:stop], "little") ^ int.from_bytes(key[:length], "little")
        ).to_bytes(length, "little")
        binary = first == 0x82
        if not binary:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                break
        messages.append((payload, binary))
        at = stop
    return messages, at


def _payload_limit(protocol: ws_protocol.WebSocketProtocol) -> int:
    limits = [n for n in (protocol.maxFramePayloadSize, protocol.maxMessagePayloadSize) if n > 0]
    return min(limits) if limits else 0


class DirectWriteProtocol(ws_protocol.WebSocketProtocol):
    # Whether this connection may be written directly at all: set once, at the first write after
    # the handshake, from what cannot change afterwards (compression negotiated, autobahn's
    # timing and octet logging, a plain TCP transport rather than TLS).
    _plain: bool | None = None

    def dataReceived(self, data: bytes) -> None:
        # autobahn's own dataReceived styles a debug line (with click, for the terminal) for every
        # chunk received, whether debug logging is on or not: 2 % of a gateway's CPU at
        # 4,000 msgs/s. The line is dropped.
        if (
            self.state == self.STATE_OPEN
            and self.current_frame is None
            and not self.data
            and not self.inside_message
            and self._perMessageCompress is None
        ):
            # Between frames, the common ones (whole, masked, unfragmented data frames) are read
            # here; anything else, and what follows it, is autobahn's as before.
            messages, used = read_frames(data, _payload_limit(self))
            for payload, binary in messages:
                self.onMessage(payload, binary)
            if used == len(data):
                return
            data = data[used:]
        self._dataReceived(data)

    def write_now(self, data: bytes | str) -> None:
        """The ``imcloud.websocket.write`` extension (apps/gateway/asgi_extensions.py)."""
        if self.state == self.STATE_OPEN:
            binary = isinstance(data, bytes)
            if _send_direct((self,), data, binary=binary):
                ws_protocol.WebSocketProtocol.serverSend(self, data, binary)

    def serverSend(self, content: bytes | str, binary: bool = False) -> None:
        # Not open: autobahn's path, which refuses it as it always did.
        if self.state != self.STATE_OPEN or _send_direct((self,), content, binary=binary):
            super().serverSend(content, binary)

    def _is_plain(self) -> bool:
        return (
            self._perMessageCompress is None
            and not self.trackedTimings
            and not self.logOctets
            and type(self.transport) is tcp.Server
        )


def write_many(protocols: Sequence[DirectWriteProtocol], data: bytes | str) -> None:
    """The ``imcloud.websocket.fanout`` extension: one message to many connections of this server
    (apps/gateway/asgi_extensions.py). The frame is built once and the loop makes no call per
    connection but the ``send``: per delivery, the Python around the system call was most of a
    large team's fan-out cost."""
    binary = isinstance(data, bytes)
    for protocol in _send_direct(protocols, data, binary=binary):
        try:
            if protocol.state == protocol.STATE_OPEN:
                ws_protocol.WebSocketProtocol.serverSend(protocol, data, binary)
        except Exception:  # a connection going away mid-write; its close event follows
            logger.debug("write to a closing connection failed", exc_info=True)


def _send_direct(
    protocols: Sequence[DirectWriteProtocol], content: bytes | str, *, binary: bool
) -> list[DirectWriteProtocol]:
    """Write ``content`` with one ``send`` to each connection that allows it (open, a plain TCP
    socket, nothing queued ahead); returns the open ones that must take autobahn's path."""
    data, size = framed(content, binary=binary)
    length = len(data)
    slow: list[DirectWriteProtocol] = []
    for protocol in protocols:
        if protocol.state != OPEN:
            continue
        plain = protocol._plain
        if plain is None:
            plain = protocol._plain = protocol._is_plain()
        transport: Any = protocol.transport
        if (
            not plain
            or protocol.send_queue
            or not transport.connected
            or transport.disconnecting
            or transport._tempDataBuffer
            or transport.offset != len(transport.dataBuffer)
            or 0 < protocol.maxMessagePayloadSize < size
        ):
            slow.append(protocol)
            continue
        try:
            sent = transport.socket.send(data)
        except OSError as exc:
            if exc.errno not in _AGAIN:
                # A dead socket: Twisted's buffered write path notices and closes it properly.
                transport.write(data)
                continue
            sent = 0
        if sent < length:
            transport.write(data[sent:])
    return slow


OPEN = DirectWriteProtocol.STATE_OPEN


class Server(server.Server):
    """daphne's server with :class:`DirectWriteProtocol` for its WebSocket connections."""

    @property
    def ws_factory(self) -> Any:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: Any) -> None:
        # daphne builds its factory inside run(); give it our protocol as it is assigned.
        factory.protocol = DirectWriteProtocol
        self._ws_factory = factory

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if isinstance(protocol, DirectWriteProtocol):
            extensions = scope.setdefault("extensions", {})
            extensions[WEBSOCKET_WRITE] = protocol.write_now
            extensions[WEBSOCKET_FANOUT] = {"writer": protocol, "write_many": write_many}
        return super().create_application(protocol, scope)


class CommandLineInterface(cli.CommandLineInterface):
    server_class = Server

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(ping_interval=NO_PINGS)


def main(argv: list[str] | None = None) -> None:
    CommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
