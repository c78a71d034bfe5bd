"""Push registration over the WebSocket: register, app state, mutes, and logout unregistering."""

from __future__ import annotations

import pytest

from apps.messaging.models import ConversationMember
from apps.protocol import imcloud_pb2 as pb
from apps.push.models import Device
from tests.apps.gateway.conftest import db_async, p2p

pytestmark = pytest.mark.django_db(transaction=True)
APNS_TOKEN = "c3" * 32


def _register(token: str = APNS_TOKEN) -> pb.RegisterDevice:
    return pb.RegisterDevice(
        provider=pb.PUSH_PROVIDER_APNS, token=token, bundle_id="com.example.chat", locale="en"
    )


async def test_a_device_registers_reports_its_state_and_unregisters_on_logout(app, users, connect):
    client = await connect("alice", device_id="phone-1")
    registered = await client.request(register_device=_register())
    device = await db_async(Device.objects.get)(user=users["alice"])
    foreground = await client.request(app_state=pb.AppState(foreground=True))
    stored_foreground = await db_async(Device.objects.values_list("foreground", flat=True).get)(pk=device.pk)
    await client.send_raw(pb.Frame(request_id=9, logout=pb.Logout()).SerializeToString())
    await client.wait_closed()
    remaining = await db_async(Device.objects.filter(user=users["alice"]).count)()
    assert registered.WhichOneof("body") == "ack"
    assert (device.device_id, device.provider, device.token) == ("phone-1", "apns", APNS_TOKEN)
    assert foreground.WhichOneof("body") == "ack"
    assert stored_foreground is True
    assert remaining == 0


async def test_a_malformed_token_is_refused_at_registration(app, users, connect):
    client = await connect("alice")
    refused = await client.request(register_device=_register("not-a-token"))
    assert refused.error.code == "invalid_field"
    assert await db_async(Device.objects.count)() == 0


async def test_an_unknown_provider_is_refused(app, users, connect):
    client = await connect("alice")
    refused = await client.request(register_device=pb.RegisterDevice(token=APNS_TOKEN))
    assert refused.error.code == "invalid_field"


async def test_a_push_mute_is_stored_on_the_users_membership(app, users, connect):
    client = await connect("alice")
    await client.send_text("bob", "hi", "c-1")
    muted = await client.request(set_push_mute=pb.SetPushMute(**p2p("bob"), muted=True))
    stored = await db_async(ConversationMember.objects.values_list("push_muted", flat=True).get)(
        user=users["alice"]
    )
    assert muted.WhichOneof("body") == "ack"
    assert stored is True
