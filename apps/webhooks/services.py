"""Writes on webhooks: emitting events, resending from the console, changing the configuration.

Producers call ``webhook_emit`` (or ``webhook_messages_created`` for a batch of stored messages)
**inside** the transaction that makes the change, so that the event commits with it and is never
lost; the delivery task is enqueued when that transaction commits. Called outside a transaction
they work too (the event then commits on its own).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from apps.core.errors import InvalidField
from apps.tenants.models import App
from apps.webhooks import conf
from apps.webhooks.models import (
    CALLBACK_TIMEOUT_MAX_MS,
    CALLBACK_TIMEOUT_MIN_MS,
    URL_MAX_LENGTH,
    DeliveryStatus,
    EventType,
    WebhookConfig,
    WebhookDelivery,
    WebhookEvent,
)
from apps.webhooks.payloads import webhook_event_type_for_message, webhook_payload_for_message
from apps.webhooks.selectors import webhook_configs_for, webhook_event_get
from apps.webhooks.tasks import enqueue_delivery

if TYPE_CHECKING:
    from apps.messaging.sending import SendResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Emit:
    app: App
    type: str
    payload: dict[str, Any]


def _enqueue_all(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        enqueue_delivery(delivery_id)


def _new_delivery(*, app: App, event: WebhookEvent) -> WebhookDelivery:
    now = timezone.now()
    return WebhookDelivery(
        app=app,
        event=event,
        url=app.webhook_url,
        next_attempt_at=now,
        expires_at=now + timedelta(seconds=conf.number("WEBHOOK_MAX_AGE")),
        created_at=now,
    )


def webhook_emit_many(*, emits: Sequence[Emit]) -> list[WebhookEvent]:
    """Store the events the apps asked for, each with a delivery, and enqueue them on commit.

    Events of apps without a webhook URL, with webhooks off or not wanting the type are dropped
    (without a query when no app has a URL). Returns the stored events, in order.
    """
    for emit in emits:
        if emit.type not in EventType.values:
            raise InvalidField(f"Unknown webhook event type {emit.type!r}.", field="type")
    candidates = [emit for emit in emits if emit.app.webhook_url]
    if not candidates:
        return []
    configs = webhook_configs_for(apps=[emit.app for emit in candidates])
    wanted = [emit for emit in candidates if configs[emit.app.pk].wants(emit.type)]
    if not wanted:
        return []
    now = timezone.now()
    events = [WebhookEvent(app=e.app, type=e.type, payload=e.payload, created_at=now) for e in wanted]
    # No savepoint inside a producer's transaction: the event fails or commits with its change.
    with transaction.atomic(savepoint=False):
        WebhookEvent.objects.bulk_create(events)
        deliveries = WebhookDelivery.objects.bulk_create(
            [_new_delivery(app=event.app, event=event) for event in events]
        )
        transaction.on_commit(partial(_enqueue_all, [d.pk for d in deliveries]), robust=True)
    return events


def webhook_emit(*, app: App, type: str, payload: dict[str, Any]) -> WebhookEvent | None:
    """Store one event and its delivery (enqueued on commit); None when the app does not want it."""
    events = webhook_emit_many(emits=[Emit(app=app, type=type, payload=payload)])
    return events[0] if events else None


def webhook_wants_messages(*, apps: Iterable[App]) -> bool:
    """Whether any of these apps is sent copies of its messages (it has a webhook URL)."""
    return any(app.webhook_url for app in apps)


def webhook_messages_created(results: Sequence[SendResult]) -> list[WebhookEvent]:
    """Copies of newly stored messages and recall notices (``message.p2p``, ``message.team``,
    ``message.recall``). Duplicates (retried sends) are skipped. Costs nothing for apps without a
    webhook URL."""
    fresh = [r for r in results if not r.duplicate and webhook_wants_messages(apps=[r.message.app])]
    if not fresh:
        return []
    return webhook_emit_many(
        emits=[
            Emit(
                app=r.message.app,
                type=webhook_event_type_for_message(r.message, r.place),
                payload=webhook_payload_for_message(r.message, r.place),
            )
            for r in fresh
        ]
    )


def webhook_resend(*, app: App, event_id: str | uuid.UUID) -> WebhookDelivery:
    """Send an event of the app again (the console's Resend button).

    A pending delivery of the event is made due now; otherwise a new delivery to the app's current
    URL starts (with a fresh retry window), and the old ones stay in the log as they were.
    """
    event = webhook_event_get(app=app, event_id=event_id)
    if not app.webhook_url:
        raise InvalidField("Set a webhook URL in the app's settings first.", field="webhook_url")
    with transaction.atomic():
        pending = (
            WebhookDelivery.objects.select_for_update()
            .filter(event=event, status=DeliveryStatus.PENDING)
            .order_by("-created_at")
            .first()
        )
        if pending is not None:
            pending.next_attempt_at = timezone.now()
            pending.save(update_fields=["next_attempt_at"])
            delivery = pending
        else:
            delivery = _new_delivery(app=app, event=event)
            delivery.save()
        transaction.on_commit(partial(enqueue_delivery, delivery.pk), robust=True)
    logger.info(
        "webhook resend",
        extra={"app_key": app.app_key, "event_id": str(event.pk), "delivery_id": delivery.pk},
    )
    return delivery


def webhook_config_update(
    *,
    app: App,
    events: Sequence[str],
    enabled: bool,
    callback_url: str,
    callback_fail_open: bool,
    callback_timeout_ms: int,
) -> WebhookConfig:
    """Choose the event types copied to the webhook URL, and set the before-delivery callback."""
    unknown = sorted(set(events) - set(EventType.values))
    if unknown:
        raise InvalidField(f"Unknown event types: {', '.join(unknown)}.", field="events")
    if callback_url and not callback_url.startswith(("https://", "http://")):
        raise InvalidField("A callback URL starts with https:// or http://.", field="callback_url")
    if len(callback_url) > URL_MAX_LENGTH:
        raise InvalidField(f"A callback URL has at most {URL_MAX_LENGTH} characters.", field="callback_url")
    if not CALLBACK_TIMEOUT_MIN_MS <= callback_timeout_ms <= CALLBACK_TIMEOUT_MAX_MS:
        raise InvalidField(
            f"The callback timeout is {CALLBACK_TIMEOUT_MIN_MS} to {CALLBACK_TIMEOUT_MAX_MS} ms.",
            field="callback_timeout_ms",
        )
    config, _ = WebhookConfig.objects.update_or_create(
        app=app,
        defaults={
            # In the fixed order of EventType, whatever order they came in.
            "events": [value for value in EventType.values if value in set(events)],
            "enabled": enabled,
            "callback_url": callback_url,
            "callback_fail_open": callback_fail_open,
            "callback_timeout_ms": callback_timeout_ms,
        },
    )
    logger.info("webhook config updated", extra={"app_key": app.app_key, "events": config.events})
    return config
