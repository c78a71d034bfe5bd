"""Multi-device policy and kicks, including kicks ordered through the REST API."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from apps.imusers.services import imuser_block, imuser_set_token
from apps.protocol import imcloud_pb2 as pb
from apps.tenants.models import MultiDevicePolicy
from tests.apps.gateway.conftest import db_async
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db(transaction=True)


async def _app_with(policy: str):
    app = await db_async(AppFactory)(multi_device_policy=policy)
    await db_async(ImUserFactory)(app=app, accid="alice")
    return app


async def _login(connect, app, device_id, platform):
    client = await connect()
    result = await client.login(app_key=app.app_key, accid="alice", device_id=device_id, platform=platform)
    assert result.WhichOneof("body") == "login_result"
    return client


async def test_single_device_policy_kicks_the_older_session(connect):
    app = await _app_with(MultiDevicePolicy.SINGLE)
    phone = await _login(connect, app, "phone", pb.PLATFORM_IOS)
    await _login(connect, app, "laptop", pb.PLATFORM_MAC)
    kick = await phone.next_push("kick")
    assert kick.kick.reason == pb.KICK_REASON_OTHER_DEVICE
    assert await phone.wait_closed() == 4003


async def test_desktop_and_mobile_policy_keeps_one_of_each(connect):
    app = await _app_with(MultiDevicePolicy.DESKTOP_MOBILE)
    phone = await _login(connect, app, "phone", pb.PLATFORM_ANDROID)
    laptop = await _login(connect, app, "laptop", pb.PLATFORM_WINDOWS)
    await _login(connect, app, "tablet", pb.PLATFORM_IOS)
    assert (await phone.next_push("kick")).kick.reason == pb.KICK_REASON_OTHER_DEVICE
    assert await laptop.no_push() == []
    assert not laptop.closed.is_set()


async def test_all_devices_policy_keeps_up_to_ten(connect):
    app = await _app_with(MultiDevicePolicy.ALL)
    clients = [await _login(connect, app, f"device-{n}", pb.PLATFORM_WEB) for n in range(10)]
    await asyncio.sleep(0.2)
    assert [c for c in clients if c.closed.is_set()] == []
    await _login(connect, app, "device-10", pb.PLATFORM_WEB)
    await asyncio.sleep(0.5)
    assert len([c for c in clients if c.closed.is_set()]) == 1


async def test_the_same_device_logging_in_again_replaces_its_old_session(connect):
    app = await _app_with(MultiDevicePolicy.ALL)
    stale = await _login(connect, app, "phone", pb.PLATFORM_ANDROID)
    await _login(connect, app, "phone", pb.PLATFORM_ANDROID)
    assert await stale.wait_closed() == 4003


async def test_blocking_with_kick_through_rest_closes_live_sessions_within_a_second(app, users, connect):
    client = await connect("alice")
    response = await sync_to_async(SignedClient(app).post)("/api/v1/users/alice/block", {"kick": True})
    kick = await client.next_push("kick", timeout=1)
    assert response.status_code == 200
    assert kick.kick.reason == pb.KICK_REASON_BLOCKED
    assert await client.wait_closed(timeout=1) == 4003


async def test_blocking_without_kick_leaves_live_sessions_but_refuses_new_logins(app, users, connect):
    client = await connect("alice")
    await db_async(imuser_block)(user=users["alice"], kick=False)
    again = await connect()
    refused = await again.login(app_key=app.app_key, accid="alice")
    assert refused.error.code == "blocked"
    assert (await client.request(ping=pb.Ping())).WhichOneof("body") == "pong"


async def test_a_token_change_kicks_sessions_and_the_old_token_fails(app, users, connect):
    client = await connect("alice")
    await db_async(imuser_set_token)(user=users["alice"], token="brand-new-token")
    kick = await client.next_push("kick", timeout=1)
    again = await connect()
    refused = await again.login(app_key=app.app_key, accid="alice")
    assert kick.kick.reason == pb.KICK_REASON_TOKEN_CHANGED
    assert refused.error.code == "bad_credentials"


async def test_logout_closes_the_socket_normally(app, users, connect):
    client = await connect("alice")
    await client.send_raw(pb.Frame(request_id=5, logout=pb.Logout()).SerializeToString())
    assert await client.wait_closed() == 1000
