"""Bad input and bad servers: a clear event, and no reconnect loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from imcloud_sdk import Client, ClientOptions, ConnectionState, ImError, pb
from websockets.asyncio.server import ServerConnection, serve

from tests.markers import requires_services
from tests.sdk.python.cloud import Cloud, Recorder


@pytest.mark.live
@requires_services
@pytest.mark.parametrize(("change", "code"), [("app_key", "unknown_app"), ("token", "bad_credentials")])
async def test_refused_credentials_fail_login_once_and_never_retry(cloud: Cloud, change: str, code: str):
    options = cloud.options(app_key="no-such-app") if change == "app_key" else cloud.options()
    client = Client(options)
    seen = Recorder().attach(client)
    token = "wrong-token" if change == "token" else cloud.tokens["alice"]
    with pytest.raises(ImError) as refused:
        await client.login("alice", token)
    assert refused.value.code == code
    assert client.state is ConnectionState.AUTH_FAILED
    await asyncio.sleep(3)  # a reconnect loop would have tried again several times by now
    assert client.stats["connect_attempts"] == 1
    assert seen.states == ["connecting", "auth_failed"]
    assert [e.code for e in seen.errors] == [code]
    with pytest.raises(ImError) as after:
        await client.send_text("bob", "hello?")
    assert after.value.code == code
    await client.close()


@pytest.mark.live
@requires_services
async def test_a_login_from_the_same_device_kicks_the_first_which_stays_down(cloud: Cloud):
    first = Client(cloud.options(device="shared"))
    first_seen = Recorder().attach(first)
    await first.login("alice", cloud.tokens["alice"])
    second = Client(cloud.options(device="shared"))
    await second.login("alice", cloud.tokens["alice"])
    try:
        await first.wait_for_state(ConnectionState.KICKED)
        await asyncio.sleep(2)
        assert first.state is ConnectionState.KICKED
        assert first.stats["connect_attempts"] == 1
        assert [e.code for e in first_seen.errors] == ["kicked"]
        assert first_seen.errors[0].details["reason"] == "KICK_REASON_OTHER_DEVICE"
        assert second.state is ConnectionState.CONNECTED
    finally:
        await first.close()
        await second.close()


# --- fake servers: no live stack needed ----------------------------------------------------------


@pytest.fixture
async def fake_server() -> AsyncIterator[Callable[[Callable[[ServerConnection], object]], object]]:
    servers = []
    connections: list[int] = []

    async def start(behaviour: Callable[[ServerConnection], object]) -> tuple[str, list[int]]:
        async def handler(connection: ServerConnection) -> None:
            connections.append(1)
            await behaviour(connection)  # type: ignore[misc]

        server = await serve(handler, "127.0.0.1", 0, subprotocols=["imcloud.v1.proto"])  # type: ignore[list-item]
        servers.append(server)
        port = next(iter(server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws", connections

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _client(url: str, **extra: float) -> tuple[Client, Recorder]:
    client = Client(ClientOptions(app_key="k", endpoints=[url], connect_timeout=3.0, **extra))
    return client, Recorder().attach(client)


async def test_an_older_protocol_version_is_a_clear_error_and_no_retry(fake_server):
    async def old_server(connection: ServerConnection) -> None:
        frame = pb.Frame.FromString(await connection.recv())  # type: ignore[arg-type]
        reply = pb.Frame(
            request_id=frame.request_id, login_result=pb.LoginResult(session_id="s", protocol_version=0)
        )
        await connection.send(reply.SerializeToString())
        await connection.wait_closed()

    url, connections = await fake_server(old_server)
    client, seen = _client(url)
    with pytest.raises(ImError) as mismatch:
        await client.login("alice", "t")
    assert mismatch.value.code == "protocol_mismatch"
    await asyncio.sleep(2)
    assert len(connections) == 1
    assert [e.code for e in seen.errors] == ["protocol_mismatch"]
    assert client.state is ConnectionState.DISCONNECTED
    await client.close()


async def test_garbage_frames_are_reported_and_retried_on_the_ladder_not_in_a_tight_loop(fake_server):
    async def garbage(connection: ServerConnection) -> None:
        await connection.recv()
        await connection.send(b"\xff\xff\xff\xff not a frame")
        await connection.wait_closed()

    url, connections = await fake_server(garbage)
    client, seen = _client(url, request_timeout=4.0)
    with pytest.raises(ImError) as timed_out:
        await client.login("alice", "t")
    assert timed_out.value.code == "timeout"
    assert seen.errors
    assert {e.code for e in seen.errors} == {"garbage_frame"}
    # 4 s into the outage: the first retry at once, then one every 0.8 s +-20%: at most 8 attempts
    # (a tight loop would make hundreds).
    assert 2 <= len(connections) <= 8
    assert client.stats["connect_attempts"] == len(connections)
    assert client.state is not ConnectionState.CONNECTED
    await client.close()
