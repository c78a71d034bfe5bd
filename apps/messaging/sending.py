"""Storing sends in batches: one transaction, and a fixed number of statements, per batch.

A gateway process collects the sends that arrive while its previous batch is being written and
stores them together (group commit): the commit and the round trips are shared, while every send
keeps its own outcome. Order within a conversation follows the order of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Field, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from apps.core.errors import DomainError, InvalidField
from apps.core.sql import int_array, prepared, text_array
from apps.core.text import storable
from apps.imusers.models import ImUser
from apps.messaging import errors, limits
from apps.messaging.clock import now_ms
from apps.messaging.content import MessageContent, content_to_body
from apps.messaging.conversations import Place, is_id, p2p_get_or_create, place_in
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, MemberRole, Message
from apps.tenants.models import App
from apps.webhooks.services import webhook_messages_created, webhook_wants_messages


@dataclass(frozen=True)
class SendRequest:
    app: App
    sender: ImUser
    conversation_type: int
    target: str
    client_msg_id: str
    content: MessageContent
    # The sending device's session: it has its ack and is not sent a copy.
    origin_session: str = ""


@dataclass(frozen=True)
class SendResult:
    message: Message
    place: Place
    duplicate: bool
    origin_session: str = ""


Outcome = SendResult | DomainError
# ``ConversationKind.values`` builds a new list on every access.
_KINDS = frozenset(ConversationKind.values)
AfterCommit = Callable[[list[SendResult]], None]
M = TypeVar("M", bound=Model)


def check_client_msg_id(client_msg_id: str) -> None:
    if not client_msg_id or len(client_msg_id) > limits.CLIENT_MSG_ID_MAX:
        raise InvalidField(
            f"client_msg_id is 1 to {limits.CLIENT_MSG_ID_MAX} characters", field="client_msg_id"
        )
    if not storable(client_msg_id):
        raise InvalidField(
            "client_msg_id may not contain NUL characters or unpaired surrogates", field="client_msg_id"
        )


def check_target(target: str) -> None:
    if not storable(target):
        raise InvalidField("target may not contain NUL characters or unpaired surrogates", field="target")


def check_may_post(place: Place) -> None:
    if place.conversation.kind != ConversationKind.TEAM:
        return
    privileged = place.member.role in (MemberRole.OWNER, MemberRole.MANAGER)
    if place.member.muted or (place.conversation.mute_all and not privileged):
        raise errors.Forbidden("You are muted in this team.", code="muted")


def message_send_many(*, requests: Sequence[SendRequest], after_commit: AfterCommit) -> list[Outcome]:
    """Store every valid send of ``requests``; returns one outcome per request, in order.

    ``after_commit`` receives the newly stored messages once the transaction has committed (it
    publishes them). A retried client_msg_id returns the original (``duplicate``) and publishes
    nothing. If a concurrent writer takes one of the batch's client_msg_ids first, the batch is
    stored again one send at a time.
    """
    outcomes: list[Outcome | None] = [None] * len(requests)
    bodies: dict[int, dict[str, Any]] = {}
    for index, request in enumerate(requests):
        try:
            check_client_msg_id(request.client_msg_id)
            check_target(request.target)
            bodies[index] = content_to_body(request.content)
        except DomainError as exc:
            outcomes[index] = exc
    sql = _sql()
    try:
        if sql.writes_in_one_statement and not webhook_wants_messages(apps=[r.app for r in requests]):
            # The batch's one write statement is its transaction: no BEGIN and COMMIT round trips
            # (the reads before it are reads; READ COMMITTED gave them no more in a transaction).
            created = _store(sql, requests, bodies, outcomes)
            # robust: the messages are stored whatever publishing does; a failure is logged.
            transaction.on_commit(lambda: after_commit(created), robust=True)
        else:
            with transaction.atomic():
                created = _store(sql, requests, bodies, outcomes)
                # Copies for the app server's webhook commit (or roll back) with the messages.
                webhook_messages_created(created)
                transaction.on_commit(lambda: after_commit(created), robust=True)
    except IntegrityError:
        if len(requests) == 1:
            raise
        return [
            outcome
            if isinstance(outcome, DomainError) and index not in bodies
            else message_send_one(request, after_commit)
            for index, (request, outcome) in enumerate(zip(requests, outcomes, strict=True))
        ]
    return [outcome for outcome in outcomes if outcome is not None]


def message_send_one(request: SendRequest, after_commit: AfterCommit) -> Outcome:
    """One send on its own; a concurrent retry that won the race is answered as a duplicate."""
    try:
        return message_send_many(requests=[request], after_commit=after_commit)[0]
    except IntegrityError:
        original = Message.objects.select_related("conversation", "sender").get(
            app=request.app, sender=request.sender, client_msg_id=request.client_msg_id
        )
        place = _original_place(original, request.sender)
        return SendResult(
            message=original, place=place, duplicate=True, origin_session=request.origin_session
        )


def _store(
    sql: _Statements,
    requests: Sequence[SendRequest],
    bodies: dict[int, dict[str, Any]],
    outcomes: list[Outcome | None],
) -> list[SendResult]:
    pending = sorted(bodies)
    originals, places = sql.resolve(requests, pending, outcomes)
    stamp = now_ms()
    fresh: list[tuple[int, Message, Place]] = []
    taken: dict[tuple[int, int, str], int] = {}
    for index in pending:
        request = requests[index]
        key = _key(request)
        if key in originals:
            original = originals[key]
            place = _original_place(original, request.sender)
            outcomes[index] = SendResult(
                original, place, duplicate=True, origin_session=request.origin_session
            )
            continue
        if index not in places:
            continue  # refused while resolving its conversation
        if key in taken:  # the same client_msg_id twice in one batch: the second is a retry
            first = outcomes[taken[key]]
            assert isinstance(first, SendResult)
            outcomes[index] = SendResult(
                first.message, first.place, duplicate=True, origin_session=request.origin_session
            )
            continue
        place = places[index]
        message = _new_message(request, place, bodies[index], stamp)  # its seq comes with the write
        fresh.append((index, message, place))
        taken[key] = index
        outcomes[index] = SendResult(message, place, duplicate=False, origin_session=request.origin_session)
    if not fresh:
        return []
    sql.write([(message, place) for _, message, place in fresh], stamp)
    return [result for index, _, _ in fresh if isinstance(result := outcomes[index], SendResult)]


def _settle(fresh: Sequence[tuple[Message, Place]], stamp: int) -> None:
    """Once the messages have their seqs: the conversations' positions and the senders' read
    positions as stored (sending is reading: the sender's own messages never count as unread)."""
    for message, place in fresh:
        conversation, member = place.conversation, place.member
        conversation.last_seq, conversation.updated_ms = max(conversation.last_seq, message.seq), stamp
        member.read_seq, member.updated_ms = max(member.read_seq, message.seq), stamp


def _original_place(original: Message, sender: ImUser) -> Place:
    """The sender's place in a stored message's conversation, to answer its retry. They may have
    left the team since; the answer (the original's ack) is the same, so their membership then
    is a stand-in, never saved (a retry stores and publishes nothing)."""
    conversation = original.conversation
    try:
        return place_in(conversation=conversation, user=sender)
    except ConversationMember.DoesNotExist:
        if conversation.kind != ConversationKind.TEAM:
            raise
        stand_in = ConversationMember(app_id=conversation.app_id, conversation=conversation, user=sender)
        return Place(conversation=conversation, member=stand_in, peer=None)


def _key(request: SendRequest) -> tuple[int, int, str]:
    return (request.app.pk, request.sender.pk, request.client_msg_id)


def _places(
    sql: _Statements,
    requests: Sequence[SendRequest],
    pending: list[int],
    outcomes: list[Outcome | None],
    stored: dict[int, int],
) -> dict[int, Place]:
    """Each send's place, found with one query per conversation type; refusals go to ``outcomes``.
    Where the query also finds a send already stored (a retry), its message id goes to ``stored``
    and it gets no place."""
    places: dict[int, Place] = {}
    p2p = [i for i in pending if requests[i].conversation_type == ConversationKind.P2P]
    team = [i for i in pending if requests[i].conversation_type == ConversationKind.TEAM]
    for i in pending:
        if requests[i].conversation_type not in _KINDS:
            outcomes[i] = InvalidField("conversation_type must be P2P or TEAM", field="conversation_type")
    sql.p2p_places(requests, p2p, places, outcomes, stored)
    sql.team_places(requests, team, places, outcomes, stored)
    for index, place in list(places.items()):
        try:
            check_may_post(place)
        except DomainError as exc:
            outcomes[index] = exc
            del places[index]
    return places


class _Statements:
    """The statements of a batch, through the ORM: any database Django supports (SQLite for the
    embedded quick start). ``_PostgresStatements`` does the same in a fixed number of set-based
    statements. Every statement is scoped by the sending app."""

    def resolve(
        self, requests: Sequence[SendRequest], pending: list[int], outcomes: list[Outcome | None]
    ) -> tuple[dict[tuple[int, int, str], Message], dict[int, Place]]:
        """The batch's retries of stored sends (by key), and the place of every other send."""
        originals = self.originals(requests, pending)
        fresh = [i for i in pending if _key(requests[i]) not in originals]
        return originals, _places(self, requests, fresh, outcomes, {})

    def originals(
        self, requests: Sequence[SendRequest], pending: list[int]
    ) -> dict[tuple[int, int, str], Message]:
        """Messages already stored under the batch's client_msg_ids (retries)."""
        if not pending:
            return {}
        found = Message.objects.select_related("conversation", "sender").filter(
            app_id__in={requests[i].app.pk for i in pending},
            sender_id__in={requests[i].sender.pk for i in pending},
            client_msg_id__in={requests[i].client_msg_id for i in pending},
        )
        return {(m.app_id, m.sender_id, m.client_msg_id): m for m in found}

    def p2p_places(
        self,
        requests: Sequence[SendRequest],
        pending: list[int],
        places: dict[int, Place],
        outcomes: list[Outcome | None],
        stored: dict[int, int],
    ) -> None:
        if not pending:
            return
        peers = {
            (u.app_id, u.accid): u
            for u in ImUser.objects.filter(
                app_id__in={requests[i].app.pk for i in pending},
                accid__in={requests[i].target for i in pending},
            )
        }
        wanted: dict[int, tuple[int, int, int]] = {}
        for i in pending:
            request = requests[i]
            peer = peers.get((request.app.pk, request.target))
            if peer is None:
                outcomes[i] = errors.no_such_user(request.target)
                continue
            low, high = sorted((request.sender.pk, peer.pk))
            wanted[i] = (request.sender.pk, low, high)
        members = {
            (m.user_id, m.conversation.user_low_id, m.conversation.user_high_id): m
            for m in ConversationMember.objects.select_related("conversation").filter(
                app_id__in={requests[i].app.pk for i in wanted},
                user_id__in={w[0] for w in wanted.values()},
                conversation__kind=ConversationKind.P2P,
                conversation__user_low_id__in={w[1] for w in wanted.values()},
                conversation__user_high_id__in={w[2] for w in wanted.values()},
            )
        }
        for i, key in wanted.items():
            request = requests[i]
            peer = peers[(request.app.pk, request.target)]
            places[i] = _p2p_place(request, peer, members.get(key))
            members[key] = places[i].member

    def team_places(
        self,
        requests: Sequence[SendRequest],
        pending: list[int],
        places: dict[int, Place],
        outcomes: list[Outcome | None],
        stored: dict[int, int],
    ) -> None:
        wanted = _team_ids(requests, pending, outcomes)
        if not wanted:
            return
        members = {
            (m.user_id, m.conversation_id): m
            for m in ConversationMember.objects.select_related("conversation").filter(
                user_id__in={requests[i].sender.pk for i in wanted},
                conversation_id__in=set(wanted.values()),
                conversation__kind=ConversationKind.TEAM,
                conversation__closed=False,
            )
        }
        missing = {
            team_id for i, team_id in wanted.items() if (requests[i].sender.pk, team_id) not in members
        }
        open_teams: dict[int, int] = dict(
            Conversation.objects.filter(pk__in=missing, kind=ConversationKind.TEAM, closed=False).values_list(
                "pk", "app_id"
            )
        )
        for i, team_id in wanted.items():
            request = requests[i]
            member = members.get((request.sender.pk, team_id))
            if member is not None and member.conversation.app_id == request.app.pk:
                places[i] = Place(conversation=member.conversation, member=member, peer=None)
            elif open_teams.get(team_id) == request.app.pk:
                outcomes[i] = errors.not_team_member()
            else:
                outcomes[i] = errors.no_such_team(request.target)

    # The write is several statements here: the caller wraps it in a transaction.
    writes_in_one_statement = False

    def write(self, fresh: list[tuple[Message, Place]], stamp: int) -> None:
        """Give the messages the next seqs of their conversations, in batch order, and store them
        (their ``pk`` set); move the conversations' ``last_seq`` and the senders' ``read_seq``
        (never backwards). The conversations are locked in id order: two batches never wait on
        each other in a cycle."""
        conversations = {place.conversation.pk: place.conversation for _, place in fresh}
        positions: dict[int, int] = {}
        for app_id in sorted({c.app_id for c in conversations.values()}):
            ids = sorted(pk for pk, c in conversations.items() if c.app_id == app_id)
            positions.update(
                Conversation.objects.select_for_update()
                .filter(pk__in=ids, app_id=app_id)
                .order_by("pk")
                .values_list("pk", "last_seq")
            )
        for message, place in fresh:
            message.seq = positions[place.conversation.pk] = positions[place.conversation.pk] + 1
        _settle(fresh, stamp)
        Message.objects.bulk_create([message for message, _ in fresh])
        readers = {place.member.pk: place.member for _, place in fresh}
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE messaging_conversation SET last_seq = %s, updated_ms = %s "
                "WHERE id = %s AND app_id = %s",
                [(c.last_seq, stamp, c.pk, c.app_id) for c in conversations.values()],
            )
            cursor.executemany(
                "UPDATE messaging_conversationmember SET read_seq = %s, updated_ms = %s "
                "WHERE id = %s AND app_id = %s AND read_seq < %s",
                [(m.read_seq, stamp, m.pk, m.app_id, m.read_seq) for m in readers.values()],
            )


