"""Reads on apps. A developer reaches only their own apps; the API reaches one app by its key."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Developer
from apps.core.errors import NotFound
from apps.tenants.models import App


def app_list_for_owner(*, owner: Developer) -> QuerySet[App]:
    return App.objects.filter(owner=owner).order_by("created_at", "id")


def app_get_for_owner(*, owner: Developer, app_key: str) -> App:
    app = App.objects.filter(owner=owner, app_key=app_key).first()
    if app is None:
        raise NotFound("No such app.")
    return app


def app_get_by_key(*, app_key: str) -> App | None:
    return App.objects.filter(app_key=app_key).first()
