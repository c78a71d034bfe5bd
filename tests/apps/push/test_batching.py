"""A batch is claimed and recorded with a fixed number of statements, and still sends each
(message, device) once: retried tasks, racing tasks, a worker that died mid-batch; each attempt's
outcome recorded with its own status. Against the local APNs server."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, Message, MessageType
from apps.messaging.services import message_send
from apps.push import delivery, fanout
from apps.push.models import AttemptStatus, Device, PushAttempt, PushSettings
from apps.push.providers import clear_token_caches
from apps.push.services import credentials_set, device_register
from tests.factories import AppFactory, ImUserFactory
from tests.markers import requires_postgres
from tests.push_servers.apns import ApnsServer

BUNDLE = "com.example.chat"


@pytest.fixture
def world(settings: Any, apns: ApnsServer) -> dict[str, Any]:
    """alice writes; bob and carol are offline with APNs devices only."""
    apns.reset()
    clear_token_caches()
    settings.IMCLOUD = {
        **settings.IMCLOUD,
        "PUSH_APNS_SANDBOX_URL": apns.url,
        "PUSH_ALLOW_PRIVATE_ENDPOINTS": True,
    }
    app = AppFactory()
    credentials_set(app=app, provider="apns", data=apns.new_team_key(bundle_id=BUNDLE))
    return {
        "app": app,
        "alice": ImUserFactory(app=app, accid="alice", name="Alice"),
        "bob": ImUserFactory(app=app, accid="bob"),
        "carol": ImUserFactory(app=app, accid="carol"),
    }


def token(n: int) -> str:
    return f"{n:064x}"


def give_devices(world: dict[str, Any], accid: str, count: int, first: int = 0) -> list[Device]:
    return [
        device_register(
            app=world["app"],
            user=world[accid],
            device_id=f"d{n}",
            provider="apns",
            token=token(n),
            bundle_id=BUNDLE,
        )
        for n in range(first, first + count)
    ]


def send_to(world: dict[str, Any], accid: str, text: str = "hello") -> Message:
    return message_send(
        app=world["app"], sender=world["alice"], conversation_type=ConversationKind.P2P, target=accid,
        client_msg_id=f"c-{accid}-{text}", content=MessageContent(type=MessageType.TEXT, text=text),
    ).message  # fmt: skip


def deliver(message: Message) -> delivery.BatchOutcome:
    return delivery.push_deliver_batch(message_id=message.pk, user_ids=fanout.recipients(message))


def received(apns: ApnsServer, message: Message) -> Counter[str]:
    """How many notifications of ``message`` each device token got."""
    return Counter(r.token for r in apns.delivered if r.payload["server_msg_id"] == str(message.pk))


@pytest.mark.django_db
def test_each_attempt_is_recorded_with_its_own_outcome(world: dict[str, Any], apns: ApnsServer) -> None:
    ok, gone, throttled, refused = give_devices(world, "bob", 4)
    apns.set_error(gone.token, 410, "Unregistered")
    apns.set_error(throttled.token, 429, "TooManyRequests", retry_after="9", times=1)
    apns.set_error(refused.token, 400, "BadCollapseId")
    message = send_to(world, "bob")

    outcome = deliver(message)

    rows = {
        a.device_id if a.device_id is not None else gone.pk: a
        for a in PushAttempt.objects.filter(message=message)
    }
    assert {pk: (a.status, a.status_code, a.attempts) for pk, a in rows.items()} == {
        ok.pk: (AttemptStatus.DELIVERED, 200, 1),
        gone.pk: (AttemptStatus.DEAD_TOKEN, 410, 1),
        throttled.pk: (AttemptStatus.RETRY, 429, 1),
        refused.pk: (AttemptStatus.FAILED, 400, 1),
    }
    assert (rows[gone.pk].detail, rows[throttled.pk].detail, rows[refused.pk].detail) == (
        "Unregistered",
        "TooManyRequests",
        "BadCollapseId",
    )
    assert '"reason":"Unregistered"' in rows[gone.pk].response.replace(" ", "")
    assert rows[gone.pk].device_id is None  # the dead device row is gone, its attempt stays
    assert set(Device.objects.filter(user=world["bob"]).values_list("pk", flat=True)) == {
        ok.pk,
        throttled.pk,
        refused.pk,
    }
    assert outcome.sent == 4
    [(retry_id, delay)] = outcome.retries
    assert retry_id == rows[throttled.pk].pk
    assert delay >= 9
    # The retry is recorded on the same row.
    assert delivery.push_retry_attempt(attempt_id=retry_id) is None
    again = PushAttempt.objects.get(pk=retry_id)
    assert (again.status, again.status_code, again.attempts) == (AttemptStatus.DELIVERED, 200, 2)
    assert received(apns, message) == {ok.token: 1, throttled.token: 1}


@pytest.mark.django_db
def test_claiming_and_recording_take_the_same_statements_for_4_devices_as_for_40(
    world: dict[str, Any], apns: ApnsServer
) -> None:
    PushSettings.objects.get_or_create(app=world["app"])  # created on first use: not per batch
    give_devices(world, "bob", 4)
    give_devices(world, "carol", 40, first=100)
    to_bob, to_carol = send_to(world, "bob"), send_to(world, "carol")

    with CaptureQueriesContext(connection) as for_bob:
        deliver(to_bob)
    with CaptureQueriesContext(connection) as for_carol:
        deliver(to_carol)

    assert len(for_carol.captured_queries) == len(for_bob.captured_queries)
    attempt_updates = [
        q["sql"] for q in for_carol.captured_queries if 'UPDATE "push_pushattempt"' in q["sql"]
    ]
    assert len(attempt_updates) == 2  # the claim, and the 40 outcomes
    assert sum(received(apns, to_carol).values()) == 40
    assert set(PushAttempt.objects.filter(message=to_carol).values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db
def test_a_redelivered_task_sends_nothing_twice(world: dict[str, Any], apns: ApnsServer) -> None:
    devices = give_devices(world, "bob", 3)
    apns.set_error(devices[2].token, 503, "ServiceUnavailable", times=1)
    message = send_to(world, "bob")
    user_ids = fanout.recipients(message)

    first = delivery.push_deliver_batch(message_id=message.pk, user_ids=user_ids)
    # The broker hands the same task out again (acks_late after a lost worker, a duplicate).
    again = delivery.push_deliver_batch(message_id=message.pk, user_ids=user_ids)
    [attempt_id] = PushAttempt.objects.filter(message=message, status=AttemptStatus.RETRY).values_list(
        "pk", flat=True
    )
    delivery.push_retry_attempt(attempt_id=attempt_id)
    delivery.push_retry_attempt(attempt_id=attempt_id)  # push.retry delivered twice
    last = delivery.push_deliver_batch(message_id=message.pk, user_ids=user_ids)

    assert (first.sent, again.sent, last.sent) == (3, 0, 0)
    assert received(apns, message) == {d.token: 1 for d in devices}
    assert (
        list(PushAttempt.objects.filter(message=message).values_list("status", flat=True))
        == ["delivered"] * 3
    )


@pytest.mark.django_db
def test_a_batch_whose_worker_died_after_claiming_is_sent_once_by_the_sweep(
    world: dict[str, Any], apns: ApnsServer
) -> None:
    devices = give_devices(world, "bob", 3)
    message = send_to(world, "bob")
    with transaction.atomic():  # the worker claims the batch, then dies before sending
        stored = fanout.load_message(message.pk)
        assert stored is not None
        claimed = fanout.reserve(stored, fanout.plan(stored, fanout.recipients(message)))
    assert len(claimed) == 3

    redelivered = deliver(message)  # the broker gives the task to another worker
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delivery.STUCK_AFTER_SECONDS + 60)
    with time_machine.travel(later, tick=False):
        stuck = delivery.push_sweep()
        for attempt_id in stuck:
            delivery.push_retry_attempt(attempt_id=attempt_id)
        assert delivery.push_sweep() == []

    assert redelivered.sent == 0
    assert sorted(stuck) == sorted(attempt.pk for attempt, _ in claimed)
    assert received(apns, message) == {d.token: 1 for d in devices}
    assert set(PushAttempt.objects.filter(message=message).values_list("status", flat=True)) == {"delivered"}


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_task_claiming_a_batch_another_task_holds_gets_nothing(world: dict[str, Any]) -> None:
    give_devices(world, "bob", 5)
    message = send_to(world, "bob")
    stored = fanout.load_message(message.pk)
    assert stored is not None
    planned = fanout.plan(stored, fanout.recipients(message))
    first_claimed = threading.Event()
    let_first_commit = threading.Event()
    claims: dict[str, int] = {}
    errors: list[BaseException] = []

    def claim(name: str, before_commit: threading.Event | None) -> None:
        try:
            with transaction.atomic():
                claims[name] = len(fanout.reserve(stored, planned))
                if before_commit is not None:
                    first_claimed.set()
                    before_commit.wait(30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_claimed.set()
            connection.close()

    first = threading.Thread(target=claim, args=("first", let_first_commit))
    first.start()
    assert first_claimed.wait(30)
    # The second task's INSERT waits on the first's uncommitted rows, then finds them taken.
    second = threading.Thread(target=claim, args=("second", None))
    second.start()
    let_first_commit.set()
    first.join(30)
    second.join(30)

    assert errors == []
    assert claims == {"first": 5, "second": 0}


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_tasks_racing_on_one_batch_notify_each_device_once(
    world: dict[str, Any], apns: ApnsServer
) -> None:
    devices = give_devices(world, "bob", 30)
    message = send_to(world, "bob")
    user_ids = fanout.recipients(message)
    start = threading.Barrier(2, timeout=30)
    sent: list[int] = []
    errors: list[BaseException] = []

    def run_task() -> None:
        try:
            start.wait()
            sent.append(delivery.push_deliver_batch(message_id=message.pk, user_ids=user_ids).sent)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    racers = [threading.Thread(target=run_task) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)

    assert errors == []
    assert sum(sent) == 30
    assert received(apns, message) == {d.token: 1 for d in devices}
    assert PushAttempt.objects.filter(message=message, status=AttemptStatus.DELIVERED).count() == 30
