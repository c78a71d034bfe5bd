"""Celery tasks: send a delivery, and sweep up deliveries whose task was lost.

The database is the source of truth, the broker only a doorbell: ``deliver_webhook`` is enqueued on
commit (and again, with a countdown, after a failed attempt), and ``webhook_sweep`` (run every
minute by Celery beat, see docs/webhooks.md) re-enqueues pending deliveries that are overdue. Any
number of copies of a delivery's task may run: only one attempt is made per due time.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from apps.webhooks import conf
from apps.webhooks.delivery import deliveries_to_sweep, delivery_attempt, prune_log

logger = logging.getLogger(__name__)

# Waits longer than this are left to the sweeper rather than held by a worker as an ETA task
# (Redis redelivers unacknowledged messages after its one-hour visibility timeout).
COUNTDOWN_MAX = 900.0
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def enqueue_delivery(delivery_id: int, *, countdown: float = 0.0) -> None:
    """Ask a worker to attempt the delivery (after ``countdown`` seconds). Never raises: a lost
    enqueue is found again by the sweeper."""
    if countdown > COUNTDOWN_MAX:
        return
    options: dict[str, Any] = {"retry": True, "retry_policy": RETRY_POLICY}
    if countdown > 0:
        options["countdown"] = countdown
    queue = conf.text("WEBHOOK_QUEUE")
    if queue:
        options["queue"] = queue
    try:
        deliver_webhook.apply_async(args=(delivery_id,), **options)
    except Exception:  # the broker is down: the sweeper re-enqueues it later
        logger.warning("webhook enqueue failed", extra={"delivery_id": delivery_id}, exc_info=True)


@shared_task(name="webhooks.deliver", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome.status == "retry":
        enqueue_delivery(delivery_id, countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="webhooks.sweep", ignore_result=True)
def webhook_sweep() -> int:
    """Re-enqueue overdue pending deliveries and prune the old log; returns how many were enqueued."""
    ids = deliveries_to_sweep()
    for delivery_id in ids:
        enqueue_delivery(delivery_id)
    pruned = prune_log()
    if ids or pruned:
        logger.info("webhook sweep", extra={"enqueued": len(ids), "pruned_events": pruned})
    return len(ids)
