"""Celery tasks for push: each only calls a service in apps/push/delivery.py with ids."""

from __future__ import annotations

from celery import shared_task

from apps.push import delivery

RATE_DEFER_SECONDS = 1


@shared_task(name="push.fanout", ignore_result=True)
def push_fanout(message_ids: list[int]) -> None:
    for message_id in message_ids:
        fanned = delivery.push_fanout_message(message_id=message_id)
        for user_ids in fanned.batches:
            push_deliver.delay(message_id, user_ids)
        if fanned.delivered is not None:
            _follow_up(message_id, fanned.delivered)


@shared_task(name="push.deliver", ignore_result=True)
def push_deliver(message_id: int, user_ids: list[int]) -> None:
    _follow_up(message_id, delivery.push_deliver_batch(message_id=message_id, user_ids=user_ids))


def _follow_up(message_id: int, outcome: delivery.BatchOutcome) -> None:
    if outcome.deferred:
        push_deliver.apply_async((message_id, outcome.user_ids), countdown=RATE_DEFER_SECONDS)
    for attempt_id, delay in outcome.retries:
        push_retry.apply_async((attempt_id,), countdown=delay)


@shared_task(name="push.retry", ignore_result=True)
def push_retry(attempt_id: int) -> None:
    delay = delivery.push_retry_attempt(attempt_id=attempt_id)
    if delay is not None:
        push_retry.apply_async((attempt_id,), countdown=delay)


@shared_task(name="push.sweep", ignore_result=True)
def push_sweep() -> None:
    for attempt_id in delivery.push_sweep():
        push_retry.delay(attempt_id)
