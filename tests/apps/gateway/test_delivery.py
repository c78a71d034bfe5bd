from __future__ import annotations

import pytest

from apps.gateway import publish
from apps.messaging.models import Message
from apps.protocol import imcloud_pb2 as pb
from tests.apps.gateway.conftest import db_async

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_message_reaches_the_recipient_and_the_senders_other_devices(app, users, connect):
    alice_phone = await connect("alice", device_id="phone")
    alice_desk = await connect("alice", device_id="desk", platform=pb.PLATFORM_MAC)
    bob = await connect("bob")
    ack = await alice_phone.send_text("bob", "hi bob", "c-1")
    to_bob = await bob.next_push("message")
    to_desk = await alice_desk.next_push("message")
    assert ack.send_ack.seq == 1
    assert ack.send_ack.duplicate is False
    assert (to_bob.message.target, to_bob.message.from_accid, to_bob.message.text) == (
        "alice",
        "alice",
        "hi bob",
    )
    assert (to_desk.message.target, to_desk.message.seq) == ("bob", 1)
    assert to_bob.message.server_msg_id == ack.send_ack.server_msg_id
    assert await alice_phone.no_push() == []


async def test_the_senders_own_copy_is_built_only_while_they_have_another_device(
    app, users, connect, monkeypatch
):
    built: list[str] = []
    real = publish._message_frame
    monkeypatch.setattr(
        publish,
        "_message_frame",
        lambda message, target, *rest: (built.append(target), real(message, target, *rest))[1],
    )
    alice_phone, bob = await connect("alice", device_id="phone"), await connect("bob")
    await alice_phone.send_text("bob", "alone", "c-1")
    await bob.next_push("message")
    alone = list(built)
    alice_desk = await connect("alice", device_id="desk", platform=pb.PLATFORM_MAC)
    await alice_phone.send_text("bob", "not alone", "c-2")
    to_desk = await alice_desk.next_push("message")
    assert alone == []
    assert built == ["bob"]
    assert to_desk.message.text == "not alone"


async def test_the_ack_comes_after_the_message_is_committed(app, users, connect):
    alice = await connect("alice")
    ack = await alice.send_text("bob", "stored?", "c-1")
    stored = await db_async(Message.objects.get)(pk=int(ack.send_ack.server_msg_id))
    assert (stored.seq, stored.body["text"]) == (1, "stored?")


async def test_seqs_increase_without_gaps_in_both_directions(app, users, connect):
    alice, bob = await connect("alice"), await connect("bob")
    seqs = []
    for n in range(5):
        seqs.append((await alice.send_text("bob", f"a{n}", f"a-{n}")).send_ack.seq)
        seqs.append((await bob.send_text("alice", f"b{n}", f"b-{n}")).send_ack.seq)
    assert seqs == list(range(1, 11))


async def test_a_retried_send_gets_the_original_ack_and_stores_nothing_new(app, users, connect):
    alice, bob = await connect("alice"), await connect("bob")
    first = await alice.send_text("bob", "once", "same-id")
    retry = await alice.send_text("bob", "once", "same-id")
    delivered = await bob.next_push("message")
    count = await db_async(Message.objects.filter(app=app).count)()
    assert (retry.send_ack.server_msg_id, retry.send_ack.seq) == (
        first.send_ack.server_msg_id,
        first.send_ack.seq,
    )
    assert retry.send_ack.duplicate is True
    assert count == 1
    assert delivered.message.seq == 1
    assert await bob.no_push() == []


async def test_a_team_message_reaches_every_member(app, users, connect):
    from apps.teams.services import team_create

    team = await db_async(team_create)(app=app, owner="alice", name="Crew", members=["bob", "carol"])
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    ack = await alice.send_text(str(team.pk), "hello crew", "t-1", team=True)
    got = [await c.next_push("message") for c in (bob, carol)]
    assert ack.send_ack.seq >= 1
    assert {(f.message.target, f.message.text) for f in got} == {(str(team.pk), "hello crew")}


