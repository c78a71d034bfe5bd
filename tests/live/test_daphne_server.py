"""The gateway's daphne (apps/gateway/daphne_server.py) as a client on the wire sees it: frames
written straight to the socket or through Twisted's buffer arrive whole and in order, and neither
daphne nor uvicorn (as scripts/run.py starts them) sends WebSocket pings."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb
from tests.gateway_client import GatewayClient
from tests.live.stack import create_users, manage, running_gateways, stack_env
from tests.markers import requires_services

pytestmark = [pytest.mark.live, requires_services]

OP_BINARY, OP_PING = 0x2, 0x9
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RawWebSocket:
    """A bare RFC 6455 client on asyncio streams, speaking imcloud.v1.proto. It shows every frame
    the server sends as it is, pings included (the websockets library answers those unseen), and
    reads only when told to."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, ws_url: str, *, receive_buffer: int = 1 << 16) -> RawWebSocket:
        url = urlsplit(ws_url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect: the window the client offers in its SYN follows from it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {url.path} HTTP/1.1\r\n"
                f"Host: {url.netloc}\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {codec.Encoding.PROTO.value}\r\n"
                "\r\n"
            ).encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {
            name.lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])
        }
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert head[0].startswith("HTTP/1.1 101 "), head
        assert (headers["sec-websocket-accept"], headers["sec-websocket-protocol"]) == (
            accept,
            codec.Encoding.PROTO.value,
        )
        return cls(reader, writer)

    async def send(self, frame: pb.Frame) -> None:
        """One binary message, masked as RFC 6455 has clients send."""
        payload = frame.SerializeToString()
        mask = os.urandom(4)
        size = len(payload)
        header = (
            struct.pack("!BB", 0x80 | OP_BINARY, 0x80 | size)
            if size < 126
            else struct.pack("!BBH", 0x80 | OP_BINARY, 0x80 | 126, size)
        )
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def read_frame(self) -> tuple[int, bytes]:
        """The next frame as sent: its opcode and payload. Servers send final, unmasked frames."""
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        extended = {126: "!H", 127: "!Q"}.get(size)
        if extended is not None:
            (size,) = struct.unpack(extended, await self.reader.readexactly(struct.calcsize(extended)))
        assert (first & 0x80, second & 0x80) == (0x80, 0), (first, second)  # FIN, no mask
        return first & 0x0F, await self.reader.readexactly(size)

    async def receive(self) -> pb.Frame:
        """The next frame, which must be a binary imcloud Frame."""
        opcode, payload = await self.read_frame()
        assert opcode == OP_BINARY, (opcode, payload)
        frame = pb.Frame()
        frame.ParseFromString(payload)
        return frame

    async def request(self, frame: pb.Frame) -> pb.Frame:
        await self.send(frame)
        return await self.receive()

    async def frames_within(self, seconds: float) -> list[tuple[int, bytes]]:
        """Every frame that arrives within ``seconds``."""
        frames: list[tuple[int, bytes]] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    frames.append(await self.read_frame())
        return frames

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def login_frame(keys: dict[str, str], accid: str, token: str, heartbeat: int = 0) -> pb.Frame:
    return pb.Frame(
        request_id=1,
        login=pb.Login(
            app_key=keys["app_key"],
            accid=accid,
            token=token,
            device_id=f"{accid}-raw",
            platform=pb.PLATFORM_LINUX,
            heartbeat_interval=heartbeat,
            protocol_version=1,
        ),
    )


def create_app(env: dict[str, str]) -> dict[str, str]:
    keys: dict[str, str] = json.loads(
        manage(env, "create_app", "--owner-email", "dev@example.com", "--name", "D")
    )
    return keys


# Mostly four-byte UTF-8: 4,800 characters make a frame of about 18 KB.
SYMBOLS = "🙂🚀🌍🎉水"
MESSAGES = 300


