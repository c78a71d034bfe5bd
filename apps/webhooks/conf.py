"""Webhook settings: optional keys of ``settings.IMCLOUD``, read at call time with defaults here.

Every key may be absent; tests shrink the delays and timeouts through ``settings.IMCLOUD``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Seconds before the 1st, 2nd, ... retry; the last value repeats until the delivery expires.
    "WEBHOOK_BACKOFF": [10, 30, 60, 300, 900, 1800, 3600],
    # Each delay is stretched by a random 0 to this fraction, so retries of one outage spread out.
    "WEBHOOK_BACKOFF_JITTER": 0.2,
    # Seconds after an event (or a resend) during which it is retried; then the delivery fails.
    "WEBHOOK_MAX_AGE": 24 * 3600,
    # Seconds for one POST: connecting, sending, and waiting for the answer.
    "WEBHOOK_TIMEOUT": 5.0,
    # A Retry-After (429, 503) is honoured up to this many seconds.
    "WEBHOOK_RETRY_AFTER_MAX": 3600,
    # Characters of the receiver's answer kept in the delivery log.
    "WEBHOOK_RESPONSE_MAX": 1000,
    # Seconds a worker holds a delivery while it sends (beyond the POST timeout); a worker that dies
    # mid-send releases it when this runs out, and the sweeper sends it again.
    "WEBHOOK_LEASE_MARGIN": 60,
    # The sweeper re-enqueues pending deliveries overdue by this many seconds ...
    "WEBHOOK_SWEEP_GRACE": 30,
    # ... at most this often per delivery (so a backlogged queue is not flooded with copies) ...
    "WEBHOOK_SWEEP_REPEAT": 300,
    # ... and at most this many per run.
    "WEBHOOK_SWEEP_BATCH": 500,
    # Days the delivery log (events, deliveries, attempts) is kept once nothing is pending.
    "WEBHOOK_LOG_DAYS": 7,
    # Celery queue for deliveries; "" is the default queue.
    "WEBHOOK_QUEUE": "",
    # Whether webhook and callback URLs may point at private, loopback or link-local addresses.
    # Off in production (a hosted service must not be made to call its own network); tests and
    # local development turn it on.
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False,
}


def _get(name: str) -> Any:
    return settings.IMCLOUD.get(name, DEFAULTS[name])


def backoff_schedule() -> list[float]:
    value = _get("WEBHOOK_BACKOFF")
    schedule = [float(v) for v in value]
    if not schedule or any(v < 0 for v in schedule):
        raise ValueError("IMCLOUD['WEBHOOK_BACKOFF'] must be a non-empty list of non-negative seconds")
    return schedule


def number(name: str) -> float:
    value = _get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"IMCLOUD[{name!r}] must be a number, not {type(value).__name__}")
    return float(value)


def integer(name: str) -> int:
    value = _get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"IMCLOUD[{name!r}] must be an int, not {type(value).__name__}")
    return int(value)


def text(name: str) -> str:
    value = _get(name)
    if not isinstance(value, str):
        raise TypeError(f"IMCLOUD[{name!r}] must be a str, not {type(value).__name__}")
    return value


def flag(name: str) -> bool:
    return bool(_get(name))
