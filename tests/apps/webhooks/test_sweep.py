"""The sweeper: the database, not the broker, decides what still has to be sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.tenants.models import App
from apps.webhooks.models import DeliveryStatus, EventType, WebhookAttempt, WebhookDelivery, WebhookEvent
from apps.webhooks.services import webhook_emit
from apps.webhooks.tasks import deliver_webhook, webhook_sweep
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _lost(app: App, *, due: datetime, **fields: object) -> WebhookDelivery:
    """A pending delivery whose task never reached a worker."""
    event = webhook_emit(app=app, type=EventType.SESSION_LOGOUT, payload={"accid": "alice"})
    WebhookDelivery.objects.filter(event=event).update(next_attempt_at=due, **fields)
    return WebhookDelivery.objects.get(event=event)


def test_an_overdue_pending_delivery_is_enqueued_again(app: App, enqueued) -> None:
    with time_machine.travel(START, tick=False):
        lost = _lost(app, due=START - timedelta(minutes=5))

        assert webhook_sweep() == 1

    assert [e.delivery_id for e in enqueued] == [lost.pk]
    assert WebhookDelivery.objects.get(pk=lost.pk).swept_at == START


def test_the_sweeper_leaves_alone_what_is_not_lost(app: App, enqueued) -> None:
    with time_machine.travel(START, tick=False):
        _lost(app, due=START - timedelta(seconds=10))  # within the grace: its task is probably running
        _lost(app, due=START + timedelta(minutes=5))  # not due
        _lost(app, due=START - timedelta(hours=1), status=DeliveryStatus.DELIVERED)
        _lost(app, due=START - timedelta(hours=1), status=DeliveryStatus.FAILED)
        _lost(app, due=START - timedelta(hours=1), lease_until=START + timedelta(seconds=20))  # being sent

        assert webhook_sweep() == 0

    assert enqueued == []


def test_a_swept_delivery_is_swept_again_only_after_a_while(app: App, enqueued) -> None:
    with time_machine.travel(START, tick=False) as clock:
        lost = _lost(app, due=START - timedelta(minutes=5))
        first = webhook_sweep()
        clock.shift(60)
        second = webhook_sweep()
        clock.shift(300)
        third = webhook_sweep()

    assert (first, second, third) == (1, 0, 1)
    assert [e.delivery_id for e in enqueued] == [lost.pk, lost.pk]


def test_a_long_retry_wait_is_left_to_the_sweeper(app: App, receiver: WebhookReceiver, enqueued) -> None:
    receiver.fail(500)
    with time_machine.travel(START, tick=False) as clock:
        delivery = _lost(app, due=START, attempts=7)  # the next wait is an hour
        deliver_webhook(delivery.pk)
        due = WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at
        clock.move_to(due + timedelta(seconds=31))
        swept = webhook_sweep()

    assert (due - START).total_seconds() == 3600
    assert swept == 1
    assert [e.countdown for e in enqueued] == [0.0]


def test_the_sweeper_prunes_the_old_log_but_keeps_pending_deliveries(app: App, enqueued) -> None:
    with time_machine.travel(START - timedelta(days=8), tick=False):
        done = _lost(app, due=timezone.now(), status=DeliveryStatus.DELIVERED)
        WebhookAttempt.objects.create(
            delivery=done, started_at=timezone.now(), duration_ms=5, status_code=200
        )
        still_pending = _lost(app, due=timezone.now() + timedelta(days=30))
    with time_machine.travel(START, tick=False):
        recent = _lost(app, due=START, status=DeliveryStatus.FAILED)

        webhook_sweep()

    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {still_pending.event_id, recent.event_id}
    assert not WebhookAttempt.objects.exists()
