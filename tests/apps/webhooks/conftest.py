from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from apps.tenants.models import App
from apps.webhooks import tasks
from tests.factories import AppFactory
from tests.webhook_receiver import WebhookReceiver

SECRET = "0123456789abcdef0123456789abcdef"
BACKOFF = [10, 30, 60, 300, 900, 1800, 3600]


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> dict[str, Any]:
    """Deterministic retries (no jitter), short timeouts, and 127.0.0.1 allowed as a target."""
    settings.IMCLOUD = {
        **settings.IMCLOUD,
        "WEBHOOK_BACKOFF": BACKOFF,
        "WEBHOOK_BACKOFF_JITTER": 0,
        "WEBHOOK_TIMEOUT": 1.0,
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True,
        # Concurrent test runs share Redis: each consumes its own queue.
        "WEBHOOK_QUEUE": f"webhooks-test-{os.getpid()}",
    }
    imcloud: dict[str, Any] = settings.IMCLOUD
    return imcloud


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=SECRET) as running:
        yield running


@pytest.fixture
def app(db: None, receiver: WebhookReceiver) -> App:
    hooked: App = AppFactory(plain_secret=SECRET, webhook_url=receiver.url)
    return hooked


@dataclass
class Enqueued:
    delivery_id: int
    countdown: float
    queue: str


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[Enqueued]:
    """Delivery tasks sent to the broker, recorded instead of sent."""
    calls: list[Enqueued] = []

    def fake_apply_async(args: tuple[int], **options: Any) -> None:
        calls.append(Enqueued(args[0], options.get("countdown", 0.0), options.get("queue", "")))

    monkeypatch.setattr(tasks.deliver_webhook, "apply_async", fake_apply_async)
    return calls


@pytest.fixture(autouse=True)
def _no_broker_without_a_worker(request: pytest.FixtureRequest) -> None:
    """Only tests with a real worker send tasks to the broker; the others record them."""
    if "worker" not in request.fixturenames:
        request.getfixturevalue("enqueued")
