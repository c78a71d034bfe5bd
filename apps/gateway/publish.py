"""Publishing after commit: who should see what, and which gateway processes hold them.

Called by the messaging and account services from ``transaction.on_commit`` (always in a worker
thread, never on the event loop). One presence lookup for all recipients, then one message per
destination process, whatever the number of recipients there.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.gateway.frames import ctype, message_proto, push_frame
from apps.gateway.presence import presence_store
from apps.gateway.process import local_process
from apps.protocol import imcloud_pb2 as pb

if TYPE_CHECKING:
    from apps.imusers.models import ImUser
    from apps.messaging.conversations import Place
    from apps.messaging.models import Message

logger = logging.getLogger(__name__)

Group = tuple[list[int], bytes]


def route(groups: list[Group], *, exclude_session: str = "") -> int:
    """Send each group's frame to every live session of its users; returns the processes reached."""
    everyone = {user_id for user_ids, _ in groups for user_id in user_ids}
    sessions = presence_store().lookup(everyone)
    batches: dict[str, list[list[Any]]] = defaultdict(list)
    for user_ids, frame in groups:
        per_process: dict[str, list[int]] = defaultdict(list)
        for user_id in user_ids:
            for process in {entry.process for entry in sessions.get(user_id, ())}:
                per_process[process].append(user_id)
        for process, local_users in per_process.items():
            batches[process].append([local_users, frame])
    messages = {
        process: {"type": "gw.deliver", "groups": process_groups, "exclude": exclude_session}
        for process, process_groups in batches.items()
    }
    _dispatch(messages)
    return len(messages)


def kick_sessions(*, user_id: int, reason: int, detail: str, only: set[str] | None = None) -> int:
    """Close a user's live sessions (all, or those in ``only``) with a kick frame first."""
    entries = presence_store().lookup([user_id]).get(user_id, [])
    per_process: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        if only is None or entry.session_id in only:
            per_process[entry.process].append(entry.session_id)
    _dispatch(
        {
            process: {"type": "gw.kick", "sessions": sessions, "reason": reason, "detail": detail}
            for process, sessions in per_process.items()
        }
    )
    return sum(len(s) for s in per_process.values())


def _dispatch(messages: dict[str, dict[str, Any]]) -> None:
    remote = {}
    for channel, message in messages.items():
        local = local_process(channel)
        if local is not None:
            local.post(message)
        else:
            remote[channel] = message
    if remote:
        try:
            async_to_sync(_send_all)(remote)
        except Exception:  # the layer is at-most-once anyway: clients recover by sync
            logger.exception("layer send failed", extra={"processes": len(remote)})


async def _send_all(messages: dict[str, dict[str, Any]]) -> None:
    layer = get_channel_layer()
    assert layer is not None
    for channel, message in messages.items():
        await layer.send(channel, message)


# --- What each domain event means on the wire -------------------------------------------------


def message_created(*, message: Message, place: Place, origin_session: str) -> None:
    """Push a stored message to every member's live sessions (but the sending one).

    ``place`` is a member's place in the conversation: it saves looking up the P2P peer.
    """
    from apps.messaging.models import ConversationKind, ConversationMember

    conversation = place.conversation
    sender_accid = message.sender.accid
    if conversation.kind == ConversationKind.TEAM:
        members = list(
            ConversationMember.objects.filter(conversation=conversation).values_list("user_id", flat=True)
        )
        out = message_proto(
            message, target=str(conversation.pk), from_accid=sender_accid, kind=conversation.kind
        )
        route([(members, push_frame(message=out))], exclude_session=origin_session)
        return
    # The other side from the sender's point of view; ``place`` may be the other side's own (an
    # app server recalling as the recipient), in which case the other side is its member.
    from apps.imusers.models import ImUser

    peer = (
        place.peer
        if place.member.user_id == message.sender_id
        else ImUser.objects.get(pk=place.member.user_id)
    )
    assert peer is not None
    to_peer = message_proto(message, target=sender_accid, from_accid=sender_accid, kind=conversation.kind)
    groups: list[Group] = [([peer.pk], push_frame(message=to_peer))]
    if peer.pk != message.sender_id:
        to_self = message_proto(message, target=peer.accid, from_accid=sender_accid, kind=conversation.kind)
        groups.append(([message.sender_id], push_frame(message=to_self)))
    route(groups, exclude_session=origin_session)


def read_receipt(*, place: Place, reader: ImUser, read_seq: int, origin_session: str) -> None:
    from apps.messaging.models import ConversationKind

    conversation = place.conversation
    kind = conversation.kind
    if kind == ConversationKind.TEAM:
        own = pb.ReceiptNotice(
            conversation_type=ctype(kind),
            target=str(conversation.pk),
            reader_accid=reader.accid,
            read_seq=read_seq,
        )
        route([([reader.pk], push_frame(receipt=own))], exclude_session=origin_session)
        return
    assert place.peer is not None
    own = pb.ReceiptNotice(
        conversation_type=ctype(kind), target=place.peer.accid, reader_accid=reader.accid, read_seq=read_seq
    )
    theirs = pb.ReceiptNotice(
        conversation_type=ctype(kind), target=reader.accid, reader_accid=reader.accid, read_seq=read_seq
    )
    groups: list[Group] = [([reader.pk], push_frame(receipt=own))]
    if place.peer.pk != reader.pk:
        groups.append(([place.peer.pk], push_frame(receipt=theirs)))
    route(groups, exclude_session=origin_session)


def typing(*, app_id: int, from_user: ImUser, to_user: ImUser) -> None:
    notice = pb.Typing(
        conversation_type=pb.CONVERSATION_TYPE_P2P, target=from_user.accid, from_accid=from_user.accid
    )
    route([([to_user.pk], push_frame(typing=notice))])