@cache
def _read_fields(model: type[Model]) -> tuple[Field[Any, Any], ...]:
    """The columns the send path reads: all but the timestamps, which it never uses and whose
    time-zone-aware parsing was the largest cost per row left. They stay deferred (Django loads
    a deferred field on first access)."""
    return tuple(
        f for f in model._meta.concrete_fields if not isinstance(f, models.DateField | models.DateTimeField)
    )


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f'{alias}."{f.column}"' for f in _read_fields(model))


@cache
def _p2p_sql() -> str:
    """Each send's peer (by accid, in the sender's app), and the pair's conversation and the
    sender's membership where they exist; ``ord`` is the send's index in the batch. The app scopes
    the peer and the conversation; the membership is reached through that conversation (a
    member's app is its conversation's), which leaves the planner its (conversation, user) index."""
    return (
        f"SELECT k.ord, o.id, {_columns(ImUser, 'p')}, {_columns(Conversation, 'c')}, "  # noqa: S608
        f"{_columns(ConversationMember, 'm')} "
        "FROM unnest(%s::int[], %s::bigint[], %s::bigint[], %s::text[], %s::text[]) "
        "AS k(ord, app_id, sender_id, accid, client_msg_id) "
        "JOIN imusers_imuser p ON p.app_id = k.app_id AND p.accid = k.accid "
        "LEFT JOIN messaging_conversation c ON c.app_id = k.app_id AND c.kind = %s "
        "AND c.user_low_id = LEAST(k.sender_id, p.id) "
        "AND c.user_high_id = GREATEST(k.sender_id, p.id) "
        "LEFT JOIN messaging_conversationmember m ON m.conversation_id = c.id "
        "AND m.user_id = k.sender_id " + _STORED_JOIN
    )


