"""Team factories. Teams are built through ``team_create``, so a factory-made team is one the
product could have made (conversation, profile, member rows and member_count in step)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import factory
import pytest

from apps.core.errors import DomainError
from apps.imusers.models import ImUser
from apps.messaging.models import Conversation, ConversationMember, MemberRole
from apps.teams import limits
from apps.teams.models import Team
from apps.teams.services import team_add_managers, team_create
from tests.factories import AppFactory, ImUserFactory


class TeamFactory(factory.Factory):
    """``TeamFactory(extra=3)`` makes an owner and three members, all users of the team's app."""

    class Meta:
        model = Team

    class Params:
        extra = 0

    app = factory.SubFactory(AppFactory)
    owner = factory.LazyAttribute(lambda o: ImUserFactory(app=o.app))
    members = factory.LazyAttribute(lambda o: ImUserFactory.create_batch(o.extra, app=o.app))
    name = factory.Sequence(lambda n: f"Team {n}")
    max_members = limits.TEAM_MEMBERS_DEFAULT

    @classmethod
    def _create(cls, model_class: type[Team], *args: Any, **kwargs: Any) -> Team:
        owner: ImUser = kwargs.pop("owner")
        members: list[ImUser] = kwargs.pop("members")
        return team_create(owner=owner.accid, members=[u.accid for u in members], **kwargs)


def members_of(team: Team) -> dict[str, ConversationMember]:
    """The team's member rows by accid, read fresh from the database."""
    rows = ConversationMember.objects.select_related("user").filter(conversation_id=team.pk)
    return {row.user.accid: row for row in rows}


def roles_of(team: Team) -> dict[str, str]:
    return {accid: MemberRole(row.role).label for accid, row in members_of(team).items()}


def plain_members(team: Team) -> list[str]:
    """The accids of the team's plain members (neither owner nor manager), in the order they joined."""
    rows = ConversationMember.objects.filter(conversation_id=team.pk, role=MemberRole.MEMBER).order_by("id")
    return list(rows.values_list("user__accid", flat=True))


def fresh(team: Team) -> Team:
    return Team.objects.select_related("conversation", "owner").get(pk=team.pk)


def set_last_seq(team: Team, seq: int) -> None:
    """As if ``seq`` messages had been sent (the seq is all membership code reads)."""
    Conversation.objects.filter(pk=team.pk).update(last_seq=seq)


def make_managers(team: Team, *accids: str) -> None:
    team_add_managers(app=team.app, team_id=str(team.pk), operator=team.owner.accid, accids=list(accids))


# The HTTP status each team refusal carries (docs/teams.md).
STATUS = {
    "invalid_field": 400,
    "not_team_member": 403,
    "not_team_owner": 403,
    "not_team_manager": 403,
    "owner_protected": 403,
    "no_such_team": 404,
    "no_such_user": 404,
    "team_full": 409,
    "owner_cannot_leave": 409,
}


@contextmanager
def refused(code: str, *, field: str) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """Expect the block to raise the DomainError ``code`` about ``field``, with its documented status."""
    with pytest.raises(DomainError) as info:
        yield info
    assert (info.value.code, info.value.field, info.value.http_status) == (code, field, STATUS[code])
