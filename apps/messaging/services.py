"""Writes on conversations: send, recall, mark read, typing.

Each write stores first and publishes after commit: the realtime layer only wakes live devices,
the database holds the truth, and a device that missed a wake-up recovers by sync.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, connection, transaction

from apps.core.errors import DomainError, InvalidField
from apps.gateway import publish
from apps.imusers.models import ImUser
from apps.messaging import errors, limits
from apps.messaging.clock import now_ms
from apps.messaging.content import MessageContent, content_to_body
from apps.messaging.conversations import Place, is_id, place_for, place_in
from apps.messaging.models import (
    ConversationKind,
    ConversationMember,
    MemberRole,
    Message,
    MessageType,
)
from apps.tenants.models import App

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    message: Message
    place: Place
    duplicate: bool


def _check_client_msg_id(client_msg_id: str) -> None:
    if not client_msg_id or len(client_msg_id) > limits.CLIENT_MSG_ID_MAX:
        raise InvalidField(
            f"client_msg_id is 1 to {limits.CLIENT_MSG_ID_MAX} characters", field="client_msg_id"
        )


def _check_may_post(place: Place) -> None:
    if place.conversation.kind != ConversationKind.TEAM:
        return
    privileged = place.member.role in (MemberRole.OWNER, MemberRole.MANAGER)
    if place.member.muted or (place.conversation.mute_all and not privileged):
        raise errors.Forbidden("You are muted in this team.", code="muted")


def _next_seq(conversation_id: int, stamp_ms: int) -> int:
    """Take the conversation's next seq. The row lock this UPDATE takes is held until commit, so
    seqs of one conversation commit in order and a rolled-back send leaves no gap."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_conversation SET last_seq = last_seq + 1, updated_ms = %s "
            "WHERE id = %s RETURNING last_seq",
            [stamp_ms, conversation_id],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def _append(
    *,
    app: App,
    place: Place,
    sender: ImUser,
    client_msg_id: str,
    type: int,
    body: dict[str, object],
    recalled_seq: int | None = None,
) -> Message:
    stamp = now_ms()
    seq = _next_seq(place.conversation.pk, stamp)
    message = Message.objects.create(
        app=app,
        conversation=place.conversation,
        seq=seq,
        sender=sender,
        client_msg_id=client_msg_id,
        type=type,
        body=body,
        created_ms=stamp,
        recalled_seq=recalled_seq,
    )
    place.conversation.last_seq = seq
    place.conversation.updated_ms = stamp
    return message


def _find_duplicate(*, app: App, sender: ImUser, client_msg_id: str) -> Message | None:
    return (
        Message.objects.select_related("conversation")
        .filter(app=app, sender=sender, client_msg_id=client_msg_id)
        .first()
    )


def message_send(
    *,
    app: App,
    sender: ImUser,
    conversation_type: int,
    target: str,
    client_msg_id: str,
    content: MessageContent,
    origin_session: str = "",
) -> SendResult:
    """Store a message and publish it after commit; a retried client_msg_id returns the original.

    ``origin_session`` is the sending device's session, which has its ack and is not sent a copy.
    """
    _check_client_msg_id(client_msg_id)
    body = content_to_body(content)
    try:
        with transaction.atomic():
            place = place_for(app=app, user=sender, kind=conversation_type, target=target, create=True)
            assert place is not None
            _check_may_post(place)
            message = _append(
                app=app, place=place, sender=sender, client_msg_id=client_msg_id, type=content.type, body=body
            )
            # Sending is reading: the sender's own message never counts as unread for them.
            ConversationMember.objects.filter(pk=place.member.pk).update(
                read_seq=message.seq, updated_ms=message.created_ms
            )
            transaction.on_commit(
                partial(publish.message_created, message=message, place=place, origin_session=origin_session)
            )
    except IntegrityError:
        duplicate = _find_duplicate(app=app, sender=sender, client_msg_id=client_msg_id)
        if duplicate is None:
            raise
        message = duplicate
    else:
        return SendResult(message=message, place=place, duplicate=False)
    # The original may name another conversation than this retry does: its ack tells where it went.
    place = place_in(conversation=message.conversation, user=sender)
    return SendResult(message=message, place=place, duplicate=True)


