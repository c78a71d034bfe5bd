"""A minimal protocol client for tests: requests matched to responses by request_id, pushes queued."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import websockets

from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb


class GatewayClient:
    def __init__(self, url: str, encoding: codec.Encoding = codec.Encoding.PROTO) -> None:
        self.url, self.encoding = url, encoding
        self.pushes: asyncio.Queue[pb.Frame] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[pb.Frame]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self.ws: Any = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    async def connect(self) -> GatewayClient:
        self.ws = await websockets.connect(self.url, subprotocols=[self.encoding.value], max_size=None)  # type: ignore[list-item]
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                text, data = (raw, None) if isinstance(raw, str) else (None, raw)
                frame = codec.decode(text=text, data=data, encoding=self.encoding)
                future = self._pending.pop(frame.request_id, None) if frame.request_id else None
                if future is not None and not future.done():
                    future.set_result(frame)
                else:
                    self.pushes.put_nowait(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def request(self, timeout: float = 10, **body: Any) -> pb.Frame:
        request_id = next(self._ids)
        future: asyncio.Future[pb.Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self.ws.send(codec.encode(pb.Frame(request_id=request_id, **body), self.encoding))
        return await asyncio.wait_for(future, timeout)

    async def login(self, *, app_key: str, accid: str, token: str, device_id: str = "dev-1",
                    platform: int = pb.PLATFORM_ANDROID, cursor: str = "", heartbeat: int = 0) -> pb.Frame:  # fmt: skip
        return await self.request(
            login=pb.Login(
                app_key=app_key, accid=accid, token=token, device_id=device_id, platform=platform,  # type: ignore[arg-type]
                sync_cursor=cursor, heartbeat_interval=heartbeat, protocol_version=1,
            )
        )  # fmt: skip

    async def send_text(self, target: str, text: str, client_msg_id: str, *, team: bool = False) -> pb.Frame:
        kind = pb.CONVERSATION_TYPE_TEAM if team else pb.CONVERSATION_TYPE_P2P
        return await self.request(
            send=pb.SendMessage(
                conversation_type=kind,
                target=target,
                type=pb.MESSAGE_TYPE_TEXT,
                text=text,
                client_msg_id=client_msg_id,
            )
        )

    async def next_push(self, kind: str, timeout: float = 5) -> pb.Frame:
        """The next push of the given body kind; other pushes before it are dropped."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.pushes.get()
                if frame.WhichOneof("body") == kind:
                    return frame

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
