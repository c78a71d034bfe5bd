"""A message sent through the REST API reaches the recipient's live WebSocket session."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from imcloud.asgi import application
from tests.factories import DEFAULT_TOKEN, AppFactory, ImUserFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit hooks must fire to publish


@pytest.fixture
def api() -> SignedClient:
    client = SignedClient(AppFactory())
    ImUserFactory(app=client.app, accid="alice")
    ImUserFactory(app=client.app, accid="bob")
    return client


async def logged_in(app_key: str, accid: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws", subprotocols=["imcloud.v1.json"])
    connected, subprotocol = await communicator.connect()
    assert (connected, subprotocol) == (True, "imcloud.v1.json")
    login = {
        "appKey": app_key,
        "accid": accid,
        "token": DEFAULT_TOKEN,
        "deviceId": "d1",
        "platform": "PLATFORM_ANDROID",
    }
    await communicator.send_json_to({"requestId": "1", "login": login})
    result = await communicator.receive_json_from(timeout=5)
    assert result["requestId"] == "1"
    assert "loginResult" in result
    return communicator


@pytest.mark.asyncio
async def test_a_rest_send_is_pushed_to_the_recipient(api):
    bob = await logged_in(api.app.app_key, "bob")
    try:
        first = await sync_to_async(api.post)(
            "/api/v1/messages",
            {"from": "alice", "conversation_type": "p2p", "to": "bob", "type": "text", "text": "hi"},
        )
        second = await sync_to_async(api.post)(
            "/api/v1/messages",
            {"from": "alice", "conversation_type": "p2p", "to": "bob", "type": "text", "text": "2nd"},
        )
        pushes = [await bob.receive_json_from(timeout=5), await bob.receive_json_from(timeout=5)]
    finally:
        await bob.disconnect()
    assert (first.status_code, second.status_code) == (201, 201)
    assert [push["message"]["seq"] for push in pushes] == ["1", "2"]
    assert pushes[0]["message"] | {"serverTime": None} == {
        "serverMsgId": first.json()["server_msg_id"],
        "conversationType": "CONVERSATION_TYPE_P2P",
        "target": "alice",
        "fromAccid": "alice",
        "seq": "1",
        "serverTime": None,
        "type": "MESSAGE_TYPE_TEXT",
        "clientMsgId": first.json()["client_msg_id"],
        "text": "hi",
    }
    assert pushes[1]["message"]["text"] == "2nd"
    assert int(pushes[0]["message"]["serverTime"]) == first.json()["server_time"]
