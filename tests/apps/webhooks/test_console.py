"""The console's Webhooks page: configuration, the delivery log, Resend; another developer gets 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Developer
from apps.tenants.models import App
from apps.webhooks.models import DeliveryStatus, EventType, WebhookConfig, WebhookDelivery, WebhookEvent
from apps.webhooks.selectors import webhook_config_for
from apps.webhooks.services import webhook_emit
from apps.webhooks.tasks import deliver_webhook
from tests.apps.webhooks.conftest import SECRET
from tests.factories import AppFactory, DeveloperFactory
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

VALID = {
    "enabled": "on",
    "events": ["message.p2p", "message.recall"],
    "callback_url": "https://hooks.example.com/before",
    "callback_fail_open": "closed",
    "callback_timeout_ms": "1500",
}


@pytest.fixture
def developer(db: None) -> Developer:
    return DeveloperFactory()


@pytest.fixture
def own_app(developer: Developer, receiver: WebhookReceiver) -> App:
    return AppFactory(owner=developer, plain_secret=SECRET, webhook_url=receiver.url)


@pytest.fixture
def other_app(receiver: WebhookReceiver) -> App:
    """Someone else's app, never reachable by ``developer``."""
    return AppFactory(owner=DeveloperFactory(), webhook_url=receiver.url)


@pytest.fixture
def console(client: Client, developer: Developer) -> Client:
    client.force_login(developer)
    return client


def _page(app: App) -> str:
    return reverse("console:app_webhooks", args=[app.app_key])


def _resend(app: App) -> str:
    return reverse("console:app_webhook_resend", args=[app.app_key])


def _deliveries(app: App, count: int, status: str = DeliveryStatus.PENDING) -> list[WebhookDelivery]:
    events = [webhook_emit(app=app, type=EventType.MESSAGE_P2P, payload={"n": n}) for n in range(count)]
    WebhookDelivery.objects.filter(event__in=events).update(status=status, attempts=3, last_status_code=503)
    return list(WebhookDelivery.objects.filter(event__in=events))


def test_the_page_requires_login(client: Client, own_app: App) -> None:
    response = client.get(_page(own_app))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


def test_the_page_shows_the_defaults_and_the_webhook_url(console: Client, own_app: App) -> None:
    response = console.get(_page(own_app))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["events"] == EventType.values
    assert (form.initial["enabled"], form.initial["callback_fail_open"]) == (True, "open")
    assert own_app.webhook_url in response.content.decode()


def test_saving_the_form_updates_the_configuration(console: Client, own_app: App) -> None:
    response = console.post(_page(own_app), VALID)

    assert response.status_code == 302
    config = webhook_config_for(app=own_app)
    assert (config.events, config.enabled, config.callback_url, config.callback_fail_open) == (
        ["message.p2p", "message.recall"],
        True,
        "https://hooks.example.com/before",
        False,
    )
    assert config.callback_timeout_ms == 1500
    assert "Webhook settings saved." in console.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [("events", "message.broadcast"), ("callback_url", "ftp://x.example.com"), ("callback_timeout_ms", "5")],
)
def test_a_bad_value_rerenders_with_the_error(console: Client, own_app: App, field: str, value: str) -> None:
    response = console.post(_page(own_app), {**VALID, field: value})

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not WebhookConfig.objects.exists()


def test_the_log_lists_the_apps_deliveries_newest_first_with_their_state(
    console: Client, own_app: App, other_app: App
) -> None:
    mine = _deliveries(own_app, 2, DeliveryStatus.FAILED) + _deliveries(own_app, 1)
    _deliveries(other_app, 1)

    response = console.get(_page(own_app))

    listed = [row["delivery"] for row in response.context["rows"]]
    assert [d.pk for d in listed] == sorted((d.pk for d in mine), reverse=True)
    content = response.content.decode()
    assert str(mine[0].event_id) in content
    assert content.count('<span class="badge danger">failed</span>') == 2
    assert content.count("<td>503</td>") == 3
    assert content.count('<span class="muted">pending</span>') == 1


def test_the_log_shows_each_attempt_and_the_last_answer(console: Client, own_app: App) -> None:
    event = webhook_emit(app=own_app, type=EventType.SESSION_LOGIN, payload={"accid": "alice"})
    deliver_webhook(WebhookDelivery.objects.get(event=event).pk)

    content = console.get(_page(own_app)).content.decode()

    assert '<span class="badge">delivered</span>' in content
    assert "<td>200</td>" in content
    assert "&quot;accid&quot;: &quot;alice&quot;" in content  # the payload, escaped
    assert "{&quot;ok&quot;: true}" in content  # the receiver's answer


def test_the_log_is_paged_and_filtered(console: Client, own_app: App) -> None:
    _deliveries(own_app, 21, DeliveryStatus.DELIVERED)
    _deliveries(own_app, 1, DeliveryStatus.FAILED)

    first = console.get(_page(own_app))
    second = console.get(_page(own_app), {"page": 2})
    failed = console.get(_page(own_app), {"status": "failed"})

    assert (len(first.context["rows"]), len(second.context["rows"])) == (20, 2)
    assert [row["delivery"].status for row in failed.context["rows"]] == [DeliveryStatus.FAILED]


def test_resend_starts_a_new_delivery_and_returns_to_the_log(
    console: Client, own_app: App, enqueued, django_capture_on_commit_callbacks
) -> None:
    [failed] = _deliveries(own_app, 1, DeliveryStatus.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(_resend(own_app), {"event_id": str(failed.event_id), "page": "1"})

    assert response.status_code == 302
    assert response["Location"] == f"{_page(own_app)}?page=1#log"
    fresh = WebhookDelivery.objects.exclude(pk=failed.pk).get(event_id=failed.event_id)
    assert fresh.status == DeliveryStatus.PENDING
    assert [e.delivery_id for e in enqueued] == [fresh.pk]


def test_resend_needs_csrf(developer: Developer, own_app: App) -> None:
    [failed] = _deliveries(own_app, 1, DeliveryStatus.FAILED)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(developer)

    response = browser.post(_resend(own_app), {"event_id": str(failed.event_id)})

    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 1


def test_resend_by_get_is_not_allowed(console: Client, own_app: App) -> None:
    assert console.get(_resend(own_app)).status_code == 405


def test_resend_of_an_unknown_event_is_404(console: Client, own_app: App) -> None:
    assert console.post(_resend(own_app), {"event_id": "not-a-uuid"}).status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_developers_webhooks_page_is_404(console: Client, other_app: App, method: str) -> None:
    response = getattr(console, method)(_page(other_app), VALID)

    assert response.status_code == 404
    assert not WebhookConfig.objects.exists()


def test_another_developers_event_cannot_be_resent_through_either_app(
    console: Client, own_app: App, other_app: App
) -> None:
    [theirs] = _deliveries(other_app, 1, DeliveryStatus.FAILED)

    through_theirs = console.post(_resend(other_app), {"event_id": str(theirs.event_id)})
    through_mine = console.post(_resend(own_app), {"event_id": str(theirs.event_id)})

    assert (through_theirs.status_code, through_mine.status_code) == (404, 404)
    assert WebhookDelivery.objects.count() == 1
    assert WebhookEvent.objects.count() == 1
