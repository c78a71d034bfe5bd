"""Sending a delivery: success, the retry schedule, Retry-After, giving up after 24 h, idempotency."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apps.tenants.models import App
from apps.webhooks import delivery as delivery_module
from apps.webhooks import http
from apps.webhooks.delivery import delivery_attempt, parse_retry_after, retry_delay
from apps.webhooks.models import DeliveryStatus, EventType, WebhookAttempt, WebhookDelivery
from apps.webhooks.services import webhook_emit
from apps.webhooks.tasks import deliver_webhook
from tests.apps.webhooks.conftest import BACKOFF, SECRET
from tests.factories import AppFactory
from tests.markers import requires_postgres
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PAYLOAD = {"accid": "alice", "device_id": "phone-1"}


def _emit(app: App) -> WebhookDelivery:
    event = webhook_emit(app=app, type=EventType.SESSION_LOGIN, payload=PAYLOAD)
    return WebhookDelivery.objects.get(event=event)


def _fresh(delivery: WebhookDelivery) -> WebhookDelivery:
    return WebhookDelivery.objects.get(pk=delivery.pk)


def test_a_delivery_posts_the_signed_event_and_is_marked_delivered(
    app: App, receiver: WebhookReceiver
) -> None:
    delivery = _emit(app)

    assert deliver_webhook(delivery.pk) == "delivered"

    [received] = receiver.accepted
    body = received.json()
    assert body == {
        "event_id": str(delivery.event_id),
        "type": "session.login",
        "app_key": app.app_key,
        "created_at": int(delivery.event.created_at.timestamp() * 1000),
        "data": PAYLOAD,
    }
    assert received.headers["x-imcloud-event-id"] == str(delivery.event_id)
    assert received.headers["x-imcloud-event-type"] == "session.login"
    assert received.headers["appkey"] == app.app_key
    stored = _fresh(delivery)
    assert (stored.status, stored.attempts, stored.last_status_code, stored.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
        "",
    )
    assert json.loads(stored.last_response) == {"ok": True}
    assert stored.delivered_at is not None
    assert list(WebhookAttempt.objects.filter(delivery=stored).values_list("status_code", "error")) == [
        (200, "")
    ]


def test_running_the_task_again_for_a_delivered_delivery_sends_nothing(
    app: App, receiver: WebhookReceiver, enqueued
) -> None:
    delivery = _emit(app)

    outcomes = [deliver_webhook(delivery.pk), deliver_webhook(delivery.pk), deliver_webhook(delivery.pk)]

    assert outcomes == ["delivered", "skipped", "skipped"]
    assert len(receiver.requests) == 1
    assert _fresh(delivery).attempts == 1
    assert enqueued == []


def test_a_task_for_a_delivery_that_is_not_due_yet_sends_nothing(app: App, receiver: WebhookReceiver) -> None:
    delivery = _emit(app)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )

    assert deliver_webhook(delivery.pk) == "skipped"
    assert receiver.requests == []


def test_a_delivery_held_by_another_worker_is_left_alone_until_its_lease_runs_out(
    app: App, receiver: WebhookReceiver
) -> None:
    delivery = _emit(app)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() + timedelta(seconds=30))

    held = deliver_webhook(delivery.pk)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        after = deliver_webhook(delivery.pk)

    assert (held, after) == ("skipped", "delivered")
    assert len(receiver.requests) == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_delivery_send_it_once(
    app: App, receiver: WebhookReceiver, enqueued
) -> None:
    delivery = _emit(app)
    receiver.slow(0.5)  # the first sender is still waiting when the second tries
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def work() -> None:
        try:
            start.wait()
            outcomes.append(delivery_attempt(delivery_id=delivery.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["delivered", "skipped"]
    assert len(receiver.requests) == 1
    assert _fresh(delivery).attempts == 1


def test_every_attempt_carries_the_same_event_id_and_body(app: App, receiver: WebhookReceiver) -> None:
    receiver.fail(500, times=1)
    delivery = _emit(app)

    first = deliver_webhook(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    second = deliver_webhook(delivery.pk)

    assert (first, second) == ("retry", "delivered")
    failed, accepted = receiver.requests
    assert failed.body == accepted.body
    assert (
        failed.headers["x-imcloud-event-id"]
        == accepted.headers["x-imcloud-event-id"]
        == str(delivery.event_id)
    )


def test_failures_follow_the_backoff_schedule_then_hourly(
    app: App, receiver: WebhookReceiver, enqueued
) -> None:
    receiver.fail(500)
    with time_machine.travel(START, tick=False) as clock:
        delivery = _emit(app)
        delays = []
        for _ in range(len(BACKOFF) + 2):
            before = timezone.now()
            assert deliver_webhook(delivery.pk) == "retry"
            due = _fresh(delivery).next_attempt_at
            delays.append((due - before).total_seconds())
            clock.move_to(due)

    assert delays == [*BACKOFF, 3600, 3600]
    # Short waits ride on a countdown; longer ones are left to the sweeper.
    assert [e.countdown for e in enqueued] == [d for d in delays if d <= 900]
    stored = _fresh(delivery)
    assert (stored.status, stored.attempts, stored.last_status_code, stored.last_error) == (
        DeliveryStatus.PENDING,
        len(BACKOFF) + 2,
        500,
        "HTTP 500",
    )
    assert WebhookAttempt.objects.filter(delivery=stored).count() == len(BACKOFF) + 2


def test_jitter_stretches_each_delay_by_at_most_its_fraction(webhook_settings) -> None:
    webhook_settings["WEBHOOK_BACKOFF_JITTER"] = 0.2

    delays = [retry_delay(attempts=2) for _ in range(200)]

    assert all(30 <= d <= 36 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(("status", "retry_after", "expected"), [(429, "120", 120), (503, "45", 45)])
def test_retry_after_of_429_and_503_is_honoured(
    app: App, receiver: WebhookReceiver, enqueued, status: int, retry_after: str, expected: int
) -> None:
    receiver.fail(status, retry_after=retry_after)
    with time_machine.travel(START, tick=False):
        delivery = _emit(app)
        deliver_webhook(delivery.pk)

    assert (_fresh(delivery).next_attempt_at - START).total_seconds() == expected
    assert [e.countdown for e in enqueued] == [expected]


def test_retry_after_never_shortens_the_schedule_and_is_capped(app: App, receiver: WebhookReceiver) -> None:
    receiver.fail(503, retry_after="1")
    with time_machine.travel(START, tick=False):
        delivery = _emit(app)
        deliver_webhook(delivery.pk)
        short = _fresh(delivery).next_attempt_at - START

    assert short.total_seconds() == BACKOFF[0]
    assert retry_delay(attempts=1, retry_after=10 * 24 * 3600) == 3600


def test_retry_after_on_a_500_is_ignored(app: App, receiver: WebhookReceiver) -> None:
    receiver.fail(500, retry_after="600")
    with time_machine.travel(START, tick=False):
        delivery = _emit(app)
        deliver_webhook(delivery.pk)

    assert (_fresh(delivery).next_attempt_at - START).total_seconds() == BACKOFF[0]


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after("Sun, 01 Mar 2026 08:02:00 GMT", now=START) == 120
    assert parse_retry_after("soon", now=START) is None


def test_after_24_hours_of_failures_the_delivery_gives_up(
    app: App, receiver: WebhookReceiver, enqueued
) -> None:
    receiver.fail(500)
    with time_machine.travel(START, tick=False) as clock:
        delivery = _emit(app)
        deliver_webhook(delivery.pk)
        clock.move_to(START + timedelta(hours=24, seconds=-10))
        deliver_webhook(delivery.pk)
        last_due = _fresh(delivery).next_attempt_at
        clock.move_to(last_due)
        enqueued.clear()
        final = deliver_webhook(delivery.pk)

    # The last retry is pulled in to the deadline rather than scheduled past it.
    assert last_due == START + timedelta(hours=24)
    assert final == "failed"
    stored = _fresh(delivery)
    assert (stored.status, stored.attempts) == (DeliveryStatus.FAILED, 3)
    assert enqueued == []
    assert deliver_webhook(delivery.pk) == "skipped"
    assert len(receiver.requests) == 3


def test_a_timeout_is_a_failed_attempt(app: App, receiver: WebhookReceiver, webhook_settings) -> None:
    webhook_settings["WEBHOOK_TIMEOUT"] = 0.3
    receiver.hang(1.0)
    delivery = _emit(app)

    assert deliver_webhook(delivery.pk) == "retry"

    stored = _fresh(delivery)
    assert (stored.last_status_code, stored.last_error) == (None, "timed out")
    [attempt] = WebhookAttempt.objects.filter(delivery=stored)
    assert 250 <= attempt.duration_ms < 1000


def test_connection_refused_is_a_failed_attempt(app: App, receiver: WebhookReceiver) -> None:
    receiver.go_down()
    delivery = _emit(app)

    assert deliver_webhook(delivery.pk) == "retry"
    assert _fresh(delivery).last_error == "connection refused"


def test_a_redirect_is_not_followed(app: App, receiver: WebhookReceiver) -> None:
    receiver.fail(302)
    delivery = _emit(app)

    assert deliver_webhook(delivery.pk) == "retry"
    assert (_fresh(delivery).last_status_code, len(receiver.requests)) == (302, 1)


def test_the_answer_kept_in_the_log_is_truncated(
    app: App, receiver: WebhookReceiver, webhook_settings
) -> None:
    webhook_settings["WEBHOOK_RESPONSE_MAX"] = 10
    receiver.respond_with(b"x" * 5000)
    delivery = _emit(app)

    deliver_webhook(delivery.pk)

    assert _fresh(delivery).last_response == "x" * 10


def test_each_attempt_uses_the_apps_current_url_and_secret(app: App, receiver: WebhookReceiver) -> None:
    receiver.fail(500, times=1)
    delivery = _emit(app)
    deliver_webhook(delivery.pk)
    with WebhookReceiver(secret="new-secret-of-the-app") as moved:
        App.objects.filter(pk=app.pk).update(
            webhook_url=moved.url,
            secret_ciphertext=AppFactory.build(plain_secret="new-secret-of-the-app").secret_ciphertext,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

        assert deliver_webhook(delivery.pk) == "delivered"

        assert [r.verified for r in moved.requests] == [True]
        assert _fresh(delivery).url == moved.url


def test_turning_webhooks_off_fails_pending_deliveries_without_sending(
    app: App, receiver: WebhookReceiver
) -> None:
    delivery = _emit(app)
    App.objects.filter(pk=app.pk).update(webhook_url="")

    assert deliver_webhook(delivery.pk) == "failed"

    stored = _fresh(delivery)
    assert (stored.status, stored.last_error, stored.attempts) == (
        DeliveryStatus.FAILED,
        delivery_module.TURNED_OFF,
        0,
    )
    assert receiver.requests == []


def test_private_addresses_are_refused_unless_allowed(
    app: App, receiver: WebhookReceiver, webhook_settings
) -> None:
    webhook_settings["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = False
    delivery = _emit(app)

    assert deliver_webhook(delivery.pk) == "retry"

    assert _fresh(delivery).last_error.startswith("address not allowed")
    assert receiver.requests == []


def test_the_secret_in_the_signature_is_the_apps(app: App, receiver: WebhookReceiver) -> None:
    deliver_webhook(_emit(app).pk)

    assert receiver.secret == SECRET
    assert len(receiver.accepted) == 1


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "http://[::1/hook", "http://exa\u2024mple..com/hook"]
)
def test_a_url_that_cannot_be_posted_to_is_an_error_not_an_exception(url: str) -> None:
    result = http.post(url=url, body=b"{}", headers={}, timeout=0.5)

    assert (result.ok, result.status) == (False, None)
    assert result.error


def test_an_event_that_cannot_be_signed_is_a_failed_attempt(app: App, receiver: WebhookReceiver) -> None:
    delivery = _emit(app)
    App.objects.filter(pk=app.pk).update(secret_ciphertext="not a fernet token")

    assert deliver_webhook(delivery.pk) == "retry"

    stored = _fresh(delivery)
    assert stored.last_error.startswith("internal error")
    assert (stored.lease_until, receiver.requests) == (None, [])


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104
    ],
)
def test_only_public_addresses_are_allowed(address: str, allowed: bool) -> None:
    assert http._allowed(address) is allowed
