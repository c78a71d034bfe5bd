"""Reads on teams, always within one app. A dismissed team reads as no team at all."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from apps.imusers.models import ImUser
from apps.messaging.conversations import is_id
from apps.messaging.models import ConversationKind, ConversationMember
from apps.teams import errors, limits
from apps.teams.models import Team
from apps.tenants.models import App


def team_id_parse(team_id: str) -> int:
    """The primary key a team id names; anything that cannot name a team is ``no_such_team``."""
    if not is_id(team_id):
        raise errors.no_such_team(team_id)
    return int(team_id)


def _live_teams(app: App) -> QuerySet[Team]:
    return Team.objects.select_related("conversation", "owner").filter(
        app=app, conversation__app=app, conversation__kind=ConversationKind.TEAM, conversation__closed=False
    )


def team_get(*, app: App, team_id: str) -> Team:
    team = _live_teams(app).filter(pk=team_id_parse(team_id)).first()
    if team is None:
        raise errors.no_such_team(team_id)
    return team


@dataclass(frozen=True)
class TeamMemberPage:
    members: list[ConversationMember]
    next_after_id: int | None


def team_members_page(
    *, app: App, team_id: str, after_id: int | None = None, limit: int = limits.MEMBERS_PAGE_MAX
) -> TeamMemberPage:
    """Members in the order they joined (by row id), ``limit`` at a time, resuming after a row id."""
    team = team_get(app=app, team_id=team_id)
    limit = max(1, min(limit, limits.MEMBERS_PAGE_MAX))
    query = (
        ConversationMember.objects.select_related("user")
        .filter(app=app, conversation_id=team.pk)
        .order_by("id")
    )
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    rows = list(query[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return TeamMemberPage(members=rows, next_after_id=rows[-1].pk if has_more else None)


def team_list_for_user(*, app: App, user: ImUser) -> list[Team]:
    """The live teams the user is in, oldest first."""
    return list(_live_teams(app).filter(conversation__members__user=user).order_by("pk"))


def team_get_for_member(*, app: App, team_id: str, user: ImUser) -> Team:
    """The live team, read by one of its members (a client sees only the teams it is in)."""
    team = team_get(app=app, team_id=team_id)
    if not ConversationMember.objects.filter(app=app, conversation_id=team.pk, user=user).exists():
        raise errors.not_team_member([user.accid], field="team_id")
    return team
