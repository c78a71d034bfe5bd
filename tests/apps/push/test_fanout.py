"""Offline push end to end on the worker side: who is notified, with what, once; dead tokens and
retries; against the local APNs and Web Push servers (real protocols, real crypto)."""

from __future__ import annotations

import json

import pytest
import time_machine

from apps.gateway.presence import SessionEntry, expiry, presence_store
from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, MessageType
from apps.messaging.services import message_send
from apps.push import delivery, fanout
from apps.push.models import AttemptStatus, Device, PushAttempt
from apps.push.providers import clear_token_caches
from apps.push.services import (
    conversation_set_push_mute,
    credentials_set,
    device_register,
    preferences_update,
    webpush_credentials_generate,
)
from tests.factories import AppFactory, ImUserFactory

APNS_TOKEN = "b7" * 32
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings, apns, webpush):
    """alice writes to bob, who has a phone (APNs) and a browser (Web Push), both offline."""
    apns.reset()
    webpush.reset()
    clear_token_caches()
    settings.IMCLOUD = {
        **settings.IMCLOUD,
        "PUSH_APNS_SANDBOX_URL": apns.url,
        "PUSH_ALLOW_PRIVATE_ENDPOINTS": True,
    }
    app = AppFactory()
    alice = ImUserFactory(app=app, accid="alice", name="Alice")
    bob = ImUserFactory(app=app, accid="bob", name="Bob")
    creds = apns.new_team_key(bundle_id="com.example.chat")
    apns.bind_token(APNS_TOKEN, "com.example.chat")
    credentials_set(app=app, provider="apns", data=creds)
    vapid = webpush_credentials_generate(app=app, subject="mailto:ops@example.com")
    subscription = webpush.subscribe(application_server_key=vapid.summary["vapid_public_key"])
    phone = device_register(
        app=app, user=bob, device_id="phone", provider="apns", token=APNS_TOKEN, bundle_id="com.example.chat"
    )
    browser = device_register(
        app=app, user=bob, device_id="browser", provider="webpush",
        token=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth,
    )  # fmt: skip
    return {
        "app": app,
        "alice": alice,
        "bob": bob,
        "phone": phone,
        "browser": browser,
        "subscription": subscription,
    }


def _send(world, text="hello bob", **content):
    return message_send(
        app=world["app"], sender=world["alice"], conversation_type=ConversationKind.P2P, target="bob",
        client_msg_id=f"c-{text}", content=MessageContent(type=MessageType.TEXT, text=text, **content),
    ).message  # fmt: skip


def _deliver(message):
    return delivery.push_deliver_batch(message_id=message.pk, user_ids=fanout.recipients(message))


def test_every_offline_device_gets_one_notification_with_text_and_badge(world, apns, webpush):
    _send(world, "first")
    message = _send(world, "second")
    outcome = _deliver(message)
    [to_phone] = apns.delivered
    [to_browser] = webpush.delivered
    browser_payload = json.loads(to_browser.plaintext)
    assert outcome.sent == 2
    assert to_phone.payload["aps"]["alert"] == {"title": "Alice", "body": "second"}
    assert to_phone.payload["aps"]["badge"] == 2
    assert to_phone.headers["apns-collapse-id"] == f"c{message.conversation_id}"
    assert (browser_payload["title"], browser_payload["body"], browser_payload["badge"]) == (
        "Alice",
        "second",
        2,
    )
    assert set(PushAttempt.objects.filter(message=message).values_list("status", flat=True)) == {"delivered"}


def test_a_retried_task_notifies_no_device_twice(world, apns, webpush):
    message = _send(world)
    _deliver(message)
    again = _deliver(message)
    assert again.sent == 0
    assert (len(apns.delivered), len(webpush.delivered)) == (1, 1)


def test_an_unregistered_token_is_removed(world, apns):
    apns.set_error(APNS_TOKEN, 410, "Unregistered")
    message = _send(world)
    _deliver(message)
    attempt = PushAttempt.objects.get(message=message, provider="apns")
    assert attempt.status == AttemptStatus.DEAD_TOKEN
    assert attempt.status_code == 410
    assert not Device.objects.filter(pk=world["phone"].pk).exists()


def test_a_gone_web_push_subscription_is_removed(world, webpush):
    webpush.unsubscribe(world["subscription"])
    _deliver(_send(world))
    assert not Device.objects.filter(pk=world["browser"].pk).exists()


