from __future__ import annotations

import asyncio

import pytest
from django.db import OperationalError

from apps.gateway import connection as gateway_connection
from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb
from tests.apps.gateway.conftest import db_async
from tests.factories import ImUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def test_login_returns_the_session_and_heartbeat_hints(app, users, connect):
    client = await connect()
    result = await client.login(app_key=app.app_key, accid="alice", heartbeat=30)
    assert result.WhichOneof("body") == "login_result"
    assert len(result.login_result.session_id) == 32
    assert result.login_result.protocol_version == 1
    assert result.login_result.idle_timeout == 30 * 2 + 10
    assert (result.login_result.heartbeat_min, result.login_result.heartbeat_max) == (5, 600)


@pytest.mark.parametrize("encoding", list(codec.Encoding))
async def test_both_encodings_speak_the_same_protocol(app, users, connect, encoding):
    client = await connect("alice", encoding=encoding)
    pong = await client.request(ping=pb.Ping(client_time=1))
    assert pong.WhichOneof("body") == "pong"
    assert pong.pong.server_time > 0


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"token": "wrong"}, "bad_credentials"),
        ({"accid": "nobody"}, "bad_credentials"),
        ({"app_key": "0" * 32}, "unknown_app"),
        ({"device_id": ""}, "invalid_field"),
        ({"platform": pb.PLATFORM_UNSPECIFIED}, "invalid_field"),
    ],
)
async def test_bad_logins_get_a_fatal_error_and_the_socket_closes(app, users, connect, overrides, code):
    client = await connect()
    args = {"app_key": app.app_key, "accid": "alice", **overrides}
    result = await client.login(**args)
    assert result.error.code == code
    assert result.error.fatal is True
    assert await client.wait_closed() == 4001


async def test_a_blocked_user_cannot_log_in(app, connect):
    await db_async(ImUserFactory)(app=app, accid="banned", is_blocked=True)
    client = await connect()
    result = await client.login(app_key=app.app_key, accid="banned")
    assert result.error.code == "blocked"
    assert await client.wait_closed() == 4001


async def test_frames_before_login_are_refused_but_the_socket_stays(app, users, connect):
    client = await connect()
    refused = await client.request(ping=pb.Ping())
    accepted = await client.login(app_key=app.app_key, accid="alice")
    assert refused.error.code == "not_logged_in"
    assert accepted.WhichOneof("body") == "login_result"


async def test_a_second_login_on_the_same_socket_is_refused(app, users, connect):
    client = await connect("alice")
    again = await client.login(app_key=app.app_key, accid="bob")
    assert again.error.code == "already_logged_in"


async def test_no_login_within_the_timeout_closes_the_socket(app, users, connect, settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_LOGIN_TIMEOUT": 1}
    client = await connect()
    assert await client.wait_closed(timeout=5) == 4008
    frames = await client.no_push(0)
    assert [f.error.code for f in frames] == ["login_timeout"]


async def test_a_silent_session_is_closed_after_its_idle_timeout(app, users, connect, settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_HEARTBEAT_MIN": 1, "GATEWAY_IDLE_GRACE": 0}
    client = await connect("alice", heartbeat=1)
    assert await client.wait_closed(timeout=6) == 4009


async def test_pings_keep_a_session_open(app, users, connect, settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_HEARTBEAT_MIN": 1, "GATEWAY_IDLE_GRACE": 0}
    client = await connect("alice", heartbeat=1)
    for _ in range(6):
        await client.request(ping=pb.Ping())
        await asyncio.sleep(0.5)
    assert not client.closed.is_set()


async def test_an_unknown_subprotocol_is_refused_at_the_handshake(app, connect):
    client = await connect(login=False, subprotocols=["mqtt"])
    assert client.accepted is False


async def test_no_subprotocol_means_json(app, users, connect):
    client = await connect("alice", subprotocols=[], encoding=codec.Encoding.JSON)
    assert (await client.request(ping=pb.Ping())).WhichOneof("body") == "pong"


async def test_a_login_the_database_fails_gets_an_error_and_may_be_retried(app, users, connect, monkeypatch):
    real = gateway_connection.session_authenticate
    calls: list[int] = []

    def fails_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(gateway_connection, "session_authenticate", fails_once)
    client = await connect()
    failed = await client.login(app_key=app.app_key, accid="alice")
    retried = await client.login(app_key=app.app_key, accid="alice")
    assert (failed.error.code, failed.error.fatal) == ("internal_error", False)
    assert retried.WhichOneof("body") == "login_result"
