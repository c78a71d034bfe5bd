"""Reads on conversations: message pages (sync and history), the conversation list, read status."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import F, Q
from django.db.models.functions import Greatest

from apps.core.errors import InvalidField
from apps.imusers.models import ImUser
from apps.messaging import errors, limits
from apps.messaging.clock import now_ms
from apps.messaging.conversations import Place, place_for, target_for
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, Message
from apps.tenants.models import App


@dataclass(frozen=True)
class MessagePage:
    place: Place | None
    messages: list[Message]
    has_more: bool


def _clamp(limit: int) -> int:
    return limits.PAGE_MAX if limit <= 0 else min(limit, limits.PAGE_MAX)


def _retention_floor_ms(app: App) -> int:
    return now_ms() - app.message_retention_days * 86_400_000


def messages_page(
    *,
    app: App,
    user: ImUser,
    conversation_type: int,
    target: str,
    after_seq: int = 0,
    before_seq: int = 0,
    limit: int = limits.PAGE_MAX,
) -> MessagePage:
    """Messages after ``after_seq`` in order, or with ``before_seq`` the page just before it.

    A team member sees the stream from the seq at which they joined; nobody sees messages older
    than the app's retention.
    """
    place = place_for(app=app, user=user, kind=conversation_type, target=target, create=False)
    if place is None:
        return MessagePage(place=None, messages=[], has_more=False)
    limit = _clamp(limit)
    rows = Message.objects.select_related("sender").filter(
        conversation=place.conversation,
        seq__gt=max(after_seq, place.member.joined_seq),
        created_ms__gte=_retention_floor_ms(app),
    )
    if before_seq:
        page = list(rows.filter(seq__lt=before_seq).order_by("-seq")[: limit + 1])
        has_more = len(page) > limit
        return MessagePage(place=place, messages=page[:limit][::-1], has_more=has_more)
    page = list(rows.order_by("seq")[: limit + 1])
    return MessagePage(place=place, messages=page[:limit], has_more=len(page) > limit)


@dataclass(frozen=True)
class ConversationSummary:
    conversation: Conversation
    target: str
    read_seq: int
    peer_read_seq: int
    unread: int
    last_message: Message | None
    changed_ms: int


@dataclass(frozen=True)
class ConversationPage:
    summaries: list[ConversationSummary]
    cursor: str
    has_more: bool


def _cursor_encode(*, ms: int, member_id: int, paging: bool) -> str:
    raw = json.dumps({"t": ms, "i": member_id, "p": paging}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[int, int, bool]:
    if not cursor:
        return 0, 0, True
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ms, member_id, paging = data["t"], data["i"], data["p"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidField("cursor is not one the server returned", field="cursor") from None
    if not (isinstance(ms, int) and isinstance(member_id, int) and isinstance(paging, bool)):
        raise InvalidField("cursor is not one the server returned", field="cursor")
    return ms, member_id, paging


def conversations_changed(
    *, app: App, user: ImUser, cursor: str, limit: int = limits.PAGE_MAX
) -> ConversationPage:
    """The user's conversations changed since ``cursor`` (all of them for an empty cursor).

    A cursor from the end of a listing looks back SYNC_CURSOR_MARGIN_MS, so a change committed
    just after that listing is not missed; the overlap repeats a few conversations, which clients
    recognise by their seqs. Within a listing, pages follow each other exactly.
    """
    started = now_ms()
    ms, after_id, paging = _cursor_decode(cursor)
    since = ms if paging else ms - limits.SYNC_CURSOR_MARGIN_MS
    limit = _clamp(limit)
    members = (
        ConversationMember.objects.filter(app=app, user=user, conversation__closed=False)
        .select_related("conversation", "conversation__user_low", "conversation__user_high")
        .annotate(changed=Greatest("conversation__updated_ms", "updated_ms"))
        .filter(Q(changed__gt=since) | Q(changed=since, id__gt=after_id))
        .order_by("changed", "id")
    )
    rows = list(members[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    summaries = _summaries(app=app, user=user, members=rows)
    if has_more:
        last = rows[-1]
        next_cursor = _cursor_encode(ms=int(last.changed), member_id=last.pk, paging=True)
    else:
        next_cursor = _cursor_encode(ms=started, member_id=0, paging=False)
    return ConversationPage(summaries=summaries, cursor=next_cursor, has_more=has_more)


def _summaries(*, app: App, user: ImUser, members: Sequence[ConversationMember]) -> list[ConversationSummary]:
    conversation_ids = [m.conversation_id for m in members]
    last_messages = {
        m.conversation_id: m
        for m in Message.objects.select_related("sender").filter(
            conversation_id__in=conversation_ids, seq=F("conversation__last_seq")
        )
    }
    p2p_ids = [m.conversation_id for m in members if m.conversation.kind == ConversationKind.P2P]
    peer_reads = dict(
        ConversationMember.objects.filter(conversation_id__in=p2p_ids)
        .exclude(user=user)
        .values_list("conversation_id", "read_seq")
    )
    summaries = []
    for member in members:
        conversation = member.conversation
        accids = {u.pk: u.accid for u in (conversation.user_low, conversation.user_high) if u is not None}
        seen = max(member.read_seq, member.joined_seq)
        last = last_messages.get(conversation.pk)
        if last is not None and last.seq <= member.joined_seq:
            last = None
        summaries.append(
            ConversationSummary(
                conversation=conversation,
                target=target_for(conversation=conversation, viewer_id=user.pk, accids=accids),
                read_seq=member.read_seq,
                peer_read_seq=peer_reads.get(conversation.pk, 0),
                unread=max(0, conversation.last_seq - seen),
                last_message=last,
                changed_ms=int(getattr(member, "changed")),  # noqa: B009 - annotated by the caller
            )
        )
    return summaries


@dataclass(frozen=True)
class ReadStatus:
    read: list[str]
    unread: list[str]


def team_read_status(*, app: App, user: ImUser, team_id: str, seq: int) -> ReadStatus:
    """Which members have read the team message at ``seq``, and which have not (sender excluded)."""
    place = place_for(app=app, user=user, kind=ConversationKind.TEAM, target=team_id, create=False)
    assert place is not None
    message = Message.objects.filter(conversation=place.conversation, seq=seq).first()
    if message is None:
        raise errors.no_such_message()
    members = (
        ConversationMember.objects.filter(conversation=place.conversation, joined_seq__lt=seq)
        .exclude(user_id=message.sender_id)
        .values_list("user__accid", "read_seq")
        .order_by("user__accid")
    )
    read = [accid for accid, read_seq in members if read_seq >= seq]
    unread = [accid for accid, read_seq in members if read_seq < seq]
    return ReadStatus(read=read, unread=unread)
