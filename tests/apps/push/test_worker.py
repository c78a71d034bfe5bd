"""The whole path with a real Celery worker on the Redis broker: a stored message is pushed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker

from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, MessageType
from apps.messaging.services import message_send
from apps.push.models import AttemptStatus, PushAttempt
from apps.push.services import device_register, webpush_credentials_generate
from imcloud.celery import app as celery_app
from tests.factories import AppFactory, ImUserFactory
from tests.markers import requires_services

pytestmark = [requires_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings) -> Iterator[None]:
    # Name the queue: a worker started earlier in the run may have narrowed the app's selection.
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        shutdown_timeout=10,
        queues=[settings.CELERY_TASK_DEFAULT_QUEUE],
    ):
        yield


def test_a_stored_message_reaches_the_offline_browser_through_the_worker(settings, webpush, worker):
    settings.IMCLOUD = {**settings.IMCLOUD, "PUSH_ALLOW_PRIVATE_ENDPOINTS": True}
    app = AppFactory()
    alice = ImUserFactory(app=app, accid="alice", name="Alice")
    bob = ImUserFactory(app=app, accid="bob")
    vapid = webpush_credentials_generate(app=app, subject="mailto:ops@example.com")
    subscription = webpush.subscribe(application_server_key=vapid.summary["vapid_public_key"])
    device_register(
        app=app, user=bob, device_id="browser", provider="webpush",
        token=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth,
    )  # fmt: skip
    message = message_send(
        app=app, sender=alice, conversation_type=ConversationKind.P2P, target="bob", client_msg_id="c-1",
        content=MessageContent(type=MessageType.TEXT, text="are you there?"),
    ).message  # fmt: skip
    delivered = PushAttempt.objects.filter(message=message, status=AttemptStatus.DELIVERED)
    deadline = time.monotonic() + 15
    while not delivered.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    [received] = webpush.delivered
    assert b"are you there?" in received.plaintext
    assert delivered.count() == 1
