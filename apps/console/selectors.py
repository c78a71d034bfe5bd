"""Reads for the console dashboard. Every figure is scoped to one app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from apps.imusers.models import ImUser
from apps.tenants.models import App

NEWEST_USERS_DEFAULT = 10


@dataclass(frozen=True)
class UserFigures:
    total: int
    blocked: int
    created_last_24h: int
    created_last_7d: int


def dashboard_user_figures(*, app: App, now: datetime | None = None) -> UserFigures:
    """Counts of the app's end users, in one query."""
    now = now or timezone.now()
    counts = ImUser.objects.filter(app=app).aggregate(
        total=Count("id"),
        blocked=Count("id", filter=Q(is_blocked=True)),
        created_last_24h=Count("id", filter=Q(created_at__gte=now - timedelta(hours=24))),
        created_last_7d=Count("id", filter=Q(created_at__gte=now - timedelta(days=7))),
    )
    return UserFigures(
        total=counts["total"],
        blocked=counts["blocked"],
        created_last_24h=counts["created_last_24h"],
        created_last_7d=counts["created_last_7d"],
    )


def dashboard_newest_users(*, app: App, limit: int = NEWEST_USERS_DEFAULT) -> list[ImUser]:
    """The app's most recently created end users, newest first."""
    return list(
        ImUser.objects.filter(app=app)
        .only("accid", "name", "is_blocked", "created_at")
        .order_by("-created_at", "-id")[:limit]
    )
