"""Handing stored messages to the push workers: which apps have credentials is cached per
process, so a batch of sends costs no query; a change through the services is seen at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from apps.messaging.sending import SendResult, message_send_many
from apps.push import delivery
from apps.push.services import credentials_delete, credentials_set
from tests.factories import AppFactory, ImUserFactory, send_request

pytestmark = pytest.mark.django_db


def _stored(app, text: str, **content) -> list[SendResult]:
    """The after-commit results of one stored send (the test's transaction stands in for a commit)."""
    sender, _ = ImUserFactory(app=app, accid=f"s-{text}"), ImUserFactory(app=app, accid=f"r-{text}")
    request = send_request(
        app=app, sender=sender, target=f"r-{text}", client_msg_id=f"c-{text}", text=text, **content
    )
    created: list[SendResult] = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        message_send_many(requests=[request], after_commit=created.extend)
    assert len(created) == 1
    return created


def test_an_app_is_looked_up_once_then_answered_from_the_cache(apns) -> None:
    pushing, silent = AppFactory(), AppFactory()
    credentials_set(app=pushing, provider="apns", data=apns.new_team_key(bundle_id="com.example.chat"))
    wanted, unwanted = _stored(pushing, "hi"), _stored(silent, "hey")
    assert delivery.push_pending(results=wanted + unwanted) == ([], {pushing.pk, silent.pk})
    with CaptureQueriesContext(connection) as lookup:
        delivery.push_apps_load(app_ids={pushing.pk, silent.pk})
    with CaptureQueriesContext(connection) as cached:
        pending = delivery.push_pending(results=wanted + unwanted)
    assert pending == ([wanted[0].message.pk], set())
    assert (len(lookup.captured_queries), len(cached.captured_queries)) == (1, 0)


def test_messages_sent_without_push_are_not_pending(apns) -> None:
    app = AppFactory()
    credentials_set(app=app, provider="apns", data=apns.new_team_key(bundle_id="com.example.chat"))
    delivery.push_apps_load(app_ids={app.pk})
    assert delivery.push_pending(results=_stored(app, "quiet", push=False)) == ([], set())


def test_credentials_changed_here_are_seen_at_once_and_elsewhere_within_the_ttl(apns, monkeypatch) -> None:
    app = AppFactory()
    delivery.push_apps_load(app_ids={app.pk})
    results = _stored(app, "hello")
    assert delivery.push_pending(results=results) == ([], set())
    credentials_set(app=app, provider="apns", data=apns.new_team_key(bundle_id="com.example.chat"))
    assert delivery.push_pending(results=results) == ([], {app.pk})
    delivery.push_apps_load(app_ids={app.pk})
    assert delivery.push_pending(results=results) == ([results[0].message.pk], set())
    credentials_delete(app=app, provider="apns")
    assert delivery.push_pending(results=results) == ([], {app.pk})
    # Another process's cache (not told of the change) looks again once its entry is older than the TTL.
    delivery.push_apps_load(app_ids={app.pk})
    assert delivery.push_pending(results=results) == ([], set())
    monkeypatch.setattr(delivery, "PUSH_APPS_TTL_SECONDS", -1.0)
    assert delivery.push_pending(results=results) == ([], {app.pk})
