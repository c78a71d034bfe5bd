"""The before-delivery callback: allow, reject, rewrite; timeouts and errors, fail-open or closed."""

from __future__ import annotations

import json

import pytest

from apps.messaging.models import ConversationKind, MessageType
from apps.tenants.models import App
from apps.webhooks.callback import UNAVAILABLE, CallbackDecision, webhook_before_delivery
from apps.webhooks.selectors import webhook_config_for
from apps.webhooks.services import webhook_config_update
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

TEXT_BODY = {"text": "hello", "ext": '{"k":1}'}


@pytest.fixture
def callback(app: App, receiver: WebhookReceiver) -> WebhookReceiver:
    """The app's server answering the callback (fail-open, 300 ms)."""
    _configure(app, receiver.url, fail_open=True)
    return receiver


def _configure(app: App, url: str, *, fail_open: bool) -> None:
    webhook_config_update(
        app=app,
        events=[],
        enabled=True,
        callback_url=url,
        callback_fail_open=fail_open,
        callback_timeout_ms=300,
    )


def _ask(app: App, body: dict | None = None, message_type: int = MessageType.TEXT) -> CallbackDecision:
    return webhook_before_delivery(
        app=app,
        sender_accid="alice",
        conversation_type=ConversationKind.P2P,
        target="bob",
        content_body=dict(TEXT_BODY) if body is None else body,
        message_type=message_type,
        client_msg_id="c-1",
    )


def test_without_a_callback_url_everything_is_allowed_without_a_request(app: App, receiver) -> None:
    decision = _ask(app)

    assert decision == CallbackDecision(allow=True, content_body=TEXT_BODY)
    assert receiver.requests == []


def test_the_request_is_signed_and_describes_the_message(app: App, callback: WebhookReceiver) -> None:
    callback.respond_with({"allow": True})

    _ask(app)

    [request] = callback.accepted
    body = request.json()
    assert body.pop("server_time") > 0
    assert body == {
        "type": "message.before_delivery",
        "app_key": app.app_key,
        "from": "alice",
        "conversation_type": "p2p",
        "to": "bob",
        "message_type": "text",
        "client_msg_id": "c-1",
        "content": TEXT_BODY,
    }
    assert request.headers["x-imcloud-event-type"] == "message.before_delivery"


def test_with_the_config_given_no_query_is_made(
    app: App, callback: WebhookReceiver, django_assert_num_queries
) -> None:
    callback.respond_with({"allow": True})
    config = webhook_config_for(app=app)

    with django_assert_num_queries(0):
        decision = webhook_before_delivery(
            app=app,
            sender_accid="alice",
            conversation_type=ConversationKind.TEAM,
            target="42",
            content_body=TEXT_BODY,
            config=config,
        )

    assert decision.allow
    assert callback.accepted[0].json()["conversation_type"] == "team"


def test_allow(app: App, callback: WebhookReceiver) -> None:
    callback.respond_with({"allow": True})

    assert _ask(app) == CallbackDecision(allow=True, content_body=TEXT_BODY)


def test_reject_passes_on_the_apps_code_and_reason(app: App, callback: WebhookReceiver) -> None:
    callback.respond_with({"allow": False, "code": "spam", "reason": "Looks like spam."})

    decision = _ask(app)

    assert (decision.allow, decision.code, decision.app_code, decision.reason) == (
        False,
        "callback_rejected",
        "spam",
        "Looks like spam.",
    )
    refusal = decision.refusal()
    assert (refusal.code, refusal.detail, refusal.http_status) == (
        "callback_rejected",
        "Looks like spam.",
        403,
    )


def test_a_malformed_app_code_is_dropped(app: App, callback: WebhookReceiver) -> None:
    callback.respond_with({"allow": False, "code": "<script>", "reason": 7})

    decision = _ask(app)

    assert (decision.allow, decision.app_code, decision.reason) == (False, "", "")


def test_rewrite_replaces_text_and_ext(app: App, callback: WebhookReceiver) -> None:
    callback.respond_with({"allow": True, "rewrite": {"text": "h***o", "ext": ""}})

    decision = _ask(app)

    assert (decision.allow, decision.rewritten, decision.content_body) == (True, True, {"text": "h***o"})


def test_rewrite_replaces_custom_content(app: App, callback: WebhookReceiver) -> None:
    callback.respond_with({"allow": True, "rewrite": {"custom": '{"card": 2}'}})

    decision = _ask(app, {"custom": '{"card": 1}'}, MessageType.CUSTOM)

    assert decision.content_body == {"custom": '{"card": 2}'}


@pytest.mark.parametrize(
    "rewrite",
    [
        {"text": "   "},
        {"text": "x" * 5001},
        {"text": 5},
        {"custom": "{}"},  # not a custom message
        {"attachment": {"url": "https://evil.example.com"}},
        {},
        "text",
    ],
)
def test_an_unusable_rewrite_counts_as_no_answer(app: App, callback: WebhookReceiver, rewrite) -> None:
    callback.respond_with({"allow": True, "rewrite": rewrite})

    decision = _ask(app)

    assert (decision.allow, decision.content_body, decision.rewritten) == (True, TEXT_BODY, False)
    assert decision.error


def test_timeout_fail_open_allows_the_original(app: App, callback: WebhookReceiver) -> None:
    callback.hang(1.0)

    decision = _ask(app)

    assert (decision.allow, decision.content_body, decision.error) == (True, TEXT_BODY, "timed out")


def test_timeout_fail_closed_refuses(app: App, callback: WebhookReceiver) -> None:
    _configure(app, callback.url, fail_open=False)
    callback.hang(1.0)

    decision = _ask(app)

    assert (decision.allow, decision.code, decision.error) == (False, UNAVAILABLE, "timed out")
    assert decision.refusal().code == "callback_unavailable"


@pytest.mark.parametrize("fail_open", [True, False])
def test_an_error_answer_follows_the_apps_choice(
    app: App, callback: WebhookReceiver, fail_open: bool
) -> None:
    _configure(app, callback.url, fail_open=fail_open)
    callback.fail(500)

    decision = _ask(app)

    assert (decision.allow, decision.error) == (fail_open, "HTTP 500")


@pytest.mark.parametrize("answer", [b"not json", json.dumps({"allow": "yes"}).encode(), b"[]"])
def test_a_nonsense_answer_fails_closed_when_asked_to(
    app: App, callback: WebhookReceiver, answer: bytes
) -> None:
    _configure(app, callback.url, fail_open=False)
    callback.respond_with(answer)

    assert _ask(app).code == UNAVAILABLE


def test_an_unreachable_server_fails_closed_when_asked_to(app: App, callback: WebhookReceiver) -> None:
    _configure(app, callback.url, fail_open=False)
    callback.go_down()

    decision = _ask(app)

    assert (decision.allow, decision.error) == (False, "connection refused")
