"""Reads on end users, always within one app."""

from __future__ import annotations

from dataclasses import dataclass

from apps.core.errors import NotFound
from apps.imusers import limits
from apps.imusers.models import ImUser
from apps.imusers.tokens import token_matches
from apps.tenants.models import App


def imuser_get(*, app: App, accid: str) -> ImUser:
    user = ImUser.objects.filter(app=app, accid=accid).first()
    if user is None:
        raise NotFound("No such user in this app.", field="accid")
    return user


@dataclass(frozen=True)
class ImUserPage:
    users: list[ImUser]
    next_after_id: int | None


def imuser_list(*, app: App, after_id: int | None, limit: int) -> ImUserPage:
    """Users in creation order, ``limit`` at a time, resuming after the row id of a cursor."""
    limit = max(1, min(limit, limits.LIST_PAGE_MAX))
    query = ImUser.objects.filter(app=app).order_by("id")
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    rows = list(query[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return ImUserPage(users=rows, next_after_id=rows[-1].id if has_more else None)


def imuser_count(*, app: App) -> int:
    return ImUser.objects.filter(app=app).count()


def imuser_authenticate(*, app: App, accid: str, token: str) -> ImUser | None:
    """The user if the token is theirs and they are not blocked (the gateway's login check)."""
    user = ImUser.objects.filter(app=app, accid=accid).first()
    if user is None or user.is_blocked:
        return None
    if not token_matches(token=token, salt=user.token_salt, expected_hash=user.token_hash):
        return None
    return user