@dataclass(frozen=True)
class RecallResult:
    original: Message
    notice: Message
    duplicate: bool


def message_recall(
    *,
    app: App,
    actor: ImUser,
    conversation_type: int,
    target: str,
    server_msg_id: str,
    as_app_server: bool = False,
) -> RecallResult:
    """Replace a message by a recall notice that takes the next seq; every party is told.

    Clients may recall their own messages within the app's recall window. The app server
    (``as_app_server``) may recall anyone's within the same window.
    """
    place = place_for(app=app, user=actor, kind=conversation_type, target=target, create=False)
    if place is None or not is_id(server_msg_id):
        raise errors.no_such_message()
    with transaction.atomic():
        original = (
            Message.objects.select_for_update()
            .filter(app=app, conversation=place.conversation, pk=int(server_msg_id))
            .exclude(type=MessageType.RECALL)
            .first()
        )
        if original is None or original.seq <= place.member.joined_seq:
            raise errors.no_such_message()
        if original.sender_id != actor.pk and not as_app_server:
            raise errors.Forbidden("Only the sender may recall a message.", code="not_sender")
        if original.recalled:
            notice = Message.objects.get(
                conversation=place.conversation, type=MessageType.RECALL, recalled_seq=original.seq
            )
            return RecallResult(original=original, notice=notice, duplicate=True)
        if now_ms() - original.created_ms > app.recall_window_seconds * 1000:
            raise DomainError(
                f"Messages can be recalled for {app.recall_window_seconds} s after sending.",
                code="recall_window_passed",
            )
        original.recalled = True
        original.body = {}
        original.save(update_fields=["recalled", "body"])
        notice = _append(
            app=app,
            place=place,
            sender=original.sender,
            client_msg_id=f"recall:{original.pk}",
            type=MessageType.RECALL,
            body={},
            recalled_seq=original.seq,
        )
        transaction.on_commit(
            partial(publish.message_created, message=notice, place=place, origin_session="")
        )
    logger.info("message recalled", extra={"app_key": app.app_key, "message_id": original.pk})
    return RecallResult(original=original, notice=notice, duplicate=False)


def conversation_mark_read(
    *, app: App, user: ImUser, conversation_type: int, target: str, seq: int, origin_session: str = ""
) -> int:
    """Move the user's read position forward (never back) and tell their other devices and the peer."""
    place = place_for(app=app, user=user, kind=conversation_type, target=target, create=False)
    if place is None:
        raise errors.no_such_message()
    wanted = min(seq, place.conversation.last_seq)
    stamp = now_ms()
    moved = ConversationMember.objects.filter(pk=place.member.pk, read_seq__lt=wanted).update(
        read_seq=wanted, updated_ms=stamp
    )
    if not moved:
        stored: int = ConversationMember.objects.values_list("read_seq", flat=True).get(pk=place.member.pk)
        return stored
    place.member.read_seq = wanted
    transaction.on_commit(
        partial(
            publish.read_receipt, place=place, reader=user, read_seq=wanted, origin_session=origin_session
        )
    )
    return wanted


def typing_notify(*, app: App, user: ImUser, conversation_type: int, target: str) -> None:
    """Tell the peer that the user is typing. One-to-one only; nothing is stored."""
    if conversation_type != ConversationKind.P2P:
        raise InvalidField("typing is sent in one-to-one conversations only", field="conversation_type")
    peer = ImUser.objects.filter(app=app, accid=target).first()
    if peer is None:
        raise errors.no_such_user(target)
    publish.typing(app_id=app.pk, from_user=user, to_user=peer)
