"""Two daphne processes on PostgreSQL and Redis, spoken to by real WebSocket clients: the issue's
"done when", as a new user would try it."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.protocol import imcloud_pb2 as pb
from tests.gateway_client import GatewayClient
from tests.live.stack import Gateways, manage, running_gateways, signed_call, stack_env
from tests.markers import requires_services

pytestmark = [pytest.mark.live, requires_services]
P2P, TEAM = pb.CONVERSATION_TYPE_P2P, pb.CONVERSATION_TYPE_TEAM


class Cloud:
    """The app server's side: signed REST calls against one of the gateways."""

    def __init__(self, gateways: Gateways, keys: dict[str, str]) -> None:
        self.gateways, self.keys = gateways, keys
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return signed_call(self.gateways.bases[0], self.keys, method, path, body)

    async def acall(self, method: str, path: str, body: Any = None) -> Any:
        return await asyncio.to_thread(self.call, method, path, body)

    def short_link(self, gateway: int, accid: str, frame: pb.Frame) -> tuple[int, pb.Frame]:
        """POST one frame to /api/v1/client/frames as ``accid``: the HTTP status and the reply."""
        request = urllib.request.Request(
            self.gateways.bases[gateway] + "/api/v1/client/frames",
            data=frame.SerializeToString(),
            method="POST",
            headers={
                "Content-Type": "application/x-protobuf",
                "X-IM-AppKey": self.keys["app_key"],
                "X-IM-Accid": accid,
                "X-IM-Token": self.tokens[accid],
                "X-IM-Device-Id": f"{accid}-http",
                "X-IM-Platform": str(pb.PLATFORM_WEB),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        reply = pb.Frame()
        reply.ParseFromString(body)
        return status, reply

    async def ashort_link(self, gateway: int, accid: str, **body: Any) -> pb.Frame:
        status, reply = await asyncio.to_thread(
            self.short_link, gateway, accid, pb.Frame(request_id=1, **body)
        )
        assert status == 200, (status, reply)
        return reply

    async def client(
        self, gateway: int, accid: str, device: str = "phone", cursor: str = ""
    ) -> GatewayClient:
        client = await GatewayClient(self.gateways.ws(gateway)).connect()
        result = await client.login(
            app_key=self.keys["app_key"],
            accid=accid,
            token=self.tokens[accid],
            device_id=device,
            cursor=cursor,
        )
        assert result.WhichOneof("body") == "login_result", result
        return client


@pytest.fixture
def cloud(tmp_path: Path, live_database: str, live_redis: str) -> Iterator[Cloud]:
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with running_gateways(env, 2, tmp_path) as gateways:
        keys = json.loads(manage(env, "create_app", "--owner-email", "dev@example.com", "--name", "Live"))
        cloud = Cloud(gateways, keys)
        for accid in ("alice", "bob", "carol"):
            cloud.tokens[accid] = cloud.call("POST", "/api/v1/users", {"accid": accid})["token"]
        yield cloud


async def _texts(client: GatewayClient, count: int) -> list[tuple[int, str]]:
    return [((m := (await client.next_push("message")).message).seq, m.text) for _ in range(count)]


async def test_two_gateways_chat_one_to_one_and_in_a_team(cloud: Cloud):
    alice, bob, carol = (
        await cloud.client(0, "alice"),
        await cloud.client(1, "bob"),
        await cloud.client(1, "carol"),
    )
    await alice.send_text("bob", "hi bob, from gateway 0", "a-1")
    await bob.send_text("alice", "hi alice, from gateway 1", "b-1")
    team = await cloud.acall(
        "POST", "/api/v1/teams", {"owner": "alice", "name": "Crew", "members": ["bob", "carol"]}
    )
    await alice.send_text(team["team_id"], "hello crew", "t-1", team=True)
    assert await _texts(bob, 2) == [(1, "hi bob, from gateway 0"), (1, "hello crew")]
    assert await _texts(alice, 1) == [(2, "hi alice, from gateway 1")]
    assert await _texts(carol, 1) == [(1, "hello crew")]
    for client in (alice, bob, carol):
        await client.close()


async def test_an_offline_device_gets_exactly_the_missed_messages_on_another_gateway(cloud: Cloud):
    alice, bob = await cloud.client(0, "alice"), await cloud.client(1, "bob")
    await alice.send_text("bob", "seen live", "a-0")
    assert await _texts(bob, 1) == [(1, "seen live")]
    cursor = (await bob.request(sync=pb.SyncRequest())).sync_result.cursor
    await bob.close()
    for n in range(1, 8):
        await alice.send_text("bob", f"missed {n}", f"a-{n}")
    bob = await cloud.client(0, "bob", cursor=cursor)  # back, on the other gateway
    delta = (await bob.next_push("sync_result")).sync_result
    held = 1
    missed: list[tuple[int, str]] = []
    page = pb.SyncResult(has_more=True)
    while page.has_more:
        request = pb.SyncRequest(conversation_type=P2P, target="alice", after_seq=held, limit=3)
        page = (await bob.request(sync=request)).sync_result
        missed += [(m.seq, m.text) for m in page.messages]
        held = missed[-1][0]
    await alice.send_text("bob", "live again", "a-8")
    assert {c.target: c.last_seq for c in delta.conversations}["alice"] == 8
    assert missed == [(n + 1, f"missed {n}") for n in range(1, 8)]
    assert await _texts(bob, 1) == [(9, "live again")]
    for client in (alice, bob):
        await client.close()


async def test_recall_and_receipts_reach_every_device_on_every_gateway(cloud: Cloud):
    alice_phone, alice_desk = await cloud.client(0, "alice"), await cloud.client(1, "alice", device="desk")
    bob = await cloud.client(1, "bob")
    ack = (await alice_phone.send_text("bob", "regret this", "a-1")).send_ack
    await _texts(bob, 1)
    await _texts(alice_desk, 1)
    await bob.request(mark_read=pb.MarkRead(conversation_type=P2P, target="alice", seq=ack.seq))
    receipts = [(await c.next_push("receipt")).receipt for c in (alice_phone, alice_desk)]
    await alice_phone.request(
        recall=pb.Recall(conversation_type=P2P, target="bob", server_msg_id=ack.server_msg_id)
    )
    notices = [(await c.next_push("message")).message for c in (bob, alice_desk)]
    assert {(r.reader_accid, r.read_seq) for r in receipts} == {("bob", 1)}
    assert {(n.type, n.recalled_seq) for n in notices} == {(pb.MESSAGE_TYPE_RECALL, 1)}
    for client in (alice_phone, alice_desk, bob):
        await client.close()


async def test_a_rest_send_reaches_live_clients_on_both_gateways(cloud: Cloud):
    bob_phone, bob_desk = await cloud.client(0, "bob"), await cloud.client(1, "bob", device="desk")
    body = {
        "from": "alice",
        "conversation_type": "p2p",
        "to": "bob",
        "type": "text",
        "text": "from the app server",
    }
    sent = await cloud.acall("POST", "/api/v1/messages", body)
    got = [(await c.next_push("message")).message for c in (bob_phone, bob_desk)]
    assert {(m.seq, m.text, m.from_accid) for m in got} == {(sent["seq"], "from the app server", "alice")}
    for client in (bob_phone, bob_desk):
        await client.close()


async def test_blocking_through_rest_kicks_a_session_on_another_gateway_within_a_second(cloud: Cloud):
    bob = await cloud.client(1, "bob")
    await cloud.acall("POST", "/api/v1/users/bob/block", {"kick": True})
    kick = await bob.next_push("kick", timeout=1)
    await asyncio.wait_for(bob.closed.wait(), 1)
    assert kick.kick.reason == pb.KICK_REASON_BLOCKED
    assert bob.close_code == 4003


async def test_a_short_link_send_reaches_a_websocket_client_on_the_other_gateway_once(cloud: Cloud):
    bob = await cloud.client(1, "bob")
    send = pb.SendMessage(
        conversation_type=P2P, target="bob", type=pb.MESSAGE_TYPE_TEXT, text="over http", client_msg_id="h-1"
    )
    first = (await cloud.ashort_link(0, "alice", send=send)).send_ack
    pushed = (await bob.next_push("message")).message
    retry = (await cloud.ashort_link(0, "alice", send=send)).send_ack
    synced = await cloud.ashort_link(1, "alice", sync=pb.SyncRequest(conversation_type=P2P, target="bob"))
    assert (pushed.seq, pushed.text, pushed.server_msg_id) == (1, "over http", first.server_msg_id)
    assert (first.duplicate, retry.duplicate) == (False, True)
    assert (retry.server_msg_id, retry.seq, retry.server_time) == (first.server_msg_id, 1, first.server_time)
    assert [(m.seq, m.text) for m in synced.sync_result.messages] == [(1, "over http")]
    second = pb.SendMessage()
    second.CopyFrom(send)
    second.text, second.client_msg_id = "second", "h-2"
    await cloud.ashort_link(0, "alice", send=second)
    # Had the retry been delivered, it would come first.
    assert [(m.seq, m.text) for m in [(await bob.next_push("message")).message]] == [(2, "second")]
    await bob.close()


async def test_team_changes_reach_members_on_every_gateway_as_team_notices(cloud: Cloud):
    bob, carol = await cloud.client(1, "bob"), await cloud.client(0, "carol")
    alice = await cloud.client(0, "alice")
    info = (await alice.request(create_team=pb.CreateTeam(name="Crew", members=["bob", "carol"]))).team_info
    # The creating device is told too: every device of the team learns of changes the same way.
    created = [(await c.next_push("team_notice")).team_notice for c in (alice, bob, carol)]
    removed = await cloud.ashort_link(
        1, "alice", remove_team_members=pb.RemoveTeamMembers(team_id=info.team_id, accids=["carol"])
    )
    gone = [(await c.next_push("team_notice")).team_notice for c in (alice, bob, carol)]
    assert {(n.team_id, n.kind, n.operator) for n in created} == {
        (info.team_id, pb.TEAM_CHANGE_KIND_CREATED, "alice")
    }
    assert removed.team_info.member_count == 2
    assert {(n.kind, tuple(n.accids)) for n in gone} == {(pb.TEAM_CHANGE_KIND_MEMBERS_REMOVED, ("carol",))}
    for client in (alice, bob, carol):
        await client.close()
