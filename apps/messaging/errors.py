"""Messaging refusals with their stable codes (docs/protocol.md lists them)."""

from __future__ import annotations

from apps.core.errors import DomainError, NotFound


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403


def no_such_user(accid: str) -> NotFound:
    return NotFound(f"No user {accid!r} in this app.", field="target", code="no_such_user")


def no_such_team(target: str) -> NotFound:
    return NotFound(f"No team {target!r} in this app.", field="target", code="no_such_team")


def not_team_member() -> Forbidden:
    return Forbidden("You are not a member of this team.", code="not_team_member")


def no_such_message() -> NotFound:
    return NotFound("No such message in this conversation.", field="server_msg_id", code="no_such_message")
