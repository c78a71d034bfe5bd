"""End to end with a real Celery worker on the Redis broker: an outage of the customer's endpoint,
then recovery, delivers exactly the events it missed, each once by event id; and a delivery whose
task was lost is found by the sweeper."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from apps.tenants.models import App
from apps.webhooks import services
from apps.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEvent
from apps.webhooks.services import webhook_emit
from apps.webhooks.tasks import webhook_sweep
from imcloud.celery import app as celery_app
from tests.apps.webhooks.conftest import SECRET
from tests.factories import AppFactory
from tests.markers import requires_services
from tests.webhook_receiver import WebhookReceiver

pytestmark = [requires_services, pytest.mark.django_db(transaction=True)]

MISSED = 5


@pytest.fixture
def worker(webhook_settings: dict[str, Any]) -> Iterator[object]:
    """A worker thread consuming this run's own queue, with tiny retry delays."""
    webhook_settings.update(WEBHOOK_BACKOFF=[0.2], WEBHOOK_TIMEOUT=0.5, WEBHOOK_SWEEP_GRACE=0)
    queue = webhook_settings["WEBHOOK_QUEUE"]
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=30
        ) as running:
            yield running
    finally:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


@pytest.fixture
def hooked(receiver: WebhookReceiver) -> App:
    app: App = AppFactory(plain_secret=SECRET, webhook_url=receiver.url)
    return app


def _emit(app: App, n: int) -> str:
    with transaction.atomic():  # as a producer does: the event commits with its change
        event = webhook_emit(app=app, type=EventType.MESSAGE_P2P, payload={"n": n})
    assert event is not None
    return str(event.pk)


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


def _attempted_twice(event_ids: list[str]) -> Callable[[], bool]:
    return lambda: (
        WebhookDelivery.objects.filter(event_id__in=event_ids, attempts__gte=2).count() == len(event_ids)
    )


def _all_delivered() -> bool:
    return not WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()


OUTAGES: dict[str, Callable[[WebhookReceiver], None]] = {
    "connection refused": lambda r: r.go_down(),
    "500": lambda r: r.fail(500),
    "503 with Retry-After": lambda r: r.fail(503, retry_after="1"),
    "timeout": lambda r: r.hang(1.0),
}


@pytest.mark.parametrize("outage", OUTAGES)
def test_an_outage_then_recovery_delivers_each_missed_event_once(
    worker: object, receiver: WebhookReceiver, hooked: App, outage: str
) -> None:
    before = _emit(hooked, 0)
    assert receiver.wait_for(1)

    OUTAGES[outage](receiver)
    missed = [_emit(hooked, n) for n in range(1, MISSED + 1)]
    assert _eventually(_attempted_twice(missed))
    receiver.recover()
    after = _emit(hooked, MISSED + 1)

    assert receiver.wait_for(MISSED + 2)
    assert _eventually(_all_delivered)
    assert set(receiver.events) == {before, *missed, after}
    assert receiver.copies == Counter({event_id: 1 for event_id in [before, *missed, after]})
    assert [receiver.events[event_id]["data"]["n"] for event_id in missed] == list(range(1, MISSED + 1))


def test_a_delivery_whose_task_was_lost_is_sent_after_a_sweep(
    worker: object, receiver: WebhookReceiver, hooked: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "enqueue_delivery", lambda delivery_id, countdown=0.0: None)
    lost = _emit(hooked, 1)
    time.sleep(0.5)
    assert receiver.events == {}

    assert webhook_sweep() == 1

    assert receiver.wait_for(1)
    assert _eventually(_all_delivered)
    assert list(receiver.events) == [lost]
    assert WebhookEvent.objects.count() == 1
