"""Team refusals with their stable codes (docs/teams.md lists them)."""

from __future__ import annotations

from collections.abc import Sequence

from apps.core.errors import Conflict, DomainError, NotFound


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403


def _names(accids: Sequence[str]) -> str:
    return ", ".join(repr(accid) for accid in accids)


def no_such_team(team_id: str) -> NotFound:
    return NotFound(f"No team {team_id!r} in this app.", field="team_id", code="no_such_team")


def no_such_user(accids: Sequence[str], *, field: str) -> NotFound:
    noun = "user" if len(accids) == 1 else "users"
    return NotFound(f"No {noun} {_names(accids)} in this app.", field=field, code="no_such_user")


def not_team_member(accids: Sequence[str], *, field: str) -> Forbidden:
    verb = "is" if len(accids) == 1 else "are"
    return Forbidden(f"{_names(accids)} {verb} not in this team.", field=field, code="not_team_member")


def not_team_owner(action: str) -> Forbidden:
    return Forbidden(f"Only the team owner may {action}.", field="operator", code="not_team_owner")


def not_team_manager(action: str) -> Forbidden:
    return Forbidden(
        f"Only the team owner or a manager may {action}.", field="operator", code="not_team_manager"
    )


def owner_protected(action: str, *, field: str) -> Forbidden:
    return Forbidden(f"The team owner cannot be {action}.", field=field, code="owner_protected")


def team_full(*, max_members: int, field: str) -> Conflict:
    return Conflict(
        f"The team would have more than max_members ({max_members}) members.", field=field, code="team_full"
    )


def owner_cannot_leave() -> Conflict:
    return Conflict(
        "The owner cannot leave the team: transfer ownership first (or dismiss the team).",
        field="accid",
        code="owner_cannot_leave",
    )
