"""Publishing after commit: who should see what, and which gateway processes hold them.

Called by the messaging and account services from ``transaction.on_commit`` (always in a worker
thread, never on the event loop). One presence lookup for all recipients, then one message per
destination process, whatever the number of recipients there.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.gateway.frames import ctype, message_proto, push_frame
from apps.gateway.presence import presence_store
from apps.gateway.registry import local_process
from apps.protocol import imcloud_pb2 as pb

if TYPE_CHECKING:
    from apps.gateway.process import GatewayProcess
    from apps.imusers.models import ImUser
    from apps.messaging.conversations import Place
    from apps.messaging.models import Message
    from apps.messaging.sending import SendResult

logger = logging.getLogger(__name__)

# Users, one serialised frame for all of them (or what makes it, when it may not be needed), and a
# session not to send it to (the origin).
Frame = bytes | Callable[[], bytes]
Group = tuple[list[int], Frame, str]


def _batches(
    groups: list[Group], where: dict[str, set[int]], here: GatewayProcess | None = None
) -> dict[str, dict[str, Any]]:
    """One layer message per destination process, listing its users per frame. ``here``: the
    process the origin sessions are on, which can tell that a user's only session there is the
    origin (a sender with no other device): such a copy goes nowhere, and is not even built."""
    batches: dict[str, list[list[Any]]] = defaultdict(list)
    for user_ids, frame, exclude in groups:
        for process, present in where.items():
            local_users = [user_id for user_id in user_ids if user_id in present]
            if (
                len(local_users) == 1
                and exclude
                and here is not None
                and process == here.channel
                and not here.reaches(local_users[0], exclude)
            ):
                continue
            if local_users:
                if callable(frame):
                    frame = frame()
                batches[process].append([local_users, frame, exclude])
    return {process: {"type": "gw.deliver", "groups": items} for process, items in batches.items()}


def _everyone(groups: list[Group]) -> set[int]:
    return {user_id for user_ids, _, _ in groups for user_id in user_ids}


def route(groups: list[Group]) -> int:
    """From a worker thread: send each group's frame to its users' live sessions."""
    if not groups:
        return 0
    messages = _batches(groups, presence_store().processes(_everyone(groups)))
    _dispatch(messages)
    return len(messages)


async def route_async(groups: list[Group]) -> int:
    """From the event loop: the same as ``route`` without leaving it."""
    if not groups:
        return 0
    from apps.gateway.process import process_on  # the process module imports this one

    where = await presence_store().aprocesses(_everyone(groups))
    messages = _batches(groups, where, process_on(asyncio.get_running_loop()))
    layer = get_channel_layer()
    assert layer is not None
    for channel, message in messages.items():
        local = local_process(channel)
        if local is not None:
            local.inbox.put_nowait(message)
            continue
        try:
            await layer.send(channel, message)
        except Exception:  # at-most-once by design: clients recover by sync
            logger.exception("layer send failed", extra={"process": channel})
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


def team_ids_of(results: Sequence[SendResult]) -> set[int]:
    from apps.messaging.models import ConversationKind

    return {r.place.conversation.pk for r in results if r.place.conversation.kind == ConversationKind.TEAM}


def plan_needs_database(results: Sequence[SendResult]) -> bool:
    """Whether planning must look a user up: a one-to-one message seen from the recipient's side
    (an app server recalling as the recipient); a gateway's own sends never are."""
    from apps.messaging.models import ConversationKind

    return any(
        r.place.conversation.kind != ConversationKind.TEAM and r.place.member.user_id != r.message.sender_id
        for r in results
    )


def plan_messages(results: Sequence[SendResult], rosters: dict[int, list[int]] | None = None) -> list[Group]:
    """Who gets which frame for a batch of stored messages. Team rosters come from ``rosters``
    (a gateway's cache) or from one query for all of them."""
    from apps.gateway.rosters import rosters_load
    from apps.imusers.models import ImUser
    from apps.messaging.models import ConversationKind

    if rosters is None:
        rosters = rosters_load(team_ids_of(results))
    groups: list[Group] = []
    for result in results:
        message, place = result.message, result.place
        conversation, sender_accid = place.conversation, message.sender.accid
        if conversation.kind == ConversationKind.TEAM:
            out = message_proto(
                message, target=str(conversation.pk), from_accid=sender_accid, kind=conversation.kind
            )
            groups.append((rosters[conversation.pk], push_frame(message=out), result.origin_session))
            continue
        # The other side from the sender's point of view; ``place`` may be the other side's own (an
        # app server recalling as the recipient), in which case the other side is its member.
        peer = (
            place.peer
            if place.member.user_id == message.sender_id
            else ImUser.objects.get(pk=place.member.user_id)
        )
        assert peer is not None
        to_peer = message_proto(message, target=sender_accid, from_accid=sender_accid, kind=conversation.kind)
        groups.append(([peer.pk], push_frame(message=to_peer), result.origin_session))
        if peer.pk != message.sender_id:
            # The sender's other devices: built only if they have one (``_batches``).
            to_self = partial(_message_frame, message, peer.accid, sender_accid, conversation.kind)
            groups.append(([message.sender_id], to_self, result.origin_session))
    return groups


