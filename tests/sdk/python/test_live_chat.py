"""The SDK against real gateways: two daphne processes on PostgreSQL and Redis."""

from __future__ import annotations

import pytest
from imcloud_sdk import pb

from tests.markers import requires_services
from tests.sdk.python.cloud import Cloud, logged_in

pytestmark = [pytest.mark.live, requires_services]


async def test_two_clients_on_two_gateways_chat_in_order(cloud: Cloud):
    alice, alice_seen = await logged_in(cloud, "alice", endpoints=[cloud.gateways.ws(0)])
    # bob speaks the JSON subprotocol: the same API, the same stream.
    bob, bob_seen = await logged_in(cloud, "bob", endpoints=[cloud.gateways.ws(1)], encoding="json")
    try:
        acks = [await alice.send_text("bob", f"hi {n}") for n in range(5)]
        assert [ack.seq for ack in acks] == [1, 2, 3, 4, 5]
        await bob_seen.wait(lambda: len(bob_seen.messages) == 5)
        reply = await bob.send_text("alice", "hello alice")
        await alice_seen.wait(lambda: len(alice_seen.messages) == 1)
        assert bob_seen.texts("alice") == [f"hi {n}" for n in range(5)]
        assert [m.seq for m in bob_seen.messages] == [1, 2, 3, 4, 5]
        # alice's own sends are not echoed back to her: she sees only bob's reply, at seq 6.
        assert [(m.seq, m.text, m.from_accid) for m in alice_seen.messages] == [(6, "hello alice", "bob")]
        assert reply.seq == 6
        assert alice.transport == "websocket"
        assert alice_seen.errors == []
        assert bob_seen.errors == []
    finally:
        await alice.close()
        await bob.close()
    assert alice.state == "disconnected"
    assert bob_seen.messages[0].type == pb.MESSAGE_TYPE_TEXT


async def test_team_chat_and_team_notices_through_generated_methods(cloud: Cloud):
    alice, alice_seen = await logged_in(cloud, "alice", endpoints=[cloud.gateways.ws(0)])
    bob, bob_seen = await logged_in(cloud, "bob", endpoints=[cloud.gateways.ws(1)])
    carol, carol_seen = await logged_in(cloud, "carol", endpoints=[cloud.gateways.ws(1)])
    try:
        team = await alice.create_team(name="Crew", members=["bob", "carol"])
        assert (team.owner, team.member_count) == ("alice", 3)
        await bob_seen.wait(lambda: len(bob_seen.teams) == 1)
        assert bob_seen.teams[0].team_id == team.team_id
        assert bob_seen.teams[0].kind == pb.TEAM_CHANGE_KIND_CREATED
        mine = await bob.list_my_teams()
        assert [t.team_id for t in mine.teams] == [team.team_id]
        members = await carol.list_team_members(team_id=team.team_id)
        assert sorted(m.accid for m in members.members) == ["alice", "bob", "carol"]

        await alice.send_text(team.team_id, "hello crew", team=True)
        await bob.send_text(team.team_id, "hi all", team=True)
        for seen in (carol_seen,):
            await seen.wait(lambda seen=seen: len(seen.messages) == 2)
            assert [(m.seq, m.from_accid, m.text) for m in seen.messages] == [
                (1, "alice", "hello crew"),
                (2, "bob", "hi all"),
            ]
        await alice_seen.wait(lambda: len(alice_seen.messages) == 1)
        assert [(m.seq, m.text) for m in alice_seen.messages] == [(2, "hi all")]
        assert alice_seen.messages[0].conversation_type == pb.CONVERSATION_TYPE_TEAM
    finally:
        for client in (alice, bob, carol):
            await client.close()


async def test_receipts_and_recall_reach_every_device(cloud: Cloud):
    alice_phone, phone_seen = await logged_in(cloud, "alice", endpoints=[cloud.gateways.ws(0)])
    alice_desk, desk_seen = await logged_in(
        cloud, "alice", endpoints=[cloud.gateways.ws(1)], device="desk", platform=pb.PLATFORM_MAC
    )
    bob_phone, bob_phone_seen = await logged_in(cloud, "bob", endpoints=[cloud.gateways.ws(1)])
    bob_desk, bob_desk_seen = await logged_in(
        cloud, "bob", endpoints=[cloud.gateways.ws(0)], device="desk", platform=pb.PLATFORM_WINDOWS
    )
    try:
        first = await alice_phone.send_text("bob", "first")
        second = await alice_phone.send_text("bob", "second")
        for seen in (bob_phone_seen, bob_desk_seen):
            await seen.wait(lambda seen=seen: len(seen.messages) == 2)
        # alice's other device sees her own sends, in order.
        await desk_seen.wait(lambda: len(desk_seen.messages) == 2)
        assert [m.text for m in desk_seen.messages] == ["first", "second"]

        ack = await bob_phone.mark_read("alice", second.seq)
        assert ack.read_seq == 2
        for seen in (phone_seen, desk_seen, bob_desk_seen):
            await seen.wait(lambda seen=seen: len(seen.receipts) == 1)
        assert {(r.reader_accid, r.read_seq) for r in phone_seen.receipts + desk_seen.receipts} == {
            ("bob", 2)
        }
        assert (bob_desk_seen.receipts[0].target, bob_desk_seen.receipts[0].read_seq) == ("alice", 2)

        recalled = await alice_phone.recall("bob", first.server_msg_id)
        assert recalled.notice_seq == 3
        for seen in (bob_phone_seen, bob_desk_seen, desk_seen):
            await seen.wait(lambda seen=seen: len(seen.recalls) == 1)
            notice = seen.recalls[0]
            assert (notice.type, notice.seq, notice.recalled_seq) == (pb.MESSAGE_TYPE_RECALL, 3, first.seq)
            assert [m.seq for m in seen.messages] == [1, 2, 3]
        # The recalling device gets the notice too, and nothing else: its own sends were never echoed.
        await phone_seen.wait(lambda: len(phone_seen.recalls) == 1)
        assert [(m.seq, m.type) for m in phone_seen.messages] == [(3, pb.MESSAGE_TYPE_RECALL)]
    finally:
        for client in (alice_phone, alice_desk, bob_phone, bob_desk):
            await client.close()


async def test_a_rest_send_reaches_the_sdk(cloud: Cloud):
    bob, bob_seen = await logged_in(cloud, "bob")
    try:
        body = {
            "from": "alice",
            "conversation_type": "p2p",
            "to": "bob",
            "type": "text",
            "text": "from the app",
        }
        sent = await cloud.acall("POST", "/api/v1/messages", body)
        await bob_seen.wait(lambda: len(bob_seen.messages) == 1)
        message = bob_seen.messages[0]
        assert (message.seq, message.text, message.from_accid, message.target) == (
            sent["seq"],
            "from the app",
            "alice",
            "alice",
        )
        page = await bob.history("alice")
        assert [m.text for m in page] == ["from the app"]
    finally:
        await bob.close()
