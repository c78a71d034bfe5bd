"""Sending one delivery: claim it, POST it signed, record the answer, decide what comes next.

Two workers never send the same delivery at once: an attempt first claims the row with one
conditional UPDATE (pending, due, and not leased to another worker) that sets a lease, and only the
holder of the lease records the outcome. A delivered delivery is never claimed again. A worker that
dies mid-send leaves a lease that runs out, after which the sweeper sends the delivery again.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.webhooks import conf, http
from apps.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent
from apps.webhooks.selectors import webhook_config_for
from apps.webhooks.signing import sign_headers

logger = logging.getLogger(__name__)

# A task may run this much before its delivery's due time (clocks of two machines) and still send.
CLOCK_TOLERANCE = timedelta(seconds=1)
# Answers after which Retry-After is honoured.
RETRY_AFTER_STATUSES = {429, 503}
TURNED_OFF = "Webhooks are turned off for this app."


@dataclass(frozen=True)
class AttemptOutcome:
    status: Literal["skipped", "delivered", "retry", "failed"]
    # For "retry": seconds until the next attempt is due.
    retry_in: float = 0.0


def event_body(event: WebhookEvent, *, app_key: str) -> bytes:
    """The exact bytes POSTed for an event (the same on every attempt)."""
    envelope = {
        "event_id": str(event.id),
        "type": event.type,
        "app_key": app_key,
        "created_at": int(event.created_at.timestamp() * 1000),
        "data": event.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def retry_delay(*, attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: the schedule's step, stretched
    by jitter, and never less than what the receiver asked for in Retry-After (within the cap)."""
    schedule = conf.backoff_schedule()
    base = schedule[min(max(attempts, 1), len(schedule)) - 1]
    delay = base * (1 + random.random() * conf.number("WEBHOOK_BACKOFF_JITTER"))  # noqa: S311 - jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, conf.number("WEBHOOK_RETRY_AFTER_MAX")))
    return delay


def _lease_free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def _give_up_turned_off(delivery: WebhookDelivery, now: datetime) -> AttemptOutcome:
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).filter(
        _lease_free(now)
    ).update(status=DeliveryStatus.FAILED, last_error=TURNED_OFF, lease_token=None, lease_until=None)
    return AttemptOutcome("failed")


def delivery_attempt(*, delivery_id: int) -> AttemptOutcome:
    """Make one attempt at a delivery if it is pending, due and not held by another worker."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_related("event", "app").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return AttemptOutcome("skipped")
    app = delivery.app
    if not app.webhook_url or not webhook_config_for(app=app).enabled:
        return _give_up_turned_off(delivery, now)
    timeout = conf.number("WEBHOOK_TIMEOUT")
    token = uuid.uuid4()
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.PENDING, next_attempt_at__lte=now + CLOCK_TOLERANCE
        )
        .filter(_lease_free(now))
        .update(
            lease_token=token,
            lease_until=now + timedelta(seconds=timeout + conf.number("WEBHOOK_LEASE_MARGIN")),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
            url=app.webhook_url,
        )
    )
    if not claimed:
        return AttemptOutcome("skipped")
    attempts, expires_at = WebhookDelivery.objects.values_list("attempts", "expires_at").get(pk=delivery.pk)
    event = delivery.event
    try:
        body = event_body(event, app_key=app.app_key)
        headers = sign_headers(
            app_key=app.app_key, secret=app.secret, body=body, event_id=str(event.id), event_type=event.type
        )
    except Exception:  # e.g. a secret that no longer decrypts: an attempt that failed, retried as any
        logger.exception("webhook signing failed", extra={"delivery_id": delivery.pk})
        result = http.PostResult(status=None, error="internal error: the event could not be signed")
    else:
        result = http.post(url=app.webhook_url, body=body, headers=headers, timeout=timeout)
    return _record(
        delivery, token=token, attempts=attempts, expires_at=expires_at, started=now, result=result
    )


def _record(
    delivery: WebhookDelivery,
    *,
    token: uuid.UUID,
    attempts: int,
    expires_at: datetime,
    started: datetime,
    result: http.PostResult,
) -> AttemptOutcome:
    now = timezone.now()
    error = result.error or ("" if result.ok else f"HTTP {result.status}")
    fields: dict[str, object] = {
        "last_status_code": result.status,
        "last_error": error[:500],
        "last_response": result.body.decode("utf-8", "replace")[: conf.integer("WEBHOOK_RESPONSE_MAX")],
        "lease_token": None,
        "lease_until": None,
    }
    outcome: AttemptOutcome
    if result.ok:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
        outcome = AttemptOutcome("delivered")
    elif now >= expires_at:
        fields.update(status=DeliveryStatus.FAILED)
        outcome = AttemptOutcome("failed")
    else:
        retry_after = (
            parse_retry_after(result.headers.get("retry-after"), now=now)
            if result.status in RETRY_AFTER_STATUSES
            else None
        )
        due = min(
            now + timedelta(seconds=retry_delay(attempts=attempts, retry_after=retry_after)), expires_at
        )
        fields.update(next_attempt_at=due, swept_at=None)
        outcome = AttemptOutcome("retry", retry_in=(due - now).total_seconds())
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            started_at=started,
            duration_ms=result.duration_ms,
            status_code=result.status,
            error=error[:500],
        )
        recorded = WebhookDelivery.objects.filter(pk=delivery.pk, lease_token=token).update(**fields)
    if not recorded:  # our lease ran out and another worker took over: its record stands
        return AttemptOutcome("skipped")
    logger.info(
        "webhook attempt",
        extra={
            "app_key": delivery.app.app_key,
            "delivery_id": delivery.pk,
            "event_id": str(delivery.event_id),
            "outcome": outcome.status,
            "status_code": result.status,
            "attempts": attempts,
        },
    )
    return outcome


def deliveries_to_sweep(*, now: datetime | None = None) -> list[int]:
    """Pending deliveries overdue by more than the grace, not held by a worker and not swept
    recently: their task was lost (or they wait longer than a countdown is trusted with).
    Marks them swept and returns their ids, oldest due first."""
    now = now or timezone.now()
    grace = timedelta(seconds=conf.number("WEBHOOK_SWEEP_GRACE"))
    repeat = timedelta(seconds=conf.number("WEBHOOK_SWEEP_REPEAT"))
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now - grace)
        .filter(_lease_free(now))
        .filter(Q(swept_at__isnull=True) | Q(swept_at__lte=now - repeat))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[: conf.integer("WEBHOOK_SWEEP_BATCH")]
    )
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids).update(swept_at=now)
    return ids


def prune_log(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete events older than the log's retention, with their deliveries and attempts, once none
    of their deliveries is pending. Returns how many events went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=conf.number("WEBHOOK_LOG_DAYS"))
    ids = list(
        WebhookEvent.objects.filter(created_at__lt=cutoff)
        .exclude(deliveries__status=DeliveryStatus.PENDING)
        .values_list("pk", flat=True)[:batch]
    )
    if ids:
        WebhookEvent.objects.filter(pk__in=ids).delete()
    return len(ids)
