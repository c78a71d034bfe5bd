"""The baseline: a bare ``websockets`` relay speaking the same frames, with no storage and no acks.

It does the least a relay can: Login registers the connection under its accid and answers a
LoginResult; SendMessage is turned into a Message push (encoded once) and written to the target's
connections (one-to-one) or to every member's connections (team, membership from --teams). Ping
gets a Pong. Nothing is stored, checked or acknowledged.

Run several processes to use several cores, as the gateway does: each process forwards what it
cannot deliver locally to its peers over plain TCP links (length-prefixed records), and a peer
delivers to whichever of the users it holds. With two processes that is exactly one hop to the
other process, the same path our gateway takes across processes (minus Redis).

    python bench/relay.py --port 9001 --peer-port 9101 --peers 9102 --teams teams.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import struct
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.protocol import imcloud_pb2 as pb

USER, TEAM = b"U", b"T"
RECORD = struct.Struct("!IcH")  # total length after the first 4 bytes, kind, target length


class Relay:
    def __init__(self, teams: dict[str, list[str]]) -> None:
        self.teams = teams
        self.by_accid: dict[str, set[ServerConnection]] = defaultdict(set)
        self.peers: list[asyncio.StreamWriter] = []

    # --- delivery ---------------------------------------------------------------------------------

    def deliver_user(self, accid: str, data: bytes) -> bool:
        conns = self.by_accid.get(accid)
        if not conns:
            return False
        broadcast(conns, data)
        return True

    def deliver_team(self, team: str, data: bytes, exclude: ServerConnection | None) -> None:
        targets = []
        by_accid = self.by_accid
        for accid in self.teams.get(team, ()):
            conns = by_accid.get(accid)
            if conns:
                targets.extend(conns)
        if exclude is not None and exclude in targets:
            targets.remove(exclude)
        broadcast(targets, data)

    def forward(self, kind: bytes, target: str, data: bytes) -> None:
        name = target.encode()
        record = RECORD.pack(1 + 2 + len(name) + len(data), kind, len(name)) + name + data
        for writer in self.peers:
            if not writer.is_closing():
                writer.write(record)

    # --- client connections -----------------------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        accid = ""
        try:
            async for raw in ws:
                if isinstance(raw, str):
                    continue
                frame = pb.Frame.FromString(raw)
                kind = frame.WhichOneof("body")
                if kind == "send":
                    self.on_send(ws, accid, frame.send)
                elif kind == "login":
                    accid = frame.login.accid
                    self.by_accid[accid].add(ws)
                    result = pb.LoginResult(
                        session_id=f"relay-{id(ws):x}",
                        server_time=int(time.time() * 1000),
                        protocol_version=1,
                    )
                    await ws.send(
                        pb.Frame(request_id=frame.request_id, login_result=result).SerializeToString()
                    )
                elif kind == "ping":
                    pong = pb.Pong(server_time=int(time.time() * 1000))
                    await ws.send(pb.Frame(request_id=frame.request_id, pong=pong).SerializeToString())
        except ConnectionClosed:
            pass
        finally:
            conns = self.by_accid.get(accid)
            if conns is not None:
                conns.discard(ws)
                if not conns:
                    del self.by_accid[accid]

    def on_send(self, ws: ServerConnection, accid: str, send: pb.SendMessage) -> None:
        team = send.conversation_type == pb.CONVERSATION_TYPE_TEAM
        message = pb.Message(
            conversation_type=send.conversation_type,
            target=send.target if team else accid,
            from_accid=accid,
            server_time=int(time.time() * 1000),
            type=send.type,
            client_msg_id=send.client_msg_id,
            text=send.text,
            ext=send.ext,
        )
        data = pb.Frame(message=message).SerializeToString()
        if team:
            self.deliver_team(send.target, data, exclude=ws)
            self.forward(TEAM, send.target, data)
        elif not self.deliver_user(send.target, data):
            self.forward(USER, send.target, data)

    # --- links between relay processes ----------------------------------------------------------

    async def on_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(4)
                (length,) = struct.unpack("!I", head)
                body = await reader.readexactly(length)
                kind, name_len = body[:1], int.from_bytes(body[1:3], "big")
                target = body[3 : 3 + name_len].decode()
                data = body[3 + name_len :]
                if kind == TEAM:
                    self.deliver_team(target, data, exclude=None)
                else:
                    self.deliver_user(target, data)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # a peer went away, or we are shutting down
        finally:
            writer.close()

    async def link(self, port: int, deadline: float) -> None:
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            self.peers.append(writer)
            return


async def main(args: argparse.Namespace) -> None:
    teams: dict[str, list[str]] = json.loads(Path(args.teams).read_text()) if args.teams else {}
    relay = Relay(teams)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    peer_server = await asyncio.start_server(relay.on_peer, "127.0.0.1", args.peer_port)
    deadline = time.monotonic() + 30
    await asyncio.gather(*(relay.link(port, deadline) for port in args.peers))
    async with serve(
        relay.handler,
        "127.0.0.1",
        args.port,
        subprotocols=[Subprotocol("imcloud.v1.proto")],
        compression=None,
        max_size=64 * 1024,
        max_queue=None,
    ):
        print(f"relay listening on 127.0.0.1:{args.port}", flush=True)
        await stop
    peer_server.close()
    for writer in relay.peers:
        with contextlib.suppress(Exception):
            writer.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--peer-port", type=int, required=True)
    parser.add_argument("--peers", type=lambda s: [int(p) for p in s.split(",") if p], default=[])
    parser.add_argument("--teams", help="JSON file: {team id: [member accids]}")
    args = parser.parse_args()
    runner: Any = asyncio.run
    try:
        import uvloop  # type: ignore[import-not-found]

        runner = uvloop.run
    except ImportError:
        pass
    runner(main(args))


if __name__ == "__main__":
    cli()
