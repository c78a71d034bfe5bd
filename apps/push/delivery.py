"""The push services that Celery tasks call: fan a message out, deliver a batch, retry one."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from apps.push import fanout
from apps.push.models import AttemptStatus, PushAttempt, PushCredential

if TYPE_CHECKING:
    from apps.messaging.sending import SendResult
    from apps.push.queries import PushMessage

logger = logging.getLogger(__name__)


# Whether an app has push credentials, per process: consulted for every stored batch of messages,
# so that a batch costs no query. An app's first credential takes effect within this time.
PUSH_APPS_TTL_SECONDS = 10.0
_push_apps: dict[int, tuple[float, bool]] = {}


def push_pending(*, results: Sequence[SendResult]) -> tuple[list[int], set[int]]:
    """From the cache only: the ids of the messages to hand to the push workers, and the apps whose
    credentials must be looked up (``push_apps_load``) before that answer is complete."""
    now = time.monotonic()
    ids: list[int] = []
    unknown: set[int] = set()
    for result in results:
        message = result.message
        if result.duplicate or not fanout.wants_push(message):
            continue
        cached = _push_apps.get(message.app_id)
        if cached is None or now - cached[0] > PUSH_APPS_TTL_SECONDS:
            unknown.add(message.app_id)
        elif cached[1]:
            ids.append(message.pk)
    return ids, unknown


def push_apps_load(*, app_ids: set[int]) -> None:
    with_push = set(PushCredential.objects.filter(app_id__in=app_ids).values_list("app_id", flat=True))
    now = time.monotonic()
    for app_id in app_ids:
        _push_apps[app_id] = (now, app_id in with_push)


def push_apps_forget(*, app_id: int | None = None) -> None:
    """Drop what this process has cached about an app's credentials (all apps by default)."""
    if app_id is None:
        _push_apps.clear()
    else:
        _push_apps.pop(app_id, None)


def push_enqueue_ids(*, message_ids: list[int]) -> None:
    """Hand stored messages to the push workers (one task for the lot)."""
    from apps.push.tasks import push_fanout

    if message_ids:
        push_fanout.delay(message_ids)


def push_enqueue(*, results: Sequence[SendResult]) -> None:
    """After commit: hand the new messages that want a push to the workers (one task per batch)."""
    ids, unknown = push_pending(results=results)
    if unknown:
        push_apps_load(app_ids=unknown)
        ids, _ = push_pending(results=results)
    push_enqueue_ids(message_ids=ids)


@dataclass(frozen=True)
class BatchOutcome:
    user_ids: list[int]  # the batch, to run again when deferred
    deferred: bool  # over the app's rate: run the batch again later
    retries: list[tuple[int, float]]  # (attempt id, delay in seconds)
    sent: int


@dataclass(frozen=True)
class FanoutOutcome:
    batches: list[list[int]]  # recipient batches for separate deliver tasks
    # A message whose recipients fit in one batch is delivered in the same call (no second task,
    # no second read of the message); this is that batch's outcome.
    delivered: BatchOutcome | None = None


def push_fanout_message(*, message_id: int) -> FanoutOutcome:
    """Split a message's recipients into batches; a single batch is delivered right away."""
    message = fanout.load_message(message_id)
    if message is None or not fanout.wants_push(message):
        return FanoutOutcome(batches=[])
    groups = fanout.batches(fanout.recipients(message))
    if len(groups) == 1:
        return FanoutOutcome(batches=[], delivered=_deliver(message, groups[0]))
    return FanoutOutcome(batches=groups)


def push_deliver_batch(*, message_id: int, user_ids: Sequence[int]) -> BatchOutcome:
    message = fanout.load_message(message_id)
    if message is None:
        return BatchOutcome(user_ids=list(user_ids), deferred=False, retries=[], sent=0)
    return _deliver(message, user_ids)


def _deliver(message: PushMessage, batch: Sequence[int]) -> BatchOutcome:
    user_ids = list(batch)
    # One read of the app's push settings for the batch: templates and mobile rule, and its rate.
    settings = fanout.settings_for(message.app_id)
    planned = fanout.plan(message, user_ids, settings=settings)
    if not planned:
        return BatchOutcome(user_ids=user_ids, deferred=False, retries=[], sent=0)
    if not fanout.within_rate(message.app_id, len(planned), settings=settings):
        return BatchOutcome(user_ids=user_ids, deferred=True, retries=[], sent=0)
    with transaction.atomic():
        claimed = fanout.reserve(message, planned)
    outcomes = fanout.send_claimed(claimed, message.app_id)
    retries = [
        (attempt.pk, fanout.retry_delay(attempt.attempts, result.retry_after))
        for attempt, result in outcomes
        if attempt.status == AttemptStatus.RETRY
    ]
    return BatchOutcome(user_ids=user_ids, deferred=False, retries=retries, sent=len(outcomes))


def push_retry_attempt(*, attempt_id: int) -> float | None:
    """Send one attempt again; returns the next delay if it must be retried once more."""
    moved = PushAttempt.objects.filter(pk=attempt_id, status=AttemptStatus.RETRY).update(
        status=AttemptStatus.SENDING, updated_at=timezone.now()
    )
    if not moved:
        return None  # delivered, given up, or taken by another worker
    attempt = PushAttempt.objects.select_related("device").get(pk=attempt_id)
    message = fanout.load_message(attempt.message_id)
    if message is None or attempt.device is None:
        PushAttempt.objects.filter(pk=attempt_id).update(
            status=AttemptStatus.FAILED, detail="device or message gone"
        )
        return None
    planned = [p for p in fanout.plan(message, [attempt.device.user_id]) if p.device.pk == attempt.device_id]
    if not planned:
        PushAttempt.objects.filter(pk=attempt_id).update(
            status=AttemptStatus.FAILED, detail="no longer wanted"
        )
        return None
    [(attempt, result)] = fanout.send_claimed([(attempt, planned[0])], message.app_id)
    if attempt.status == AttemptStatus.RETRY:
        return fanout.retry_delay(attempt.attempts, result.retry_after)
    return None


STUCK_AFTER_SECONDS = 300


def push_sweep() -> list[int]:
    """Attempts a worker claimed and never finished (it died mid-send): make them retryable.

    Returns their ids for the caller to schedule. A crash between the provider's answer and the
    record may, at worst, notify that device once more; nothing is silently dropped.
    """
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(seconds=STUCK_AFTER_SECONDS)
    stuck = list(
        PushAttempt.objects.filter(status=AttemptStatus.SENDING, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    PushAttempt.objects.filter(pk__in=stuck, status=AttemptStatus.SENDING).update(status=AttemptStatus.RETRY)
    return stuck