# A send already stored under its client_msg_id (a retry): ``o.id`` is its message.
_STORED_JOIN = (
    "LEFT JOIN messaging_message o ON o.app_id = k.app_id AND o.sender_id = k.sender_id "
    "AND o.client_msg_id = k.client_msg_id"
)


@cache
def _team_sql() -> str:
    """Each send's open team in the sender's app, and the sender's membership if any."""
    return (
        f"SELECT k.ord, o.id, {_columns(Conversation, 'c')}, {_columns(ConversationMember, 'm')} "  # noqa: S608
        "FROM unnest(%s::int[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
        "AS k(ord, app_id, sender_id, team_id, client_msg_id) "
        "JOIN messaging_conversation c ON c.id = k.team_id AND c.app_id = k.app_id "
        "AND c.kind = %s AND NOT c.closed "
        "LEFT JOIN messaging_conversationmember m ON m.conversation_id = c.id "
        "AND m.user_id = k.sender_id " + _STORED_JOIN
    )


@cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


@cache
def _read_attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in _read_fields(model))


def _instance(model: type[M], attnames: tuple[str, ...], values: Sequence[Any], db: str | None) -> M:
    """What ``model.from_db`` makes of a row (``db``: the alias it came from; None for a new
    object), without ``Model.__init__``: its per-field work was most of a batch's CPU once the
    statements were raw. Fields not in ``attnames`` are deferred. Models with init signal
    receivers (none of these today) take Django's own path."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        if db is not None:
            return model.from_db(db, attnames, values)
        return model(**dict(zip(attnames, values, strict=True)))
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    state = instance._state = ModelState()
    if db is not None:
        state.adding, state.db = False, db
    return instance


def _new_message(request: SendRequest, place: Place, body: dict[str, Any], stamp: int) -> Message:
    conversation = place.conversation
    values = {
        "id": None,
        "app_id": request.app.pk,
        "conversation_id": conversation.pk,
        "seq": 0,
        "sender_id": request.sender.pk,
        "client_msg_id": request.client_msg_id,
        "type": request.content.type,
        "body": body,
        "created_ms": stamp,
        "recalled": False,
        "recalled_seq": None,
    }
    attnames = _attnames(Message)
    message = _instance(Message, attnames, [values[name] for name in attnames], None)
    # The related objects are known: readers of the message must not query for them.
    message._state.fields_cache.update(app=request.app, conversation=conversation, sender=request.sender)
    return message


def _rows(model: type[M], row: Sequence[Any], start: int, db: str) -> tuple[M | None, int]:
    """The model instance whose ``_columns`` start at ``row[start]`` (None for an outer join's
    missing side), and where the next one starts."""
    attnames = _read_attnames(model)
    end = start + len(attnames)
    values = row[start:end]
    if values[0] is None:
        return None, end
    return _instance(model, attnames, values, db), end


class _PostgresStatements(_Statements):
    """The same statements as one set-based SQL statement each, arrays passed as parameters (as
    array literals, ``apps.core.sql.int_array``): the ORM's compile cost per statement, not
    PostgreSQL, was the limit of a gateway's send rate. The (rare) first message of a pair and the
    retries of stored messages still go through the ORM."""

    def resolve(
        self, requests: Sequence[SendRequest], pending: list[int], outcomes: list[Outcome | None]
    ) -> tuple[dict[tuple[int, int, str], Message], dict[int, Place]]:
        # The place statements find the retries too (one round trip fewer per batch). A send they
        # refused may still be the retry of a stored one (its peer or team gone since, say): a
        # retry is always answered with its original, so those few are looked up by key.
        stored: dict[int, int] = {}
        places = _places(self, requests, pending, outcomes, stored)
        refused = [i for i in pending if outcomes[i] is not None]
        originals = self.originals(requests, refused)
        if stored:
            originals.update(_originals_by_id(list(stored.values())))
        for index in refused:
            if _key(requests[index]) in originals:
                outcomes[index] = None
        return originals, places

    def originals(
        self, requests: Sequence[SendRequest], pending: list[int]
    ) -> dict[tuple[int, int, str], Message]:
        if not pending:
            return {}
        keys = {_key(requests[i]) for i in pending}
        rows = prepared(
            "SELECT m.id FROM messaging_message m "
            "JOIN unnest(%s::bigint[], %s::bigint[], %s::text[]) AS k(app_id, sender_id, client_msg_id) "
            "ON m.app_id = k.app_id AND m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id",
            [int_array(k[0] for k in keys), int_array(k[1] for k in keys), text_array(k[2] for k in keys)],
        )
        return _originals_by_id([row[0] for row in rows])

    def p2p_places(
        self,
        requests: Sequence[SendRequest],
        pending: list[int],
        places: dict[int, Place],
        outcomes: list[Outcome | None],
        stored: dict[int, int],
    ) -> None:
        if not pending:
            return
        rows = prepared(
            _p2p_sql(),
            [
                int_array(pending),
                int_array(requests[i].app.pk for i in pending),
                int_array(requests[i].sender.pk for i in pending),
                text_array(requests[i].target for i in pending),
                text_array(requests[i].client_msg_id for i in pending),
                int(ConversationKind.P2P),
            ],
        )
        db = connection.alias
        found: dict[int, tuple[ImUser, ConversationMember | None]] = {}
        # Sends of one batch in one conversation share its objects, as with the ORM's lookups.
        shared: dict[int, ConversationMember] = {}
        pairs: dict[int, Conversation] = {}
        for row in rows:
            if row[1] is not None:
                stored[row[0]] = row[1]
                continue
            peer, at = _rows(ImUser, row, 2, db)
            conversation, at = _rows(Conversation, row, at, db)
            member, _ = _rows(ConversationMember, row, at, db)
            assert peer is not None
            if member is not None:
                assert conversation is not None
                member.conversation = pairs.setdefault(conversation.pk, conversation)
                member = shared.setdefault(member.pk, member)
            found[row[0]] = (peer, member)
        for i in pending:
            if i in stored:
                continue
            if i not in found:
                outcomes[i] = errors.no_such_user(requests[i].target)
                continue
            peer, member = found[i]
            if member is None:
                low, high = sorted((requests[i].sender.pk, peer.pk))
                member = next(
                    (
                        m
                        for m in shared.values()
                        if m.user_id == requests[i].sender.pk
                        and (m.conversation.user_low_id, m.conversation.user_high_id) == (low, high)
                    ),
                    None,
                )
            places[i] = place = _p2p_place(requests[i], peer, member)
            shared.setdefault(place.member.pk, place.member)

    def team_places(
        self,
        requests: Sequence[SendRequest],
        pending: list[int],
        places: dict[int, Place],
        outcomes: list[Outcome | None],
        stored: dict[int, int],
    ) -> None:
        wanted = _team_ids(requests, pending, outcomes)
        if not wanted:
            return
        order = list(wanted)
        rows = prepared(
            _team_sql(),
            [
                int_array(order),
                int_array(requests[i].app.pk for i in order),
                int_array(requests[i].sender.pk for i in order),
                int_array(wanted[i] for i in order),
                text_array(requests[i].client_msg_id for i in order),
                int(ConversationKind.TEAM),
            ],
        )
        db = connection.alias
        found: dict[int, tuple[Conversation, ConversationMember | None]] = {}
        shared: dict[int, ConversationMember] = {}
        teams: dict[int, Conversation] = {}
        for row in rows:
            if row[1] is not None:
                stored[row[0]] = row[1]
                continue
            conversation, at = _rows(Conversation, row, 2, db)
            member, _ = _rows(ConversationMember, row, at, db)
            assert conversation is not None
            conversation = teams.setdefault(conversation.pk, conversation)
            if member is not None:
                member.conversation = conversation
                member = shared.setdefault(member.pk, member)
            found[row[0]] = (conversation, member)
        for i in order:
            if i in stored:
                continue
            if i not in found:
                outcomes[i] = errors.no_such_team(requests[i].target)
                continue
            conversation, member = found[i]
            if member is None:
                outcomes[i] = errors.not_team_member()
            else:
                places[i] = Place(conversation=conversation, member=member, peer=None)

    writes_in_one_statement = True

    def write(self, fresh: list[tuple[Message, Place]], stamp: int) -> None:
        # One statement, so a transaction of its own: it locks the conversations in id order
        # (``locked``, sorted before FOR UPDATE takes the locks), and every seq is its
        # conversation's last_seq under that lock plus the message's rank in the batch. The two
        # updates are data-modifying CTEs of the insert.
        ranks: list[int] = []
        counts: dict[int, int] = {}
        conversations: dict[int, int] = {}
        readers: dict[int, tuple[ConversationMember, int]] = {}
        for _, place in fresh:
            conversation = place.conversation
            rank = counts[conversation.pk] = counts.get(conversation.pk, 0) + 1
            conversations[conversation.pk] = conversation.app_id
            ranks.append(rank)
            readers[place.member.pk] = (place.member, rank)
        ids = sorted(conversations)
        messages = [message for message, _ in fresh]
        rows = prepared(
            "WITH locked AS ("
            " SELECT c.id, c.last_seq FROM messaging_conversation c"
            " JOIN unnest(%s::bigint[], %s::bigint[]) AS k(id, app_id) ON c.id = k.id AND c.app_id = k.app_id"
            " ORDER BY c.id FOR UPDATE OF c"
            "), conversations AS ("
            " UPDATE messaging_conversation c SET last_seq = l.last_seq + v.n, updated_ms = %s"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, n) JOIN locked l ON l.id = v.id"
            " WHERE c.id = v.id"
            "), readers AS ("
            " UPDATE messaging_conversationmember m SET read_seq = l.last_seq + v.rank, updated_ms = %s"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])"
            " AS v(id, app_id, conversation_id, rank) JOIN locked l ON l.id = v.conversation_id"
            " WHERE m.id = v.id AND m.app_id = v.app_id AND m.read_seq < l.last_seq + v.rank"
            ") INSERT INTO messaging_message"
            " (app_id, conversation_id, seq, sender_id, client_msg_id, type, body, created_ms, recalled)"
            " SELECT v.app_id, v.conversation_id, l.last_seq + v.rank, v.sender_id, v.client_msg_id, v.type,"
            " v.body::jsonb, %s, false"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::int[],"
            " %s::text[]) AS v(app_id, conversation_id, rank, sender_id, client_msg_id, type, body)"
            " JOIN locked l ON l.id = v.conversation_id"
            " RETURNING id, conversation_id, seq",
            [
                int_array(ids),
                int_array(conversations[pk] for pk in ids),
                stamp,
                int_array(ids),
                int_array(counts[pk] for pk in ids),
                stamp,
                int_array(member.pk for member, _ in readers.values()),
                int_array(member.app_id for member, _ in readers.values()),
                int_array(member.conversation_id for member, _ in readers.values()),
                int_array(rank for _, rank in readers.values()),
                stamp,
                int_array(m.app_id for m in messages),
                int_array(m.conversation_id for m in messages),
                int_array(ranks),
                int_array(m.sender_id for m in messages),
                text_array(m.client_msg_id for m in messages),
                int_array(m.type for m in messages),
                text_array(json.dumps(m.body) for m in messages),
            ],
        )
        if len(rows) != len(messages):
            # Only an app deleted meanwhile takes its conversations away: its sends fail with the
            # batch, whose other messages are stored, and a client's retry is answered with them.
            raise RuntimeError("a conversation of the send batch was deleted while it was stored")
        base: dict[int, int] = {}
        found: dict[tuple[int, int], int] = {}
        for pk, conversation_id, seq in rows:
            found[(conversation_id, seq)] = pk
            base[conversation_id] = min(base.get(conversation_id, seq), seq)
        for message, rank in zip(messages, ranks, strict=True):
            message.seq = base[message.conversation_id] + rank - 1
            message.pk = found[(message.conversation_id, message.seq)]
            message._state.adding, message._state.db = False, connection.alias
        _settle(fresh, stamp)


def _originals_by_id(ids: list[int]) -> dict[tuple[int, int, str], Message]:
    if not ids:
        return {}
    found = Message.objects.select_related("conversation", "sender").filter(pk__in=ids)
    return {(m.app_id, m.sender_id, m.client_msg_id): m for m in found}


def _sql() -> _Statements:
    return _POSTGRES if connection.vendor == "postgresql" else _PORTABLE


_PORTABLE = _Statements()
_POSTGRES = _PostgresStatements()


def _p2p_place(request: SendRequest, peer: ImUser, member: ConversationMember | None) -> Place:
    if member is None:  # the pair's first message: the conversation starts now
        conversation = p2p_get_or_create(app=request.app, user=request.sender, peer=peer)
        member = ConversationMember.objects.select_related("conversation").get(
            conversation=conversation, user=request.sender
        )
    return Place(conversation=member.conversation, member=member, peer=peer)


def _team_ids(
    requests: Sequence[SendRequest], pending: list[int], outcomes: list[Outcome | None]
) -> dict[int, int]:
    wanted = {i: int(requests[i].target) for i in pending if is_id(requests[i].target)}
    for i in pending:
        if i not in wanted:
            outcomes[i] = errors.no_such_team(requests[i].target)
    return wanted
