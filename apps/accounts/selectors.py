"""Reads on developer accounts."""

from __future__ import annotations

from apps.accounts.models import Developer
from apps.accounts.services import developer_normalize_email


def developer_get_by_email(*, email: str) -> Developer | None:
    return Developer.objects.filter(email=developer_normalize_email(email=email)).first()
