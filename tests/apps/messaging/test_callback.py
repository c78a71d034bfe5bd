"""The app server's before-delivery callback on both send paths: allow, refuse, rewrite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.core.errors import DomainError
from apps.messaging.callback import forget_callback_configs
from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, Message, MessageType
from apps.messaging.services import message_send
from apps.webhooks.models import EventType
from apps.webhooks.services import webhook_config_update
from tests.apps.gateway.conftest import db_async
from tests.factories import AppFactory, ImUserFactory
from tests.gateway_communicator import CommClient
from tests.webhook_receiver import WebhookReceiver

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def server(settings) -> Iterator[WebhookReceiver]:
    settings.IMCLOUD = {**settings.IMCLOUD, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    forget_callback_configs()
    with WebhookReceiver(secret=SECRET) as running:
        yield running
    forget_callback_configs()


@pytest.fixture
def app(db, server):
    app = AppFactory(plain_secret=SECRET)
    webhook_config_update(
        app=app, events=list(EventType.values), enabled=True, callback_url=server.url,
        callback_fail_open=False, callback_timeout_ms=1000,
    )  # fmt: skip
    ImUserFactory(app=app, accid="alice")
    ImUserFactory(app=app, accid="bob")
    return app


def _send(app, text: str):
    return message_send(
        app=app, sender=app.imusers.get(accid="alice"), conversation_type=ConversationKind.P2P, target="bob",
        client_msg_id=f"c-{text}", content=MessageContent(type=MessageType.TEXT, text=text),
    )  # fmt: skip


def test_an_allowed_message_is_stored_as_sent(app, server):
    server.respond_with({"allow": True})
    assert _send(app, "hello").message.body["text"] == "hello"
    assert server.wait_for_requests(1)


def test_a_refused_message_is_not_stored(app, server):
    server.respond_with({"allow": False, "code": "spam", "reason": "looks like spam"})
    with pytest.raises(DomainError) as refused:
        _send(app, "buy now")
    assert refused.value.code == "callback_rejected"
    assert not Message.objects.filter(app=app).exists()


def test_a_rewritten_message_is_stored_rewritten(app, server):
    server.respond_with({"allow": True, "rewrite": {"text": "****"}})
    assert _send(app, "rude word").message.body["text"] == "****"


def test_fail_closed_refuses_when_the_callback_is_down(app, server):
    server.go_down()
    with pytest.raises(DomainError) as refused:
        _send(app, "anyone there?")
    assert refused.value.code == "callback_unavailable"


@pytest.mark.django_db(transaction=True)
async def test_the_gateway_applies_the_callback_before_storing(app, server):
    server.respond_with({"allow": True, "rewrite": {"text": "[filtered]"}})
    alice, bob = await CommClient().connect(), await CommClient().connect()
    await alice.login(app_key=app.app_key, accid="alice")
    await bob.login(app_key=app.app_key, accid="bob")
    ack = await alice.send_text("bob", "something bad", "c-1")
    pushed = await bob.next_push("message")
    server.respond_with({"allow": False, "code": "blocked_word"})
    refused = await alice.send_text("bob", "worse", "c-2")
    count = await db_async(Message.objects.filter(app=app).count)()
    await alice.close()
    await bob.close()
    assert ack.send_ack.seq == 1
    assert pushed.message.text == "[filtered]"
    assert refused.error.code == "callback_rejected"
    assert count == 1
