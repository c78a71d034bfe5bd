"""Emitting: only the events an app chose, stored with a delivery, enqueued when the change commits."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.core.errors import InvalidField
from apps.tenants.models import App
from apps.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEvent
from apps.webhooks.services import Emit, webhook_config_update, webhook_emit, webhook_emit_many
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db

PAYLOAD = {"accid": "alice"}


def _choose(app: App, events: list[str], *, enabled: bool = True) -> None:
    webhook_config_update(
        app=app,
        events=events,
        enabled=enabled,
        callback_url="",
        callback_fail_open=True,
        callback_timeout_ms=2000,
    )


@pytest.mark.parametrize("event_type", EventType.values)
def test_an_app_that_never_configured_webhooks_gets_every_type(app: App, event_type: str) -> None:
    assert webhook_emit(app=app, type=event_type, payload=PAYLOAD) is not None


@pytest.mark.parametrize("event_type", EventType.values)
def test_only_chosen_types_are_stored(app: App, event_type: str) -> None:
    _choose(app, [event_type])
    others = [t for t in EventType.values if t != event_type]

    kept = webhook_emit(app=app, type=event_type, payload=PAYLOAD)
    dropped = [webhook_emit(app=app, type=t, payload=PAYLOAD) for t in others]

    assert dropped == [None] * len(others)
    assert list(WebhookEvent.objects.values_list("pk", "type")) == [(kept.pk, event_type)]


def test_an_emitted_event_has_one_pending_delivery_due_now(app: App) -> None:
    event = webhook_emit(app=app, type=EventType.SESSION_LOGIN, payload=PAYLOAD)

    delivery = WebhookDelivery.objects.get(event=event)
    assert (event.app, event.payload) == (app, PAYLOAD)
    assert (delivery.app, delivery.url, delivery.status, delivery.attempts) == (
        app,
        app.webhook_url,
        DeliveryStatus.PENDING,
        0,
    )
    assert delivery.next_attempt_at <= delivery.expires_at


def test_no_webhook_url_costs_no_query(django_assert_num_queries) -> None:
    app = AppFactory(webhook_url="")

    with django_assert_num_queries(0):
        assert webhook_emit(app=app, type=EventType.MESSAGE_P2P, payload=PAYLOAD) is None


def test_webhooks_turned_off_store_nothing(app: App) -> None:
    _choose(app, EventType.values, enabled=False)

    assert webhook_emit(app=app, type=EventType.MESSAGE_P2P, payload=PAYLOAD) is None
    assert not WebhookEvent.objects.exists()


def test_an_unknown_type_is_refused(app: App) -> None:
    with pytest.raises(InvalidField):
        webhook_emit(app=app, type="message.broadcast", payload=PAYLOAD)


def test_the_delivery_is_enqueued_only_when_the_change_commits(
    app: App, enqueued, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = webhook_emit(app=app, type=EventType.SESSION_LOGIN, payload=PAYLOAD)

    delivery = WebhookDelivery.objects.get(event=event)
    assert len(callbacks) == 1
    assert [(e.delivery_id, e.countdown) for e in enqueued] == [(delivery.pk, 0.0)]
    assert enqueued[0].queue.startswith("webhooks-test-")


def test_a_rolled_back_change_leaves_no_event_and_enqueues_nothing(
    app: App, enqueued, django_capture_on_commit_callbacks
) -> None:
    def produce_then_fail() -> None:
        with transaction.atomic():
            webhook_emit(app=app, type=EventType.SESSION_LOGIN, payload=PAYLOAD)
            raise RuntimeError("the producer's transaction fails")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        produce_then_fail()

    assert not WebhookEvent.objects.exists()
    assert enqueued == []


def test_a_batch_keeps_each_apps_choice(
    app: App, receiver, enqueued, django_capture_on_commit_callbacks
) -> None:
    other = AppFactory(webhook_url=receiver.url)
    _choose(other, [EventType.MESSAGE_TEAM])
    silent = AppFactory(webhook_url="")

    with django_capture_on_commit_callbacks(execute=True):
        events = webhook_emit_many(
            emits=[
                Emit(app=app, type=EventType.MESSAGE_P2P, payload={"n": 1}),
                Emit(app=other, type=EventType.MESSAGE_P2P, payload={"n": 2}),
                Emit(app=other, type=EventType.MESSAGE_TEAM, payload={"n": 3}),
                Emit(app=silent, type=EventType.MESSAGE_TEAM, payload={"n": 4}),
            ]
        )

    assert [(e.app, e.payload["n"]) for e in events] == [(app, 1), (other, 3)]
    assert sorted(e.delivery_id for e in enqueued) == sorted(
        WebhookDelivery.objects.values_list("pk", flat=True)
    )
    assert len(enqueued) == 2