async def test_typing_reaches_the_peer_and_is_not_stored(app, users, connect):
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send_raw(
        pb.Frame(
            request_id=99, typing=pb.Typing(conversation_type=pb.CONVERSATION_TYPE_P2P, target="bob")
        ).SerializeToString()
    )
    typing = await bob.next_push("typing")
    assert typing.typing.from_accid == "alice"
    assert await db_async(Message.objects.filter(app=app).count)() == 0


async def test_recall_replaces_the_message_for_every_party(app, users, connect):
    alice, bob = await connect("alice"), await connect("bob")
    alice_desk = await connect("alice", device_id="desk", platform=pb.PLATFORM_WEB)
    ack = await alice.send_text("bob", "oops", "c-1")
    await bob.next_push("message")
    await alice_desk.next_push("message")
    recall = pb.Recall(
        conversation_type=pb.CONVERSATION_TYPE_P2P, target="bob", server_msg_id=ack.send_ack.server_msg_id
    )
    recalled = await alice.request(recall=recall)
    notices = [await c.next_push("message") for c in (bob, alice_desk)]
    original = await db_async(Message.objects.get)(pk=int(ack.send_ack.server_msg_id))
    assert recalled.recall_ack.notice_seq == 2
    assert {(n.message.type, n.message.recalled_seq, n.message.seq) for n in notices} == {
        (pb.MESSAGE_TYPE_RECALL, 1, 2)
    }
    assert original.recalled is True
    assert original.body == {}


async def test_only_the_sender_may_recall(app, users, connect):
    alice, bob = await connect("alice"), await connect("bob")
    ack = await alice.send_text("bob", "mine", "c-1")
    recall = pb.Recall(
        conversation_type=pb.CONVERSATION_TYPE_P2P, target="alice", server_msg_id=ack.send_ack.server_msg_id
    )
    refused = await bob.request(recall=recall)
    assert refused.error.code == "not_sender"


async def test_mark_read_moves_forward_and_tells_the_peer_and_my_other_devices(app, users, connect):
    alice, bob = await connect("alice"), await connect("bob")
    bob_desk = await connect("bob", device_id="desk", platform=pb.PLATFORM_WINDOWS)
    for n in range(3):
        await alice.send_text("bob", f"m{n}", f"c-{n}")
    read = await bob.request(
        mark_read=pb.MarkRead(conversation_type=pb.CONVERSATION_TYPE_P2P, target="alice", seq=2)
    )
    backwards = await bob.request(
        mark_read=pb.MarkRead(conversation_type=pb.CONVERSATION_TYPE_P2P, target="alice", seq=1)
    )
    to_alice = await alice.next_push("receipt")
    to_desk = await bob_desk.next_push("receipt")
    assert read.mark_read_ack.read_seq == 2
    assert backwards.mark_read_ack.read_seq == 2
    assert (to_alice.receipt.target, to_alice.receipt.reader_accid, to_alice.receipt.read_seq) == (
        "bob",
        "bob",
        2,
    )
    assert (to_desk.receipt.target, to_desk.receipt.read_seq) == ("alice", 2)


async def test_pushes_that_arrive_during_login_follow_the_login_result(app, users, connect):
    bob = await connect("bob")
    alice = await connect("alice")
    await alice.send_text("bob", "first", "c-1")
    assert (await bob.next_push("message")).message.text == "first"


async def test_an_app_server_recall_named_from_the_recipients_side_reaches_both_sides_rightly(
    app, users, connect
):
    from apps.messaging.services import message_recall

    alice, bob = await connect("alice"), await connect("bob")
    ack = await alice.send_text("bob", "take it back", "c-1")
    await bob.next_push("message")
    await db_async(message_recall)(
        app=app, actor=users["bob"], conversation_type=pb.CONVERSATION_TYPE_P2P, target="alice",
        server_msg_id=ack.send_ack.server_msg_id, as_app_server=True,
    )  # fmt: skip
    to_alice, to_bob = await alice.next_push("message"), await bob.next_push("message")
    assert (to_alice.message.target, to_alice.message.type) == ("bob", pb.MESSAGE_TYPE_RECALL)
    assert (to_bob.message.target, to_bob.message.recalled_seq) == ("alice", 1)
