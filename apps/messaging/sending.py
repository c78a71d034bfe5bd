"""Storing sends in batches: one transaction, and a fixed number of statements, per batch.

A gateway process collects the sends that arrive while its previous batch is being written and
stores them together (group commit): the commit and the round trips are shared, while every send
keeps its own outcome. Order within a conversation follows the order of the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction

from apps.core.errors import DomainError, InvalidField
from apps.imusers.models import ImUser
from apps.messaging import errors, limits
from apps.messaging.clock import now_ms
from apps.messaging.content import MessageContent, content_to_body
from apps.messaging.conversations import Place, is_id, p2p_get_or_create, place_in
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, MemberRole, Message
from apps.tenants.models import App
from apps.webhooks.services import webhook_messages_created


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
AfterCommit = Callable[[list[SendResult]], None]


def check_client_msg_id(client_msg_id: str) -> None:
    if not client_msg_id or len(client_msg_id) > limits.CLIENT_MSG_ID_MAX:
        raise InvalidField(
            f"client_msg_id is 1 to {limits.CLIENT_MSG_ID_MAX} characters", field="client_msg_id"
        )


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
            bodies[index] = content_to_body(request.content)
        except DomainError as exc:
            outcomes[index] = exc
    try:
        with transaction.atomic():
            created = _store(requests, bodies, outcomes)
            # Copies for the app server's webhook commit (or roll back) with the messages.
            webhook_messages_created(created)
            # robust: the messages are stored whatever publishing does; a failure is logged.
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
        place = place_in(conversation=original.conversation, user=request.sender)
        return SendResult(
            message=original, place=place, duplicate=True, origin_session=request.origin_session
        )


def _store(
    requests: Sequence[SendRequest], bodies: dict[int, dict[str, Any]], outcomes: list[Outcome | None]
) -> list[SendResult]:
    pending = sorted(bodies)
    originals = _originals(requests, pending)
    places = _places(requests, [i for i in pending if _key(requests[i]) not in originals], outcomes)
    stamp = now_ms()
    # Lock the conversations in id order (two batches never wait on each other in a cycle) and
    # read their positions under the lock.
    conversation_ids = sorted({place.conversation.pk for place in places.values()})
    positions = dict(
        Conversation.objects.select_for_update()
        .filter(pk__in=conversation_ids)
        .order_by("pk")
        .values_list("pk", "last_seq")
    )
    fresh: list[tuple[int, Message, Place]] = []
    taken: dict[tuple[int, int, str], int] = {}
    for index in pending:
        request = requests[index]
        key = _key(request)
        if key in originals:
            original = originals[key]
            place = place_in(conversation=original.conversation, user=request.sender)
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
        seq = positions[place.conversation.pk] = positions[place.conversation.pk] + 1
        message = Message(
            app=request.app,
            conversation=place.conversation,
            seq=seq,
            sender=request.sender,
            client_msg_id=request.client_msg_id,
            type=request.content.type,
            body=bodies[index],
            created_ms=stamp,
        )
        fresh.append((index, message, place))
        taken[key] = index
        outcomes[index] = SendResult(message, place, duplicate=False, origin_session=request.origin_session)
    if not fresh:
        return []
    Message.objects.bulk_create([message for _, message, _ in fresh])
    conversations = {place.conversation.pk: place.conversation for _, _, place in fresh}
    for conversation in conversations.values():
        conversation.last_seq, conversation.updated_ms = positions[conversation.pk], stamp
    # Plain parameterised UPDATEs sent as one executemany (psycopg pipelines them): Django's
    # bulk_update builds a CASE expression per row in Python, which the benchmark showed to cost
    # a third of a gateway's CPU.
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE messaging_conversation SET last_seq = %s, updated_ms = %s WHERE id = %s",
            [(c.last_seq, stamp, c.pk) for c in conversations.values()],
        )
    # Sending is reading: the sender's own messages never count as unread for them.
    readers: dict[int, ConversationMember] = {}
    for _, message, place in fresh:
        place.member.read_seq, place.member.updated_ms = max(place.member.read_seq, message.seq), stamp
        readers[place.member.pk] = place.member
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE messaging_conversationmember SET read_seq = %s, updated_ms = %s "
            "WHERE id = %s AND read_seq < %s",
            [(m.read_seq, stamp, m.pk, m.read_seq) for m in readers.values()],
        )
    return [result for index, _, _ in fresh if isinstance(result := outcomes[index], SendResult)]


def _key(request: SendRequest) -> tuple[int, int, str]:
    return (request.app.pk, request.sender.pk, request.client_msg_id)


def _originals(requests: Sequence[SendRequest], pending: list[int]) -> dict[tuple[int, int, str], Message]:
    """Messages already stored under the batch's client_msg_ids (retries)."""
    if not pending:
        return {}
    found = Message.objects.select_related("conversation", "sender").filter(
        app_id__in={requests[i].app.pk for i in pending},
        sender_id__in={requests[i].sender.pk for i in pending},
        client_msg_id__in={requests[i].client_msg_id for i in pending},
    )
    return {(m.app_id, m.sender_id, m.client_msg_id): m for m in found}


def _places(
    requests: Sequence[SendRequest], pending: list[int], outcomes: list[Outcome | None]
) -> dict[int, Place]:
    """Each send's place, found with one query per conversation type; refusals go to ``outcomes``."""
    places: dict[int, Place] = {}
    p2p = [i for i in pending if requests[i].conversation_type == ConversationKind.P2P]
    team = [i for i in pending if requests[i].conversation_type == ConversationKind.TEAM]
    for i in pending:
        if requests[i].conversation_type not in ConversationKind.values:
            outcomes[i] = InvalidField("conversation_type must be P2P or TEAM", field="conversation_type")
    _p2p_places(requests, p2p, places, outcomes)
    _team_places(requests, team, places, outcomes)
    for index, place in list(places.items()):
        try:
            check_may_post(place)
        except DomainError as exc:
            outcomes[index] = exc
            del places[index]
    return places


def _p2p_places(
    requests: Sequence[SendRequest],
    pending: list[int],
    places: dict[int, Place],
    outcomes: list[Outcome | None],
) -> None:
    if not pending:
        return
    peers = {
        (u.app_id, u.accid): u
        for u in ImUser.objects.filter(
            app_id__in={requests[i].app.pk for i in pending}, accid__in={requests[i].target for i in pending}
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
            user_id__in={w[0] for w in wanted.values()},
            conversation__kind=ConversationKind.P2P,
            conversation__user_low_id__in={w[1] for w in wanted.values()},
            conversation__user_high_id__in={w[2] for w in wanted.values()},
        )
    }
    for i, key in wanted.items():
        request = requests[i]
        peer = peers[(request.app.pk, request.target)]
        member = members.get(key)
        if member is None:  # the pair's first message: the conversation starts now
            conversation = p2p_get_or_create(app=request.app, user=request.sender, peer=peer)
            member = members[key] = ConversationMember.objects.select_related("conversation").get(
                conversation=conversation, user=request.sender
            )
        places[i] = Place(conversation=member.conversation, member=member, peer=peer)


def _team_places(
    requests: Sequence[SendRequest],
    pending: list[int],
    places: dict[int, Place],
    outcomes: list[Outcome | None],
) -> None:
    wanted = {i: int(requests[i].target) for i in pending if is_id(requests[i].target)}
    for i in pending:
        if i not in wanted:
            outcomes[i] = errors.no_such_team(requests[i].target)
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
    missing = {team_id for i, team_id in wanted.items() if (requests[i].sender.pk, team_id) not in members}
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
