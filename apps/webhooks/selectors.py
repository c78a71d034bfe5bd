"""Reads on webhooks: an app's configuration and its delivery log, always within the app."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from apps.core.errors import NotFound
from apps.tenants.models import App
from apps.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookConfig, WebhookDelivery, WebhookEvent


def webhook_config_for(*, app: App) -> WebhookConfig:
    """The app's configuration, or the defaults (unsaved) when it never changed them."""
    config = WebhookConfig.objects.filter(app=app).first()
    return config if config is not None else WebhookConfig(app=app)


def webhook_configs_for(*, apps: Iterable[App]) -> dict[int, WebhookConfig]:
    """The configuration of each app (one query), by app id."""
    wanted = {app.pk: app for app in apps}
    found = {config.app_id: config for config in WebhookConfig.objects.filter(app_id__in=wanted)}
    return {pk: found.get(pk) or WebhookConfig(app=app) for pk, app in wanted.items()}


def webhook_deliveries_for(*, app: App, status: str = "") -> QuerySet[WebhookDelivery]:
    """The app's delivery log, newest first, each with its event and its attempts."""
    deliveries = WebhookDelivery.objects.filter(app=app)
    if status:
        if status not in DeliveryStatus.values:
            return deliveries.none()
        deliveries = deliveries.filter(status=status)
    return (
        deliveries.select_related("event")
        .prefetch_related(
            Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("started_at", "id"))
        )
        .order_by("-created_at", "-id")
    )


def webhook_event_get(*, app: App, event_id: str | uuid.UUID) -> WebhookEvent:
    try:
        pk = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id))
    except ValueError:
        raise NotFound("No such webhook event.") from None
    event = WebhookEvent.objects.filter(app=app, pk=pk).first()
    if event is None:
        raise NotFound("No such webhook event.")
    return event
