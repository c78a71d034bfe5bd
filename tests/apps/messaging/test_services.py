from __future__ import annotations

import threading

import pytest
import time_machine
from django.db import connection

from apps.core.errors import DomainError
from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, ConversationMember, Message, MessageType
from apps.messaging.selectors import conversations_changed, messages_page, team_read_status
from apps.messaging.services import conversation_mark_read, message_recall, message_send
from apps.teams.services import team_create, team_mute_all, team_mute_member
from tests.factories import AppFactory, ImUserFactory
from tests.markers import requires_postgres

TEXT = MessageContent(type=MessageType.TEXT, text="hello")


@pytest.fixture
def pair(db):
    app = AppFactory()
    return app, ImUserFactory(app=app, accid="alice"), ImUserFactory(app=app, accid="bob")


def _send(app, sender, target, client_msg_id, kind=ConversationKind.P2P, content=TEXT):
    return message_send(
        app=app,
        sender=sender,
        conversation_type=kind,
        target=target,
        client_msg_id=client_msg_id,
        content=content,
    )


def test_one_conversation_per_pair_whoever_writes_first(pair):
    app, alice, bob = pair
    first = _send(app, alice, "bob", "a-1")
    second = _send(app, bob, "alice", "b-1")
    assert first.message.conversation_id == second.message.conversation_id
    assert (first.message.seq, second.message.seq) == (1, 2)


def test_a_message_to_oneself_is_a_conversation_of_one(pair):
    app, alice, _ = pair
    result = _send(app, alice, "alice", "note-1")
    assert ConversationMember.objects.filter(conversation=result.message.conversation).count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_racing_retries_of_one_client_msg_id_store_one_message():
    app = AppFactory()
    alice = ImUserFactory(app=app, accid="alice")
    ImUserFactory(app=app, accid="bob")
    barrier = threading.Barrier(4)
    results = []

    def racer():
        barrier.wait()
        try:
            results.append(_send(app, alice, "bob", "same"))
        finally:
            connection.close()

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Message.objects.filter(app=app).count() == 1
    assert len({r.message.pk for r in results}) == 1
    assert sorted(r.duplicate for r in results) == [False, True, True, True]


def test_the_sender_has_read_their_own_message(pair):
    app, alice, bob = pair
    _send(app, alice, "bob", "a-1")
    listing = {s.target: s for s in conversations_changed(app=app, user=alice, cursor="").summaries}
    assert listing["bob"].unread == 0
    assert {s.target: s for s in conversations_changed(app=app, user=bob, cursor="").summaries}[
        "alice"
    ].unread == 1


def test_recall_is_refused_after_the_window(pair):
    app, alice, _ = pair
    with time_machine.travel(1_900_000_000, tick=False):
        sent = _send(app, alice, "bob", "a-1")
    with (
        time_machine.travel(1_900_000_000 + app.recall_window_seconds + 1, tick=False),
        pytest.raises(DomainError) as refused,
    ):
        message_recall(
            app=app, actor=alice, conversation_type=1, target="bob", server_msg_id=str(sent.message.pk)
        )
    assert refused.value.code == "recall_window_passed"


def test_recall_twice_returns_the_same_notice(pair):
    app, alice, _ = pair
    sent = _send(app, alice, "bob", "a-1")
    first = message_recall(
        app=app, actor=alice, conversation_type=1, target="bob", server_msg_id=str(sent.message.pk)
    )
    again = message_recall(
        app=app, actor=alice, conversation_type=1, target="bob", server_msg_id=str(sent.message.pk)
    )
    assert again.notice.pk == first.notice.pk
    assert again.duplicate is True


def test_the_app_server_may_recall_anyones_message(pair):
    app, alice, bob = pair
    sent = _send(app, alice, "bob", "a-1")
    result = message_recall(
        app=app,
        actor=bob,
        conversation_type=1,
        target="alice",
        server_msg_id=str(sent.message.pk),
        as_app_server=True,
    )
    assert result.notice.recalled_seq == 1