def message_text(index: int) -> str:
    """4,800 characters (the limit is 5,000), different for every index."""
    shift = index % len(SYMBOLS)
    return f"#{index:03d} " + (SYMBOLS[shift:] + SYMBOLS[:shift]) * 959


async def test_frames_stay_in_order_when_the_receiver_backs_up(
    tmp_path: Path, live_database: str, live_redis: str
) -> None:
    # 300 sends in a row could outrun the default frame rate (100 a second, bursts of 200).
    env = stack_env(
        tmp_path,
        DATABASE_URL=live_database,
        REDIS_URL=live_redis,
        IMCLOUD_GATEWAY_RATE_PER_SECOND="1000",
        IMCLOUD_GATEWAY_RATE_BURST="1000",
    )
    texts = [message_text(index) for index in range(MESSAGES)]
    # Far more than bob's 4 KB receive buffer, the gateway's kernel send buffer (4 MB at most,
    # net.ipv4.tcp_wmem) and what bob's stream reader takes in before it stops reading the socket.
    assert sum(len(text.encode()) for text in texts) > 5_000_000
    with running_gateways(env, 1, tmp_path) as gateways:
        keys = create_app(env)
        tokens = create_users(gateways.bases[0], keys, ("alice", "bob"))
        bob = await RawWebSocket.open(gateways.ws(0), receive_buffer=4096)
        logged_in = await bob.request(login_frame(keys, "bob", tokens["bob"]))
        assert logged_in.WhichOneof("body") == "login_result", logged_in
        alice = await GatewayClient(gateways.ws(0)).connect()
        alice_in = await alice.login(app_key=keys["app_key"], accid="alice", token=tokens["alice"])
        assert alice_in.WhichOneof("body") == "login_result", alice_in

        # Bob reads nothing while alice sends: her acks keep coming all the same.
        replies = [await alice.send_text("bob", text, f"big-{index}") for index, text in enumerate(texts)]
        assert [(reply.WhichOneof("body"), reply.send_ack.seq) for reply in replies] == [
            ("send_ack", seq) for seq in range(1, MESSAGES + 1)
        ]

        async with asyncio.timeout(30):
            pushed = [await bob.receive() for _ in range(MESSAGES)]
        assert [(frame.WhichOneof("body"), frame.message.seq, frame.message.text) for frame in pushed] == [
            ("message", seq, text) for seq, text in enumerate(texts, start=1)
        ]
        await alice.close()
        await bob.close()


async def test_servers_send_no_websocket_pings(tmp_path: Path, live_database: str, live_redis: str) -> None:
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with (
        running_gateways(env, 1, tmp_path, server="daphne") as daphne,
        running_gateways(env, 1, tmp_path, server="uvicorn") as uvicorn,
    ):
        keys = create_app(env)
        tokens = create_users(daphne.bases[0], keys, ("alice", "bob"))
        clients = [await RawWebSocket.open(daphne.ws(0)), await RawWebSocket.open(uvicorn.ws(0))]
        logins = [
            await client.request(login_frame(keys, accid, tokens[accid], heartbeat=60))
            for client, accid in zip(clients, ("alice", "bob"), strict=True)
        ]
        assert [(frame.WhichOneof("body"), frame.login_result.idle_timeout) for frame in logins] == [
            ("login_result", 130),
            ("login_result", 130),
        ]

        # daphne's stock default pings a connection idle for 20 s, uvicorn's every 20 s.
        seen = await asyncio.gather(*(client.frames_within(23) for client in clients))
        assert seen == [[], []]  # no ping (opcode 0x9), nor anything else, on an idle connection

        # Both connections are still open and answer the protocol's own heartbeat.
        pongs = [
            await client.request(pb.Frame(request_id=2, ping=pb.Ping(client_time=1))) for client in clients
        ]
        assert [(frame.request_id, frame.WhichOneof("body")) for frame in pongs] == [(2, "pong"), (2, "pong")]
        for client in clients:
            await client.close()
