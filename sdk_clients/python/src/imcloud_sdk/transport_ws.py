"""One WebSocket link to a gateway: open, send and receive Frames, close."""

from __future__ import annotations

import contextlib
import itertools

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from imcloud_sdk import codec
from imcloud_sdk._generated import imcloud_pb2 as pb

_link_ids = itertools.count(1)


class LinkClosed(Exception):
    """The link is gone (closed by either side, or the network)."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"link closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


class WsLink:
    def __init__(self, url: str, encoding: str) -> None:
        self.url = url
        self.encoding = encoding
        self.id = next(_link_ids)
        self._ws: ClientConnection | None = None
        self._request_ids = itertools.count(1)

    def next_request_id(self) -> int:
        return next(self._request_ids)

    async def open(self, timeout: float) -> None:
        self._ws = await connect(
            self.url,
            subprotocols=[Subprotocol(codec.SUBPROTOCOLS[self.encoding])],
            open_timeout=timeout,
            # Liveness is the smart heartbeat's job; protocol-level pings would defeat its learning.
            ping_interval=None,
            close_timeout=2,
            max_size=4 * 1024 * 1024,
            compression=None,
        )

    async def send(self, frame: pb.Frame) -> None:
        if self._ws is None:
            raise LinkClosed(reason="not open")
        try:
            await self._ws.send(codec.encode(frame, self.encoding))
        except ConnectionClosed as exc:
            raise LinkClosed(
                exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else ""
            ) from exc
        except OSError as exc:
            raise LinkClosed(reason=str(exc)) from exc

    async def recv(self) -> pb.Frame:
        """The next frame; ImError(garbage_frame) when it cannot be decoded, LinkClosed when gone."""
        if self._ws is None:
            raise LinkClosed(reason="not open")
        try:
            data = await self._ws.recv()
        except ConnectionClosed as exc:
            raise LinkClosed(
                exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else ""
            ) from exc
        except OSError as exc:
            raise LinkClosed(reason=str(exc)) from exc
        return codec.decode(data, self.encoding)

    def abort(self) -> None:
        """Drop a link known to be dead at once: a closing handshake over it would only wait out
        its timeout before the reconnect could start."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.transport.abort()

    async def close(self) -> None:
        if self._ws is not None:
            # Closing a broken link may fail in many ways; it is gone either way.
            with contextlib.suppress(Exception):
                await self._ws.close()
