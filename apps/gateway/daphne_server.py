"""daphne, with a direct write path for WebSocket messages.

    python -m apps.gateway.daphne_server -b HOST -p PORT --proxy-headers imcloud.asgi:application

Takes daphne's command-line options unchanged. The difference is how a WebSocket message reaches
the socket (through ``websocket.send``, or the ``imcloud.websocket.write`` scope extension that
this server offers, apps/gateway/asgi_extensions.py). Stock daphne frames every message in
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
import struct
import sys
from typing import Any

from daphne import cli, server, ws_protocol
from twisted.internet import tcp

from apps.gateway.asgi_extensions import WEBSOCKET_WRITE

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


class DirectWriteProtocol(ws_protocol.WebSocketProtocol):
    def write_now(self, data: bytes | str) -> None:
        """The ``imcloud.websocket.write`` extension (apps/gateway/asgi_extensions.py)."""
        if self.state == self.STATE_OPEN:
            self.serverSend(data, isinstance(data, bytes))

    def serverSend(self, content: bytes | str, binary: bool = False) -> None:
        payload = content.encode("utf8") if isinstance(content, str) else content
        if not self._write_direct(payload, binary=binary):
            super().serverSend(content, binary)

    def _write_direct(self, payload: bytes, *, binary: bool) -> bool:
        transport: Any = self.transport
        if (
            self.state != self.STATE_OPEN
            or self._perMessageCompress is not None
            or self.send_queue
            or self.trackedTimings
            or self.logOctets
            or type(transport) is not tcp.Server
            or not transport.connected
            or transport.disconnecting
            or transport._tempDataBuffer
            or transport.offset != len(transport.dataBuffer)
            or 0 < self.maxMessagePayloadSize < len(payload)
        ):
            return False
        data = frame_header(len(payload), binary=binary) + payload
        try:
            sent = transport.socket.send(data)
        except OSError as exc:
            if exc.errno not in _AGAIN:
                # A dead socket: Twisted's buffered write path notices and closes it properly.
                transport.write(data)  # type: ignore[no-untyped-call]
                return True
            sent = 0
        if sent < len(data):
            transport.write(data[sent:])  # type: ignore[no-untyped-call]
        return True


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
            scope.setdefault("extensions", {})[WEBSOCKET_WRITE] = protocol.write_now
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
