"""Resending from the console, and changing the configuration."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import InvalidField, NotFound
from apps.tenants.models import App
from apps.webhooks.models import DeliveryStatus, EventType, WebhookConfig, WebhookDelivery
from apps.webhooks.selectors import webhook_config_for
from apps.webhooks.services import webhook_config_update, webhook_emit, webhook_resend
from apps.webhooks.tasks import deliver_webhook
from tests.factories import AppFactory
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


def _failed(app: App) -> WebhookDelivery:
    event = webhook_emit(app=app, type=EventType.TEAM_CHANGED, payload={"team_id": "1"})
    WebhookDelivery.objects.filter(event=event).update(status=DeliveryStatus.FAILED, attempts=9)
    return WebhookDelivery.objects.get(event=event)


def test_resending_a_failed_event_starts_a_new_delivery(
    app: App, receiver: WebhookReceiver, enqueued, django_capture_on_commit_callbacks
) -> None:
    failed = _failed(app)

    with django_capture_on_commit_callbacks(execute=True):
        fresh = webhook_resend(app=app, event_id=str(failed.event_id))

    assert fresh.pk != failed.pk
    assert (fresh.status, fresh.attempts, fresh.event_id) == (DeliveryStatus.PENDING, 0, failed.event_id)
    assert fresh.expires_at > timezone.now() + timedelta(hours=23)
    assert WebhookDelivery.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED
    assert [e.delivery_id for e in enqueued] == [fresh.pk]
    assert deliver_webhook(fresh.pk) == "delivered"
    assert [r.headers["x-imcloud-event-id"] for r in receiver.accepted] == [str(failed.event_id)]


def test_resending_a_delivered_event_sends_another_copy_with_the_same_id(
    app: App, receiver: WebhookReceiver
) -> None:
    event = webhook_emit(app=app, type=EventType.SESSION_LOGIN, payload={})
    first = WebhookDelivery.objects.get(event=event)
    deliver_webhook(first.pk)

    again = webhook_resend(app=app, event_id=event.pk)
    deliver_webhook(again.pk)

    assert receiver.copies == {str(event.pk): 2}


def test_resending_a_pending_event_makes_it_due_now_without_a_second_delivery(
    app: App, enqueued, django_capture_on_commit_callbacks
) -> None:
    event = webhook_emit(app=app, type=EventType.SESSION_LOGIN, payload={})
    WebhookDelivery.objects.filter(event=event).update(next_attempt_at=timezone.now() + timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhook_resend(app=app, event_id=event.pk)

    assert WebhookDelivery.objects.filter(event=event).count() == 1
    assert delivery.next_attempt_at <= timezone.now()
    assert [e.delivery_id for e in enqueued] == [delivery.pk]


@pytest.mark.parametrize("event_id", ["not-a-uuid", str(uuid.uuid4())])
def test_resending_an_unknown_event_is_not_found(app: App, event_id: str) -> None:
    with pytest.raises(NotFound):
        webhook_resend(app=app, event_id=event_id)


def test_another_apps_event_cannot_be_resent(app: App, receiver: WebhookReceiver) -> None:
    other = AppFactory(webhook_url=receiver.url)
    theirs = _failed(other)

    with pytest.raises(NotFound):
        webhook_resend(app=app, event_id=theirs.event_id)


def test_resending_needs_a_webhook_url(app: App) -> None:
    failed = _failed(app)
    app.webhook_url = ""

    with pytest.raises(InvalidField) as caught:
        webhook_resend(app=app, event_id=failed.event_id)

    assert caught.value.field == "webhook_url"


def test_config_update_saves_the_choice_in_the_fixed_order(app: App) -> None:
    webhook_config_update(
        app=app,
        events=["team.changed", "message.p2p", "message.p2p"],
        enabled=False,
        callback_url="https://hooks.example.com/before",
        callback_fail_open=False,
        callback_timeout_ms=1500,
    )

    config = webhook_config_for(app=app)
    assert (
        config.events,
        config.enabled,
        config.callback_url,
        config.callback_fail_open,
        config.callback_timeout_ms,
    ) == (
        ["message.p2p", "team.changed"],
        False,
        "https://hooks.example.com/before",
        False,
        1500,
    )
    assert WebhookConfig.objects.count() == 1


def test_the_defaults_copy_everything_and_have_no_callback(app: App) -> None:
    config = webhook_config_for(app=app)

    assert (config.pk, config.events, config.enabled, config.callback_url, config.callback_fail_open) == (
        None,
        EventType.values,
        True,
        "",
        True,
    )
    assert config.callback_timeout_ms == 2000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"events": ["message.broadcast"]}, "events"),
        ({"callback_url": "ftp://hooks.example.com"}, "callback_url"),
        ({"callback_url": "https://example.com/" + "x" * 500}, "callback_url"),
        ({"callback_timeout_ms": 99}, "callback_timeout_ms"),
        ({"callback_timeout_ms": 2001}, "callback_timeout_ms"),
    ],
)
def test_config_update_refuses_bad_values(app: App, changes: dict, field: str) -> None:
    values = {
        "events": [],
        "enabled": True,
        "callback_url": "",
        "callback_fail_open": True,
        "callback_timeout_ms": 2000,
        **changes,
    }

    with pytest.raises(InvalidField) as caught:
        webhook_config_update(app=app, **values)

    assert caught.value.field == field
    assert not WebhookConfig.objects.exists()
