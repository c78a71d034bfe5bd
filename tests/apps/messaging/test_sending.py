"""Group commit of sends (``message_send_many``): every send keeps its own outcome, seqs have no
gaps, retries are answered with the original, and a batch costs a fixed number of statements."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.errors import DomainError
from apps.messaging import sending
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, Message
from apps.messaging.sending import SendResult, message_send_many
from apps.teams.services import team_create, team_remove_members
from tests.factories import AppFactory, ImUserFactory, send_request
from tests.markers import requires_postgres

P2P, TEAM = ConversationKind.P2P, ConversationKind.TEAM


def _request(app, sender, target, client_msg_id, kind=P2P, text="hi", **content):
    return send_request(
        app=app, sender=sender, target=target, client_msg_id=client_msg_id, team=kind == TEAM, text=text,
        **content,
    )  # fmt: skip


def _send(requests):
    published: list[SendResult] = []
    with CaptureQueriesContext(connection) as queries:
        outcomes = message_send_many(requests=requests, after_commit=published.extend)
    return outcomes, published, len(queries.captured_queries)


@pytest.fixture(params=["native", "portable"], autouse=True)
def statements(request, monkeypatch):
    """Every test runs on the database's own statements (set-based SQL on PostgreSQL) and on the
    portable ORM path that SQLite uses, so CI on PostgreSQL covers both."""
    if request.param == "portable":
        monkeypatch.setattr(sending, "_sql", lambda: sending._PORTABLE)
    return request.param


@pytest.fixture
def world(db):
    app, other_app = AppFactory(), AppFactory()
    users = {accid: ImUserFactory(app=app, accid=accid) for accid in ("alice", "bob", "carol", "dave")}
    stranger = ImUserFactory(app=other_app, accid="bob")  # same accid, other tenant
    team = team_create(app=app, owner="alice", name="Crew", members=["bob"])
    foreign = team_create(app=other_app, owner="bob", name="Theirs")
    return app, users, stranger, team, foreign


@pytest.mark.django_db(transaction=True)
def test_a_mixed_batch_gives_each_send_its_own_outcome(world):
    app, users, _, team, foreign = world
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    outcomes, published, _ = _send(
        [
            _request(app, alice, "bob", "a-1", text="one"),  # the pair's first message
            _request(app, alice, "bob", "a-2", text="two"),
            _request(app, bob, "alice", "b-1", text="three"),
            _request(app, alice, "nobody", "a-3"),  # no such user
            _request(app, alice, str(team.pk), "a-4", kind=TEAM, text="crew"),
            _request(app, carol, str(team.pk), "c-1", kind=TEAM),  # not a member
            _request(app, alice, str(foreign.pk), "a-5", kind=TEAM),  # another app's team
            _request(app, alice, "99999999", "a-6", kind=TEAM),  # no such team
            _request(app, alice, "bob", "a-2", text="two again"),  # a retry within the batch
            _request(app, alice, "bob", "", text="no id"),  # invalid
        ]
    )
    first, second, third, nobody, crew, carol_refused, foreign_refused, missing, retry, invalid = outcomes
    assert all(isinstance(o, SendResult) for o in (first, second, third, crew, retry))
    assert (first.message.seq, second.message.seq, third.message.seq) == (1, 2, 3)
    assert first.message.conversation_id == third.message.conversation_id
    assert crew.message.seq == 1
    assert crew.message.conversation_id == team.pk
    assert retry.duplicate
    assert retry.message.pk == second.message.pk
    codes = [o.code for o in (nobody, carol_refused, foreign_refused, missing, invalid)]
    assert all(isinstance(o, DomainError) for o in (nobody, carol_refused, foreign_refused, missing, invalid))
    assert codes == ["no_such_user", "not_team_member", "no_such_team", "no_such_team", "invalid_field"]
    # Published once each, after commit, with the ids the database gave them.
    assert [r.message.pk for r in published] == [r.message.pk for r in (first, second, third, crew)]
    stored = {m.pk: (m.seq, m.body["text"]) for m in Message.objects.all()}
    assert stored == {
        first.message.pk: (1, "one"),
        second.message.pk: (2, "two"),
        third.message.pk: (3, "three"),
        crew.message.pk: (1, "crew"),
    }
    pair = Conversation.objects.get(pk=first.message.conversation_id)
    assert pair.last_seq == 3
    assert pair.updated_ms == first.message.created_ms
    reads = dict(ConversationMember.objects.filter(conversation=pair).values_list("user__accid", "read_seq"))
    assert reads == {"alice": 2, "bob": 3}


@pytest.mark.django_db(transaction=True)
def test_text_the_database_cannot_hold_is_refused_without_failing_the_rest_of_the_batch(world):
    app, users, _, team, _ = world
    alice = users["alice"]
    outcomes, published, _ = _send(
        [
            _request(app, alice, "bob", "good-1", text="before"),
            _request(app, alice, "bob", "nul-text", text="a\x00b"),
            _request(app, alice, "bob", "surrogate-text", text="a\ud800b"),
            _request(app, alice, "bob", "lone-\udc00"),
            _request(app, alice, "bob", "nul-\x00-id"),
            _request(app, alice, "bo\x00b", "nul-target"),
            _request(app, alice, "b\ud800", "surrogate-target"),
            _request(app, alice, str(team.pk), "nul-ext", kind=TEAM, ext="x\x00"),
            _request(app, alice, str(team.pk), "good-2", kind=TEAM, text="after \U0001f600"),
        ]
    )
    good_1, *refused, good_2 = outcomes
    assert [(o.code, o.field) for o in refused] == [
        ("invalid_field", "text"),
        ("invalid_field", "text"),
        ("invalid_field", "client_msg_id"),
        ("invalid_field", "client_msg_id"),
        ("invalid_field", "target"),
        ("invalid_field", "target"),
        ("invalid_field", "ext"),
    ]
    assert [r.message.pk for r in published] == [good_1.message.pk, good_2.message.pk]
    assert sorted(Message.objects.values_list("client_msg_id", "body__text")) == [
        ("good-1", "before"),
        ("good-2", "after \U0001f600"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_retry_in_a_later_batch_gets_the_original_and_publishes_nothing(world):
    app, users, _, team, _ = world
    alice = users["alice"]
    [original], _, _ = _send([_request(app, alice, str(team.pk), "t-1", kind=TEAM)])
    outcomes, published, _ = _send(
        [
            _request(app, alice, str(team.pk), "t-1", kind=TEAM, text="changed"),
            _request(app, alice, str(team.pk), "t-2", kind=TEAM),
        ]
    )
    retry, fresh = outcomes
    assert isinstance(retry, SendResult)
    assert retry.duplicate
    assert retry.message.pk == original.message.pk
    assert retry.message.body["text"] == "hi"
    assert isinstance(fresh, SendResult)
    assert fresh.message.seq == 2
    assert [r.message.pk for r in published] == [fresh.message.pk]


@pytest.mark.django_db(transaction=True)
def test_a_retry_is_answered_with_its_original_even_where_a_new_send_would_be_refused(world):
    app, users, _, team, _ = world
    bob = users["bob"]
    [original], _, _ = _send([_request(app, bob, str(team.pk), "b-1", kind=TEAM)])
    team_remove_members(app=app, team_id=str(team.pk), operator="alice", accids=["bob"])
    outcomes, published, _ = _send(
        [
            _request(app, bob, str(team.pk), "b-1", kind=TEAM),
            _request(app, bob, str(team.pk), "b-2", kind=TEAM),
        ]
    )
    [to_no_one], published_alone, _ = _send([_request(app, bob, "nobody", "b-1", text="same id, to no one")])
    retry, refused = outcomes
    assert isinstance(retry, SendResult)
    assert (retry.duplicate, retry.message.pk) == (True, original.message.pk)
    assert isinstance(refused, DomainError)
    assert refused.code == "not_team_member"
    assert isinstance(to_no_one, SendResult)  # the key is what makes a retry
    assert (to_no_one.duplicate, to_no_one.message.pk) == (True, original.message.pk)
    assert published + published_alone == []


@pytest.mark.django_db(transaction=True)
def test_the_places_are_whole_models(world):
    app, users, _, team, _ = world
    [pair, crew], _, _ = _send(
        [
            _request(app, users["alice"], "bob", "a-1"),
            _request(app, users["alice"], str(team.pk), "t-1", kind=TEAM),
        ]
    )
    # Timestamps the send path does not read are loaded on first access.
    assert pair.place.peer.created_at == users["bob"].created_at
    assert pair.place.member.joined_at == ConversationMember.objects.get(pk=pair.place.member.pk).joined_at
    assert crew.place.conversation.created_at == Conversation.objects.get(pk=team.pk).created_at
    assert pair.message.sender is users["alice"]
    assert pair.message.conversation is pair.place.conversation
    assert Message.objects.get(pk=pair.message.pk).body == pair.message.body


@pytest.mark.django_db(transaction=True)
def test_the_other_tenants_namesake_is_never_the_peer(world):
    app, users, stranger, _, _ = world
    [result], _, _ = _send([_request(app, users["alice"], "bob", "a-1")])
    assert isinstance(result, SendResult)
    assert result.place.peer is not None
    assert result.place.peer.pk == users["bob"].pk != stranger.pk


@pytest.mark.django_db(transaction=True)
def test_a_batch_costs_the_same_statements_whatever_its_size(world, statements):
    app, users, _, team, _ = world
    names = ["bob", "carol", "dave"]
    # Conversations exist (their first message is the only path with per-pair statements).
    _send([_request(app, users["alice"], name, f"warm-{name}") for name in names])

    def batch(tag, count):
        requests = [_request(app, users["alice"], names[n % 3], f"{tag}-{n}") for n in range(count)] + [
            _request(app, users["alice"], str(team.pk), f"{tag}-team-{n}", kind=TEAM) for n in range(count)
        ]
        outcomes, published, statements = _send(requests)
        assert all(isinstance(o, SendResult) and not o.duplicate for o in outcomes)
        assert len(published) == 2 * count
        return statements

    small, large = batch("small", 2), batch("large", 60)
    if connection.vendor == "postgresql" and statements == "native":
        # p2p places, team places (both finding retries too), and the write, which locks and is
        # its own transaction (no BEGIN or COMMIT); the portable ORM path (SQLite) splits large
        # inserts by SQLite's variable limit.
        assert small == large
        assert large == 3
    seqs = list(Message.objects.filter(conversation=team.pk).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 63))


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_sends_update_conversations_and_senders_in_place(world):
    """No index covers the columns a send moves (last_seq, read_seq, updated_ms), so PostgreSQL
    updates those rows in place (HOT) instead of adding an entry to every index of the table."""
    app, users, _, team, _ = world
    _send([_request(app, users["alice"], "bob", "warm")])
    with transaction.atomic():
        _send(
            [
                _request(app, users["alice"], "bob", "c-1"),
                _request(app, users["alice"], str(team.pk), "c-2", kind=TEAM),
            ]
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                "WHERE relname IN ('messaging_conversation', 'messaging_conversationmember') ORDER BY relname"
            )
            updates = cursor.fetchall()
    assert [name for name, _, _ in updates] == ["messaging_conversation", "messaging_conversationmember"]
    assert all(total >= 2 and hot == total for _, total, hot in updates), updates


@requires_postgres
@pytest.mark.django_db
def test_a_stored_message_feeds_only_the_indexes_its_lookups_need():
    """Every index is work on each insert; the foreign keys' own indexes on app and conversation
    are left out because the unique indexes lead with those columns."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'messaging_message'")
        definitions = sorted(row[0].split(" USING btree ")[1] for row in cursor.fetchall())
    assert definitions == [
        "(app_id, sender_id, client_msg_id)",
        "(conversation_id, seq)",
        "(id)",
        "(sender_id)",
    ]


@requires_postgres
@pytest.mark.django_db
def test_the_rows_every_message_updates_have_room_on_their_pages():
    """A fillfactor of 50 on the conversation and member tables: their pages are pruned of dead
    row versions early, so the lookups of those rows walk short HOT chains."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN "
            "('messaging_conversation', 'messaging_conversationmember', 'messaging_message') ORDER BY relname"
        )
        options = cursor.fetchall()
    assert options == [
        ("messaging_conversation", ["fillfactor=50"]),
        ("messaging_conversationmember", ["fillfactor=50"]),
        ("messaging_message", None),
    ]