def _message_frame(message: Message, target: str, from_accid: str, kind: int) -> bytes:
    return push_frame(message=message_proto(message, target=target, from_accid=from_accid, kind=kind))


def messages_created(results: Sequence[SendResult]) -> None:
    """After commit, from a worker thread: push the messages to every member's live sessions,
    and hand them to the offline-push workers."""
    route(plan_messages(results))
    enqueue_offline_push(results)


def enqueue_offline_push(results: Sequence[SendResult]) -> None:
    from apps.push.delivery import push_enqueue

    try:
        push_enqueue(results=results)
    except Exception:  # the message is stored and delivered live; offline push is best effort here
        logger.exception("enqueueing offline push failed", extra={"messages": len(results)})


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
        route([([reader.pk], push_frame(receipt=own), origin_session)])
        return
    assert place.peer is not None
    own = pb.ReceiptNotice(
        conversation_type=ctype(kind), target=place.peer.accid, reader_accid=reader.accid, read_seq=read_seq
    )
    theirs = pb.ReceiptNotice(
        conversation_type=ctype(kind), target=reader.accid, reader_accid=reader.accid, read_seq=read_seq
    )
    groups: list[Group] = [([reader.pk], push_frame(receipt=own), origin_session)]
    if place.peer.pk != reader.pk:
        groups.append(([place.peer.pk], push_frame(receipt=theirs), origin_session))
    route(groups)


def typing(*, app_id: int, from_user: ImUser, to_user: ImUser) -> None:
    notice = pb.Typing(
        conversation_type=pb.CONVERSATION_TYPE_P2P, target=from_user.accid, from_accid=from_user.accid
    )
    route([([to_user.pk], push_frame(typing=notice), "")])


# What a team change (apps.webhooks.payloads.TeamChange) is on the wire.
TEAM_CHANGE_KINDS: dict[str, pb.TeamChangeKind] = {
    "created": pb.TEAM_CHANGE_KIND_CREATED,
    "updated": pb.TEAM_CHANGE_KIND_UPDATED,
    "dismissed": pb.TEAM_CHANGE_KIND_DISMISSED,
    "members_added": pb.TEAM_CHANGE_KIND_MEMBERS_ADDED,
    "members_removed": pb.TEAM_CHANGE_KIND_MEMBERS_REMOVED,
    "member_left": pb.TEAM_CHANGE_KIND_MEMBER_LEFT,
    "owner_transferred": pb.TEAM_CHANGE_KIND_OWNER_CHANGED,
    "managers_added": pb.TEAM_CHANGE_KIND_MANAGERS_CHANGED,
    "managers_removed": pb.TEAM_CHANGE_KIND_MANAGERS_CHANGED,
    "member_muted": pb.TEAM_CHANGE_KIND_MUTE_CHANGED,
    "member_unmuted": pb.TEAM_CHANGE_KIND_MUTE_CHANGED,
    "mute_all_on": pb.TEAM_CHANGE_KIND_MUTE_CHANGED,
    "mute_all_off": pb.TEAM_CHANGE_KIND_MUTE_CHANGED,
}


def team_changed(*, app_id: int, team_id: int, change: str, operator: str, accids: Sequence[str]) -> None:
    """After commit, from a worker thread: a ``team_notice`` to every device of the team's members,
    and of the users the change named (those just removed or gone are no longer members)."""
    from apps.imusers.models import ImUser
    from apps.messaging.models import ConversationMember

    # First: gateways' cached rosters must not outlive a membership change by more than this hook.
    presence_store().roster_changed(team_id)
    members = ConversationMember.objects.filter(conversation_id=team_id).values_list("user_id", flat=True)
    named = ImUser.objects.filter(app_id=app_id, accid__in=[*accids, operator]).values_list("pk", flat=True)
    notice = pb.TeamNotice(
        team_id=str(team_id), kind=TEAM_CHANGE_KINDS[change], operator=operator, accids=list(accids)
    )
    route([(sorted({*members, *named}), push_frame(team_notice=notice), "")])
