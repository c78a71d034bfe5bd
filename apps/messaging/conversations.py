"""Finding the conversation a (type, target) pair names, from one user's point of view.

Shared by the write services and the read selectors so that every transport resolves targets,
and refuses strangers, in exactly one way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from apps.core.errors import InvalidField
from apps.imusers.models import ImUser
from apps.messaging import errors
from apps.messaging.models import Conversation, ConversationKind, ConversationMember
from apps.tenants.models import App


@dataclass(frozen=True)
class Place:
    """A user's view of a conversation: the conversation, their membership, and the peer (P2P)."""

    conversation: Conversation
    member: ConversationMember
    peer: ImUser | None

    @property
    def target(self) -> str:
        """How the member names this conversation: the peer's accid, or the team id."""
        return self.peer.accid if self.peer is not None else str(self.conversation.pk)


TEAM_ID = re.compile(r"[0-9]{1,18}")


def is_id(value: str) -> bool:
    """A database id as clients write it; ``str.isdigit`` would also pass "²", which int() refuses."""
    return TEAM_ID.fullmatch(value) is not None


def place_in(*, conversation: Conversation, user: ImUser) -> Place:
    """The user's place in a conversation already known to hold them."""
    member = ConversationMember.objects.get(conversation=conversation, user=user)
    if conversation.kind == ConversationKind.TEAM:
        return Place(conversation=conversation, member=member, peer=None)
    peer_id = conversation.user_high_id if conversation.user_low_id == user.pk else conversation.user_low_id
    assert peer_id is not None  # a one-to-one conversation has both users
    return Place(conversation=conversation, member=member, peer=ImUser.objects.get(pk=peer_id))


def _kind(kind: int) -> ConversationKind:
    if kind not in ConversationKind.values:
        raise InvalidField("conversation_type must be P2P or TEAM", field="conversation_type")
    return ConversationKind(kind)


def _peer(*, app: App, target: str) -> ImUser:
    peer = ImUser.objects.filter(app=app, accid=target).first()
    if peer is None:
        raise errors.no_such_user(target)
    return peer


def p2p_get_or_create(*, app: App, user: ImUser, peer: ImUser) -> Conversation:
    low, high = sorted((user, peer), key=lambda u: u.pk)
    existing = Conversation.objects.filter(
        app=app, kind=ConversationKind.P2P, user_low=low, user_high=high
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                app=app, kind=ConversationKind.P2P, user_low=low, user_high=high
            )
            ConversationMember.objects.bulk_create(
                [ConversationMember(app=app, conversation=conversation, user=u) for u in {low, high}]
            )
            return conversation
    except IntegrityError:  # created concurrently by the other side's first message
        return Conversation.objects.get(app=app, kind=ConversationKind.P2P, user_low=low, user_high=high)


def place_for(*, app: App, user: ImUser, kind: int, target: str, create: bool) -> Place | None:
    """The user's place in the conversation named by (kind, target).

    P2P conversations come into being with their first message (``create=True``); before that a
    read finds ``None``. A team the user is not in is refused, whether or not it exists, so that
    non-members learn nothing from the answer but that they are not in it.
    """
    if _kind(kind) is ConversationKind.P2P:
        peer = _peer(app=app, target=target)
        low, high = sorted((user, peer), key=lambda u: u.pk)
        # One query for the usual case: the conversation exists and we need the user's row in it.
        member = (
            ConversationMember.objects.select_related("conversation")
            .filter(
                user=user,
                conversation__app=app,
                conversation__kind=ConversationKind.P2P,
                conversation__user_low=low,
                conversation__user_high=high,
            )
            .first()
        )
        if member is None:
            if not create:
                return None
            conversation = p2p_get_or_create(app=app, user=user, peer=peer)
            member = ConversationMember.objects.get(conversation=conversation, user=user)
        return Place(conversation=member.conversation, member=member, peer=peer)
    if not is_id(target):
        raise errors.no_such_team(target)
    team_member = (
        ConversationMember.objects.select_related("conversation")
        .filter(app=app, user=user, conversation_id=int(target), conversation__kind=ConversationKind.TEAM)
        .first()
    )
    if team_member is None or team_member.conversation.closed:
        if not Conversation.objects.filter(
            app=app, pk=int(target), kind=ConversationKind.TEAM, closed=False
        ).exists():
            raise errors.no_such_team(target)
        raise errors.not_team_member()
    return Place(conversation=team_member.conversation, member=team_member, peer=None)


def target_for(*, conversation: Conversation, viewer_id: int, accids: dict[int, str]) -> str:
    """How ``viewer`` names the conversation: the other user's accid (P2P) or the team id."""
    if conversation.kind == ConversationKind.TEAM:
        return str(conversation.pk)
    other = conversation.user_high_id if conversation.user_low_id == viewer_id else conversation.user_low_id
    assert other is not None
    return accids[other]
