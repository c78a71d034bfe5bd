"""A scriptable stand-in for the gateway (a real `websockets` server on loopback) for client tests
that need a misbehaving server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from imcloud_sdk import pb
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

Script = Callable[["FakeConnection"], Awaitable[None]]


@dataclass
class FakeConnection:
    number: int
    ws: ServerConnection
    received: list[pb.Frame] = field(default_factory=list)

    async def recv(self) -> pb.Frame:
        data = await self.ws.recv()
        assert isinstance(data, bytes)
        frame = pb.Frame.FromString(data)
        self.received.append(frame)
        return frame

    async def send(self, frame: pb.Frame) -> None:
        await self.ws.send(frame.SerializeToString())

    async def ack_send(self, frame: pb.Frame, *, seq: int, server_msg_id: str = "") -> None:
        """Answer a send frame with the ack the gateway would give it."""
        ack = pb.SendAck(
            client_msg_id=frame.send.client_msg_id,
            server_msg_id=server_msg_id,
            seq=seq,
            conversation_type=frame.send.conversation_type,
            target=frame.send.target,
        )
        await self.send(pb.Frame(request_id=frame.request_id, send_ack=ack))

    async def accept_login(self, max_frame_bytes: int = 0) -> pb.Frame:
        login = await self.recv()
        assert login.WhichOneof("body") == "login"
        result = pb.LoginResult(
            session_id=f"s{self.number}", protocol_version=1, max_frame_bytes=max_frame_bytes
        )
        await self.send(pb.Frame(request_id=login.request_id, login_result=result))
        return login


class FakeGateway:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections: list[FakeConnection] = []
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"

    async def __aenter__(self) -> FakeGateway:
        async def handler(ws: ServerConnection) -> None:
            connection = FakeConnection(len(self.connections) + 1, ws)
            self.connections.append(connection)
            # The client hanging up mid-script is what most tests do.
            with contextlib.suppress(Exception):
                await self.script(connection)

        self._server = await serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("imcloud.v1.proto")])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await asyncio.wait_for(self._server.wait_closed(), 10)
