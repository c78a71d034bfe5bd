"""The client's link watchdogs against a scripted server: silent pongs, unanswered requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from imcloud_sdk import Client, ClientOptions, ConnectionState, ImError, pb

from tests.sdk.python.cloud import Recorder
from tests.sdk.python.fake_gateway import FakeConnection, FakeGateway


def _client(url: str, **extra: Any) -> tuple[Client, Recorder]:
    client = Client(ClientOptions(app_key="k", endpoints=[url], connect_timeout=5.0, **extra))
    return client, Recorder().attach(client)


async def test_a_missing_pong_closes_the_link_and_reconnects_and_answered_pings_count_as_successes():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            # The first connection swallows pings (a dead NAT mapping); later ones answer them.
            if frame.WhichOneof("body") == "ping" and connection.number > 1:
                await connection.send(pb.Frame(request_id=frame.request_id, pong=pb.Pong(server_time=1)))

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, heartbeat_min=0.5, pong_timeout=1.0)
        await client.login("alice", "t")
        await seen.wait(lambda: len(gateway.connections) == 2, timeout=20)
        await seen.wait(lambda: any(e["event"] == "pong" for e in client.dump_log()), timeout=20)
        events = [e["event"] for e in client.dump_log()]
        assert events.index("heartbeat_failed") < events.index("pong")
        first_link_pings = [f for f in gateway.connections[0].received if f.WhichOneof("body") == "ping"]
        assert len(first_link_pings) == 1  # one unanswered ping is enough to drop the link
        assert client.state is ConnectionState.CONNECTED
        assert client.stats["logins"] == 2
        await client.close()


async def test_an_unanswered_request_drops_the_link_and_is_resent_with_the_same_client_msg_id():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            if frame.WhichOneof("body") != "send" or connection.number == 1:
                continue  # the first link eats the send: no ack, ever
            await connection.ack_send(frame, seq=1, server_msg_id="m1")

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, first_response_timeout=1.0, heartbeat_min=60.0)
        await client.login("alice", "t")
        ack = await asyncio.wait_for(client.send_text("bob", "hello", client_msg_id="c-1"), 20)
        assert (ack.client_msg_id, ack.seq) == ("c-1", 1)
        sends = [
            (c.number, f.send.client_msg_id) for c in gateway.connections for f in c.received if f.send.text
        ]
        assert sends == [(1, "c-1"), (2, "c-1")]
        assert any(e["event"] == "first_response_timeout" for e in client.dump_log())
        assert client.stats["resent"] == 2  # the send, and the conversation sync the fake never answers
        assert seen.errors == []
        await client.close()


async def test_a_request_with_no_reply_anywhere_fails_with_timeout_after_the_total_time():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            await connection.recv()

    async with FakeGateway(script) as gateway:
        client, seen = _client(
            gateway.url, first_response_timeout=30.0, request_timeout=1.5, heartbeat_min=60.0
        )
        await client.login("alice", "t")
        with pytest.raises(ImError) as timed_out:
            await asyncio.wait_for(client.send_text("bob", "into the void", client_msg_id="v-1"), 10)
        assert timed_out.value.code == "timeout"
        await seen.wait(lambda: [e.code for e in seen.errors] == ["send_failed"])
        assert seen.errors[0].details == {"cause": "timeout", "client_msg_id": "v-1"}
        with pytest.raises(ImError) as per_call:
            await asyncio.wait_for(client.get_team(team_id="t1", timeout=0.5), 10)
        assert per_call.value.code == "timeout"
        # A slow reply is not a dead link until first_response_timeout.
        assert client.state is ConnectionState.CONNECTED
        assert client.stats["logins"] == 1
        await client.close()


async def test_an_app_may_close_the_client_from_inside_an_event_handler():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        kick = pb.Kick(reason=pb.KICK_REASON_OTHER_DEVICE, detail="a newer login")
        await connection.send(pb.Frame(kick=kick))
        await connection.ws.wait_closed()

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url)
        closed = asyncio.Event()

        async def on_state(state: ConnectionState, detail: object) -> None:
            if state is ConnectionState.KICKED:
                await client.close()
                closed.set()

        client.on("state", on_state)
        await client.login("alice", "t")
        await asyncio.wait_for(closed.wait(), 10)
        assert client.state is ConnectionState.DISCONNECTED
        assert [e.code for e in seen.errors] == ["kicked"]
        assert len(gateway.connections) == 1


async def test_a_link_reset_under_an_unanswered_ping_counts_as_a_heartbeat_failure():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            if frame.WhichOneof("body") == "ping":
                if connection.number == 1:
                    await connection.ws.close()  # what a middlebox's reset after an idle spell looks like
                    return
                await connection.send(pb.Frame(request_id=frame.request_id, pong=pb.Pong(server_time=1)))

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, heartbeat_min=0.5, pong_timeout=5.0)
        await client.login("alice", "t")
        await seen.wait(lambda: any(e["event"] == "pong" for e in client.dump_log()), timeout=20)
        failures = [e for e in client.dump_log() if e["event"] == "heartbeat_failed"]
        assert len(failures) == 1
        assert failures[0]["reason"].startswith("closed")
        assert client.stats["logins"] == 2
        await client.close()


async def test_network_changed_reconnects_at_once_and_the_background_state_is_told_on_every_link():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            if frame.WhichOneof("body") == "app_state":
                await connection.send(pb.Frame(request_id=frame.request_id, ack=pb.Ack()))

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, heartbeat_min=60.0)
        await client.login("alice", "t")
        client.set_foreground(False)
        await seen.wait(lambda: any(f.HasField("app_state") for f in gateway.connections[0].received))
        client.network_changed("cellular")
        await seen.wait(lambda: client.stats["logins"] == 2 and len(gateway.connections) == 2)
        await seen.wait(lambda: any(f.HasField("app_state") for f in gateway.connections[1].received))
        states = [
            f.app_state.foreground for c in gateway.connections for f in c.received if f.HasField("app_state")
        ]
        assert states == [False, False]
        waits = [e for e in client.dump_log() if e["event"] == "reconnect_wait"]
        assert waits == []  # straight back, no backoff
        assert [e["network"] for e in client.dump_log() if e["event"] == "network_changed"] == ["cellular"]
        await client.close()


async def test_a_frame_over_the_servers_limit_is_refused_at_once_instead_of_resent_forever():
    async def script(connection: FakeConnection) -> None:
        await connection.accept_login(max_frame_bytes=300)
        while True:
            await connection.recv()

    async with FakeGateway(script) as gateway:
        client, _ = _client(gateway.url, heartbeat_min=60.0)
        await client.login("alice", "t")
        with pytest.raises(ImError) as too_large:
            await client.send_text("bob", "x" * 400)
        assert too_large.value.code == "frame_too_large"
        assert not [f for f in gateway.connections[0].received if f.HasField("send")]
        assert client.stats["logins"] == 1
        await client.close()


def _message(seq: int) -> pb.Message:
    return pb.Message(
        conversation_type=pb.CONVERSATION_TYPE_P2P, target="bob", from_accid="bob", seq=seq, text=f"#{seq}"
    )


async def test_a_gap_in_pushes_is_filled_by_sync_and_everything_handed_over_in_order_once():
    syncs: list[pb.SyncRequest] = []

    async def script(connection: FakeConnection) -> None:
        await connection.accept_login()
        while True:
            frame = await connection.recv()
            if not frame.HasField("sync"):
                continue
            syncs.append(frame.sync)
            if not frame.sync.target:  # the conversation list after login: bob's chat, seq 1 so far
                summary = pb.ConversationSummary(
                    conversation_type=pb.CONVERSATION_TYPE_P2P, target="bob", last_seq=1
                )
                result = pb.SyncResult(conversations=[summary], cursor="c1")
                await connection.send(pb.Frame(request_id=frame.request_id, sync_result=result))
                # Live pushes, out of order and repeated, as an at-most-once fan-out may deliver them.
                for seq in (2, 4, 2, 5):
                    await connection.send(pb.Frame(message=_message(seq)))
            else:
                missing = [_message(seq) for seq in range(frame.sync.after_seq + 1, 6)]
                await connection.send(
                    pb.Frame(request_id=frame.request_id, sync_result=pb.SyncResult(messages=missing))
                )

    async with FakeGateway(script) as gateway:
        client, seen = _client(gateway.url, heartbeat_min=60.0)
        await client.login("alice", "t")
        await seen.wait(lambda: len(seen.messages) == 4)
        await asyncio.sleep(0.3)  # room for a duplicate to show up, were there one
        assert [m.seq for m in seen.messages] == [2, 3, 4, 5]
        fetches = [(s.target, s.after_seq) for s in syncs if s.target]
        assert fetches == [("bob", 2)]
        assert client.cursor == "c1"
        await client.close()
