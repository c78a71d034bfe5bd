"""The test protocol client over Channels' WebsocketCommunicator: the gateway in this process."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from channels.testing import WebsocketCommunicator

from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb
from imcloud.asgi import application
from tests.factories import DEFAULT_TOKEN


class CommClient:
    def __init__(
        self, encoding: codec.Encoding = codec.Encoding.PROTO, subprotocols: list[str] | None = None
    ) -> None:
        self.encoding = encoding
        offered = [encoding.value] if subprotocols is None else subprotocols
        self.comm = WebsocketCommunicator(application, "/ws", subprotocols=offered)
        self.pushes: asyncio.Queue[pb.Frame] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[pb.Frame]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.accepted = False

    async def connect(self) -> CommClient:
        self.accepted, _ = await self.comm.connect(timeout=5)
        if self.accepted:
            self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            output = await self.comm.output_queue.get()
            if output["type"] == "websocket.close":
                self.close_code = output.get("code")
                self.closed.set()
                return
            text, data = output.get("text"), output.get("bytes")
            frame = codec.decode(text=text, data=data, encoding=self.encoding)
            future = self._pending.pop(frame.request_id, None) if frame.request_id else None
            if future is not None and not future.done():
                future.set_result(frame)
            else:
                self.pushes.put_nowait(frame)

    async def send_raw(self, data: bytes | str) -> None:
        if isinstance(data, bytes):
            await self.comm.send_to(bytes_data=data)
        else:
            await self.comm.send_to(text_data=data)

    async def request(self, timeout: float = 10, **body: Any) -> pb.Frame:
        request_id = next(self._ids)
        future: asyncio.Future[pb.Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self.send_raw(codec.encode(pb.Frame(request_id=request_id, **body), self.encoding))
        return await asyncio.wait_for(future, timeout)

    async def login(
        self,
        *,
        app_key: str,
        accid: str,
        token: str = DEFAULT_TOKEN,
        device_id: str = "dev-1",
        platform: int = pb.PLATFORM_ANDROID,
        cursor: str = "",
        heartbeat: int = 0,
    ) -> pb.Frame:
        login = pb.Login(
            app_key=app_key, accid=accid, token=token, device_id=device_id, platform=platform,  # type: ignore[arg-type]
            sync_cursor=cursor, heartbeat_interval=heartbeat, protocol_version=1,
        )  # fmt: skip
        return await self.request(login=login)

    async def send_text(self, target: str, text: str, client_msg_id: str, *, team: bool = False) -> pb.Frame:
        kind = pb.CONVERSATION_TYPE_TEAM if team else pb.CONVERSATION_TYPE_P2P
        send = pb.SendMessage(
            conversation_type=kind,
            target=target,
            type=pb.MESSAGE_TYPE_TEXT,
            text=text,
            client_msg_id=client_msg_id,
        )
        return await self.request(send=send)

    async def next_push(self, kind: str, timeout: float = 5) -> pb.Frame:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.pushes.get()
                if frame.WhichOneof("body") == kind:
                    return frame

    async def no_push(self, wait: float = 0.3) -> list[pb.Frame]:
        """Whatever was pushed within ``wait`` seconds (expected: nothing)."""
        await asyncio.sleep(wait)
        frames = []
        while not self.pushes.empty():
            frames.append(self.pushes.get_nowait())
        return frames

    async def wait_closed(self, timeout: float = 5) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(Exception):
            await self.comm.disconnect()
