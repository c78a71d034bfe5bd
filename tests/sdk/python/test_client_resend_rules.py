"""When a request is sent again: idempotent ones after a lost link, any after a rate-limit refusal."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from imcloud_sdk import Client, ClientOptions, ConnectionState, ImError, pb

from tests.live.stack import free_port
from tests.sdk.python.cloud import Recorder
from tests.sdk.python.fake_gateway import FakeConnection, FakeGateway


def _client(url: str, **extra: Any) -> tuple[Client, Recorder]:
    options: dict[str, Any] = {"connect_timeout": 5.0, "heartbeat_min": 60.0, **extra}
    client = Client(ClientOptions(app_key="k", endpoints=[url], **options))
    return client, Recorder().attach(client)


async def _answer_sync(connection: FakeConnection, frame: pb.Frame) -> bool:
    if frame.HasField("sync"):
        await connection.send(pb.Frame(request_id=frame.request_id, sync_result=pb.SyncResult(cursor="c1")))
        return True
    return False


def _kinds(connection: FakeConnection) -> list[str]:
    return [str(f.WhichOneof("body")) for f in connection.received]


async def test_a_lost_link_fails_what_is_not_idempotent_and_resends_what_is():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            if await _answer_sync(connection, frame):
                continue
            if connection.number == 1:
                kinds = _kinds(connection)
                if "create_team" in kinds and "get_team" in kinds:
                    await connection.ws.close()  # both written, neither answered: the link dies
                    return
            elif frame.HasField("get_team") or frame.HasField("create_team"):
                info = pb.TeamInfo(team_id=frame.get_team.team_id or "new", name="Crew")
                await connection.send(pb.Frame(request_id=frame.request_id, team_info=info))

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, request_timeout=30.0)
        await client.login("alice", "t")
        create = asyncio.create_task(client.create_team(name="Crew", members=["bob"]))
        get = asyncio.create_task(client.get_team(team_id="t1"))
        with pytest.raises(ImError) as lost:
            await asyncio.wait_for(create, 15)  # well before request_timeout
        assert lost.value.code == "connection_lost"
        team = await asyncio.wait_for(get, 15)
        assert team.team_id == "t1"
        assert len(gateway.connections) == 2
        # Creating a team twice would make two teams: the second link never saw create_team.
        assert "create_team" not in _kinds(gateway.connections[1])
        assert _kinds(gateway.connections[1]).count("get_team") == 1
        assert any(e["event"] == "connection_lost" and e["kind"] == "create_team" for e in client.dump_log())
        assert [e.code for e in seen.errors] == []  # the caller got the error; no event besides
        await client.close()


async def test_a_request_never_written_goes_on_the_next_link_even_when_not_idempotent():
    drop, release = asyncio.Event(), asyncio.Event()

    async def script(connection: FakeConnection) -> None:
        if connection.number > 1:
            await release.wait()  # the client waits, link-less, while the request is made
        await connection.accept_login()
        while True:
            if connection.number == 1:
                await drop.wait()
                await connection.ws.close()
                return
            frame = await connection.recv()
            if frame.HasField("create_team"):
                info = pb.TeamInfo(team_id="t9", name=frame.create_team.name)
                await connection.send(pb.Frame(request_id=frame.request_id, team_info=info))
            else:
                await _answer_sync(connection, frame)

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, request_timeout=30.0)
        await client.login("alice", "t")
        drop.set()
        await seen.wait(lambda: client.state is not ConnectionState.CONNECTED, timeout=10)
        create = asyncio.create_task(client.create_team(name="Crew"))
        await asyncio.sleep(0)
        release.set()
        team = await asyncio.wait_for(create, 15)
        assert (team.team_id, team.name) == ("t9", "Crew")
        assert "create_team" not in _kinds(gateway.connections[0])
        assert _kinds(gateway.connections[-1]).count("create_team") == 1
        await client.close()


async def test_a_rate_limited_request_is_sent_again_on_the_same_link_after_a_doubling_pause():
    sent_at: list[float] = []

    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            if await _answer_sync(connection, frame) or not frame.HasField("send"):
                continue
            sent_at.append(time.monotonic())
            if len(sent_at) <= 2:
                refusal = pb.Error(code="rate_limited", message="Too many frames; slow down.")
                await connection.send(pb.Frame(request_id=frame.request_id, error=refusal))
                continue
            await connection.ack_send(frame, seq=1)

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, rate_limit_delay=0.3, request_timeout=30.0)
        await client.login("alice", "t")
        ack = await asyncio.wait_for(client.send_text("bob", "hello", client_msg_id="r-1"), 15)
        assert (ack.client_msg_id, ack.seq) == ("r-1", 1)
        sends = [f.send.client_msg_id for f in gateway.connections[0].received if f.HasField("send")]
        assert sends == ["r-1", "r-1", "r-1"]
        assert len(gateway.connections) == 1
        assert sent_at[1] - sent_at[0] >= 0.3
        assert sent_at[2] - sent_at[1] >= 0.6
        waits = [e["retry_in"] for e in client.dump_log() if e["event"] == "rate_limited"]
        assert waits == [0.3, 0.6]
        assert seen.errors == []  # a refusal is not an error of the app's
        assert client.stats["logins"] == 1
        await client.close()


async def test_rate_limit_pauses_stop_doubling_at_the_maximum_and_end_with_the_total_timeout():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            if not await _answer_sync(connection, frame):
                refusal = pb.Error(code="rate_limited")
                await connection.send(pb.Frame(request_id=frame.request_id, error=refusal))

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, rate_limit_delay=0.1, rate_limit_max=0.25)
        await client.login("alice", "t")
        with pytest.raises(ImError) as timed_out:
            await asyncio.wait_for(client.get_team(team_id="t1", timeout=1.6), 10)
        assert timed_out.value.code == "timeout"
        waits = [e["retry_in"] for e in client.dump_log() if e["event"] == "rate_limited"]
        assert waits[:3] == [0.1, 0.2, 0.25]
        assert len(waits) >= 4
        assert set(waits[3:]) == {0.25}
        assert client.state is ConnectionState.CONNECTED
        assert seen.errors == []
        await client.close()


class _ShortLink:
    """POST /api/v1/client/frames on loopback: refuses the first send with 429 + Retry-After, and
    hangs up without an answer on the first create_team and the first get_team."""

    def __init__(self) -> None:
        self.sends: list[tuple[float, str]] = []
        self.posts: list[str] = []
        shortlink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                frame = pb.Frame.FromString(self.rfile.read(int(self.headers["Content-Length"])))
                kind = str(frame.WhichOneof("body"))
                shortlink.posts.append(kind)
                status, headers = 200, {"Content-Type": "application/x-protobuf"}
                if kind in ("create_team", "get_team"):
                    if shortlink.posts.count(kind) == 1:
                        self.close_connection = True  # read, maybe carried out, never answered
                        return
                    reply = pb.Frame(request_id=frame.request_id, team_info=pb.TeamInfo(team_id="t1"))
                elif frame.HasField("send"):
                    shortlink.sends.append((time.monotonic(), frame.send.client_msg_id))
                    if len(shortlink.sends) == 1:
                        status, headers["Retry-After"] = 429, "1"
                        reply = pb.Frame(request_id=frame.request_id, error=pb.Error(code="rate_limited"))
                    else:
                        ack = pb.SendAck(client_msg_id=frame.send.client_msg_id, seq=1, target="bob")
                        reply = pb.Frame(request_id=frame.request_id, send_ack=ack)
                else:
                    reply = pb.Frame(request_id=frame.request_id, sync_result=pb.SyncResult(cursor="h1"))
                body = reply.SerializeToString()
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def shortlink() -> Iterator[_ShortLink]:
    link = _ShortLink()
    thread = threading.Thread(target=link.server.serve_forever, daemon=True)
    thread.start()
    yield link
    link.server.shutdown()
    link.server.server_close()


async def test_the_short_links_429_is_honoured_with_its_retry_after(shortlink: _ShortLink):
    dead = f"ws://127.0.0.1:{free_port()}/ws"
    client = Client(
        ClientOptions(app_key="k", endpoints=[dead], http_endpoints=[shortlink.base], http_poll_interval=30.0)
    )
    seen = Recorder().attach(client)
    await client.login("alice", "t")
    assert client.transport == "http"
    ack = await asyncio.wait_for(client.send_text("bob", "over http", client_msg_id="h-1"), 15)
    assert ack.client_msg_id == "h-1"
    assert [cid for _, cid in shortlink.sends] == ["h-1", "h-1"]
    assert shortlink.sends[1][0] - shortlink.sends[0][0] >= 1.0
    waits = [e["retry_in"] for e in client.dump_log() if e["event"] == "rate_limited"]
    assert waits == [1.0]
    assert seen.errors == []
    await client.close()


async def test_on_the_short_link_a_failed_post_counts_as_a_lost_link(shortlink: _ShortLink):
    dead = f"ws://127.0.0.1:{free_port()}/ws"
    client = Client(
        ClientOptions(app_key="k", endpoints=[dead], http_endpoints=[shortlink.base], http_poll_interval=0.3)
    )
    await client.login("alice", "t")
    assert client.transport == "http"
    with pytest.raises(ImError) as lost:
        await asyncio.wait_for(client.create_team(name="Crew"), 15)
    assert lost.value.code == "connection_lost"
    # get_team is idempotent: the same hang-up leaves it queued for the short link's return.
    team = await asyncio.wait_for(client.get_team(team_id="t1"), 15)
    assert team.team_id == "t1"
    assert shortlink.posts.count("get_team") == 2
    assert shortlink.posts.count("create_team") == 1
    await client.close()
