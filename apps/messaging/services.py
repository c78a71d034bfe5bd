"""Writes on conversations: send, recall, mark read, typing.

Each write stores first and publishes after commit: the realtime layer only wakes live devices,
the database holds the truth, and a device that missed a wake-up recovers by sync.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from apps.core.errors import DomainError, InvalidField
from apps.gateway import publish
from apps.imusers.models import ImUser
from apps.messaging import errors
from apps.messaging.callback import callback_config, message_checked_by_app_server
from apps.messaging.clock import now_ms
from apps.messaging.content import MessageContent
from apps.messaging.conversations import Place, is_id, place_for
from apps.messaging.models import (
    ConversationKind,
    ConversationMember,
    Message,
    MessageType,
)
from apps.messaging.sending import SendRequest, SendResult, message_send_many, message_send_one
from apps.tenants.models import App
from apps.webhooks.services import webhook_messages_created

logger = logging.getLogger(__name__)


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
    """Store one message and publish it after commit; a retried client_msg_id returns the original.

    Gateways batch sends through ``sending.message_send_many``; this is the same path for one.
    """
    content = message_checked_by_app_server(
        app=app,
        sender=sender,
        conversation_type=conversation_type,
        target=target,
        client_msg_id=client_msg_id,
        content=content,
        config=callback_config(app=app),
    )
    request = SendRequest(
        app=app,
        sender=sender,
        conversation_type=conversation_type,
        target=target,
        client_msg_id=client_msg_id,
        content=content,
        origin_session=origin_session,
    )
    outcome = message_send_one(request, publish.messages_created)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def _append_notice(*, app: App, place: Place, original: Message) -> Message:
    """Append a RECALL notice at the conversation's next seq (locks the row until commit)."""
    stamp = now_ms()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_conversation SET last_seq = last_seq + 1, updated_ms = %s "
            "WHERE id = %s RETURNING last_seq",
            [stamp, place.conversation.pk],
        )
        row = cursor.fetchone()
    assert row is not None
    place.conversation.last_seq, place.conversation.updated_ms = int(row[0]), stamp
    return Message.objects.create(
        app=app,
        conversation=place.conversation,
        seq=int(row[0]),
        sender=original.sender,
        client_msg_id=f"recall:{original.pk}",
        type=MessageType.RECALL,
        body={},
        created_ms=stamp,
        recalled_seq=original.seq,
    )


@dataclass(frozen=True)
class BatchResult:
    sent: list[tuple[str, SendResult]]
    failed: list[tuple[str, DomainError]]


def message_send_batch(
    *,
    app: App,
    sender: ImUser,
    recipients: Sequence[str],
    client_msg_id_prefix: str | None,
    content: MessageContent,
) -> BatchResult:
    """One one-to-one message to each recipient, stored in one transaction; a recipient that is
    refused (unknown, or by the app's callback) is reported and does not stop the others.

    With a prefix, each recipient's client_msg_id is ``<prefix>:<accid>``, so a retried batch is
    idempotent; without one, a fresh batch id is used.
    """
    batch_id = uuid.uuid4().hex[:24]
    config = callback_config(app=app)
    requests: list[SendRequest] = []
    failed: list[tuple[str, DomainError]] = []
    for to in recipients:
        client_msg_id = f"{client_msg_id_prefix}:{to}" if client_msg_id_prefix else f"batch-{batch_id}-{to}"
        try:
            checked = message_checked_by_app_server(
                app=app,
                sender=sender,
                conversation_type=ConversationKind.P2P,
                target=to,
                client_msg_id=client_msg_id,
                content=content,
                config=config,
            )
        except DomainError as exc:
            failed.append((to, exc))
            continue
        requests.append(
            SendRequest(
                app=app,
                sender=sender,
                conversation_type=ConversationKind.P2P,
                target=to,
                client_msg_id=client_msg_id,
                content=checked,
            )
        )
    sent: list[tuple[str, SendResult]] = []
    for request, outcome in zip(
        requests, message_send_many(requests=requests, after_commit=publish.messages_created), strict=True
    ):
        if isinstance(outcome, DomainError):
            failed.append((request.target, outcome))
        else:
            sent.append((request.target, outcome))
    return BatchResult(sent=sent, failed=failed)


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
        notice = _append_notice(app=app, place=place, original=original)
        webhook_messages_created([SendResult(message=notice, place=place, duplicate=False)])
        transaction.on_commit(
            lambda: publish.messages_created([SendResult(message=notice, place=place, duplicate=False)]),
            robust=True,
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
        lambda: publish.read_receipt(
            place=place, reader=user, read_seq=wanted, origin_session=origin_session
        ),
        robust=True,
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