def test_throttling_is_retried_after_retry_after_and_then_delivered(world, apns):
    apns.set_error(APNS_TOKEN, 429, "TooManyRequests", retry_after="7", times=1)
    message = _send(world)
    outcome = _deliver(message)
    [(attempt_id, delay)] = outcome.retries
    again = delivery.push_retry_attempt(attempt_id=attempt_id)
    assert delay >= 7
    assert again is None
    assert PushAttempt.objects.get(pk=attempt_id).status == AttemptStatus.DELIVERED
    assert PushAttempt.objects.get(pk=attempt_id).attempts == 2


def test_a_foreground_device_with_a_live_session_is_not_pushed(world, apns, webpush):
    Device.objects.filter(pk=world["phone"].pk).update(foreground=True)
    presence_store().put([SessionEntry("s1", world["bob"].pk, "gateway.x", "mobile", "phone", expiry())])
    _deliver(_send(world))
    assert (len(apns.delivered), len(webpush.delivered)) == (0, 1)


def test_a_backgrounded_device_is_pushed_even_with_a_live_session(world, apns):
    presence_store().put([SessionEntry("s1", world["bob"].pk, "gateway.x", "mobile", "phone", expiry())])
    _deliver(_send(world))
    assert len(apns.delivered) == 1


def test_no_mobile_push_while_a_desktop_is_online(world, apns, webpush):
    presence_store().put([SessionEntry("s2", world["bob"].pk, "gateway.x", "desktop", "laptop", expiry())])
    _deliver(_send(world))
    assert (len(apns.delivered), len(webpush.delivered)) == (0, 1)


def test_do_not_disturb_silences_the_user_inside_the_window_only(world, apns):
    preferences_update(
        user=world["bob"], push_enabled=True, dnd_enabled=True,
        dnd_start_minute=22 * 60, dnd_end_minute=7 * 60, timezone="Asia/Shanghai",
    )  # fmt: skip
    with time_machine.travel("2030-01-01T16:30:00Z", tick=False):  # 00:30 in Shanghai
        _deliver(_send(world, "at night"))
    with time_machine.travel("2030-01-01T02:00:00Z", tick=False):  # 10:00 in Shanghai
        _deliver(_send(world, "in the morning"))
    assert [r.payload["aps"]["alert"]["body"] for r in apns.delivered] == ["in the morning"]


def test_a_muted_conversation_is_not_pushed(world, apns, webpush):
    conversation_set_push_mute(
        app=world["app"], user=world["bob"], conversation_type=1, target="alice", muted=True
    )
    _deliver(_send(world))
    assert (len(apns.delivered), len(webpush.delivered)) == (0, 0)


def test_a_message_sent_without_push_is_not_handed_to_the_workers(world):
    message = _send(world, "quiet", push=False)
    assert fanout.wants_push(message) is False
    assert delivery.push_fanout_message(message_id=message.pk) == delivery.FanoutOutcome(batches=[])


def test_a_large_team_fans_out_in_batches_of_500(world):
    from apps.imusers.models import ImUser
    from apps.teams.services import team_add_members, team_create

    app = world["app"]
    accids = [f"m{n:04d}" for n in range(1100)]
    ImUser.objects.bulk_create([ImUser(app=app, accid=a, token_salt="s", token_hash="h") for a in accids])
    team = team_create(app=app, owner="alice", name="Big", members=accids[:500], max_members=2000)
    for start in (500, 1000):
        team_add_members(app=app, team_id=str(team.pk), operator="alice", accids=accids[start : start + 500])
    message = message_send(
        app=app, sender=world["alice"], conversation_type=ConversationKind.TEAM, target=str(team.pk),
        client_msg_id="big-1", content=MessageContent(type=MessageType.TEXT, text="hello all"),
    ).message  # fmt: skip
    fanned = delivery.push_fanout_message(message_id=message.pk)
    groups = fanned.batches
    assert fanned.delivered is None
    assert [len(g) for g in groups] == [500, 500, 100]
    assert world["alice"].pk not in {u for g in groups for u in g}


@pytest.mark.parametrize("template", ["{nobody}", "{preview:>100000000}", "{sender!r}", "unclosed {"])
def test_templates_that_the_workers_could_not_fill_in_are_refused(world, template):
    from apps.core.errors import InvalidField
    from apps.push.services import settings_update

    with pytest.raises(InvalidField) as refused:
        settings_update(app=world["app"], p2p_body=template)
    assert refused.value.field == "p2p_body"
