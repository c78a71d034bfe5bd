"""Reads on push state, always within one app or one user."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from apps.imusers.models import ImUser
from apps.push.models import AttemptStatus, Device, PushAttempt, PushCredential, PushPreferences
from apps.tenants.models import App


def devices_of(*, user: ImUser) -> QuerySet[Device]:
    return Device.objects.filter(user=user).order_by("device_id")


def preferences_of(*, user: ImUser) -> PushPreferences:
    """The user's preferences, or the defaults (not stored until changed)."""
    return PushPreferences.objects.filter(user=user).first() or PushPreferences(user=user)


def credentials_of(*, app: App) -> QuerySet[PushCredential]:
    return PushCredential.objects.filter(app=app).order_by("provider")


def attempts_page(*, app: App, limit: int = 50) -> list[PushAttempt]:
    return list(
        PushAttempt.objects.filter(app=app)
        .select_related("device", "device__user")
        .order_by("-created_at", "-id")[:limit]
    )


def attempt_counts(*, app: App) -> dict[str, dict[str, int]]:
    """Per provider: delivered, failed (incl. dead tokens) and pending counts, for the console."""
    rows = (
        PushAttempt.objects.filter(app=app)
        .values("provider")
        .annotate(
            delivered=Count("id", filter=Q(status=AttemptStatus.DELIVERED)),
            failed=Count("id", filter=Q(status__in=[AttemptStatus.FAILED, AttemptStatus.DEAD_TOKEN])),
            pending=Count(
                "id", filter=Q(status__in=[AttemptStatus.PENDING, AttemptStatus.SENDING, AttemptStatus.RETRY])
            ),
        )
    )
    return {row["provider"]: {k: row[k] for k in ("delivered", "failed", "pending")} for row in rows}