def test_history_shows_a_recall_notice_in_place(pair):
    app, alice, bob = pair
    sent = _send(app, alice, "bob", "a-1")
    message_recall(
        app=app, actor=alice, conversation_type=1, target="bob", server_msg_id=str(sent.message.pk)
    )
    page = messages_page(app=app, user=bob, conversation_type=1, target="alice")
    assert [(m.seq, m.type, m.recalled, m.body) for m in page.messages] == [
        (1, MessageType.TEXT, True, {}),
        (2, MessageType.RECALL, False, {}),
    ]


def test_read_positions_never_move_back_nor_past_the_end(pair):
    app, alice, bob = pair
    for n in range(3):
        _send(app, alice, "bob", f"a-{n}")
    assert conversation_mark_read(app=app, user=bob, conversation_type=1, target="alice", seq=99) == 3
    assert conversation_mark_read(app=app, user=bob, conversation_type=1, target="alice", seq=1) == 3


def test_muted_members_and_mute_all_stop_posting_but_not_the_owner(pair):
    app, alice, bob = pair
    team = team_create(app=app, owner="alice", name="T", members=["bob"])
    team_mute_member(app=app, team_id=str(team.pk), operator="alice", accid="bob", muted=True)
    with pytest.raises(DomainError) as muted:
        _send(app, bob, str(team.pk), "b-1", kind=ConversationKind.TEAM)
    team_mute_member(app=app, team_id=str(team.pk), operator="alice", accid="bob", muted=False)
    team_mute_all(app=app, team_id=str(team.pk), operator="alice", muted=True)
    with pytest.raises(DomainError) as all_muted:
        _send(app, bob, str(team.pk), "b-2", kind=ConversationKind.TEAM)
    owner = _send(app, alice, str(team.pk), "a-1", kind=ConversationKind.TEAM)
    assert (muted.value.code, all_muted.value.code) == ("muted", "muted")
    assert owner.message.seq == 1


def test_team_read_status_lists_who_read_and_who_did_not(pair):
    app, alice, bob = pair
    ImUserFactory(app=app, accid="carol")
    team = team_create(app=app, owner="alice", name="T", members=["bob", "carol"])
    sent = _send(app, alice, str(team.pk), "a-1", kind=ConversationKind.TEAM)
    conversation_mark_read(app=app, user=bob, conversation_type=2, target=str(team.pk), seq=sent.message.seq)
    status = team_read_status(app=app, user=alice, team_id=str(team.pk), seq=sent.message.seq)
    assert (status.read, status.unread) == (["bob"], ["carol"])


def test_messages_past_retention_are_not_served(pair):
    app, alice, bob = pair
    with time_machine.travel(1_900_000_000, tick=False):
        _send(app, alice, "bob", "old")
    with time_machine.travel(1_900_000_000 + (app.message_retention_days + 1) * 86400, tick=False):
        _send(app, alice, "bob", "new")
        page = messages_page(app=app, user=bob, conversation_type=1, target="alice")
    assert [m.client_msg_id for m in page.messages] == ["new"]


def test_a_retry_naming_another_recipient_returns_the_original(pair):
    app, alice, _ = pair
    ImUserFactory(app=app, accid="carol")
    first = _send(app, alice, "bob", "x")
    retry = _send(app, alice, "carol", "x")
    assert retry.duplicate is True
    assert (retry.message.pk, retry.place.target) == (first.message.pk, "bob")


@pytest.mark.parametrize("target", ["²", "١٢", "12a", "", "1" * 19])
def test_team_targets_that_are_not_plain_ids_are_unknown_teams(pair, target):
    app, alice, _ = pair
    with pytest.raises(DomainError) as refused:
        _send(app, alice, target, "t-1", kind=ConversationKind.TEAM)
    assert refused.value.code == "no_such_team"


def test_recalling_a_non_numeric_id_is_no_such_message(pair):
    app, alice, _ = pair
    _send(app, alice, "bob", "a-1")
    with pytest.raises(DomainError) as refused:
        message_recall(app=app, actor=alice, conversation_type=1, target="bob", server_msg_id="²")
    assert refused.value.code == "no_such_message"
