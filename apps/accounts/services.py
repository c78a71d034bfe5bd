"""Writes on developer accounts."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from apps.accounts.models import Developer
from apps.core.errors import Conflict


def developer_normalize_email(*, email: str) -> str:
    return email.strip().lower()


@transaction.atomic
def developer_create(*, email: str, password: str | None) -> Developer:
    """Create a developer. ``password=None`` leaves an unusable password (set it by reset)."""
    email = developer_normalize_email(email=email)
    if Developer.objects.filter(email=email).exists():
        raise Conflict("A developer with this email already exists.", field="email", code="email_taken")
    developer = Developer(email=email)
    if password is None:
        developer.set_unusable_password()
    else:
        validate_password(password, user=developer)
        developer.set_password(password)
    developer.save()
    return developer
