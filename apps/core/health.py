"""Readiness of the parts the service needs: the database, the channel layer and the broker."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from apps.core.conf import setting_int

logger = logging.getLogger(__name__)


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # This runs on a worker thread; do not leave its connection behind.
        connection.close()


async def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError(f"unexpected message {message!r}")


def _check_broker() -> None:
    from imcloud.celery import app

    timeout = setting_int("HEALTH_TIMEOUT")
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)


def _backend_name(component: str) -> str:
    if component == "database":
        return str(settings.DATABASES["default"]["ENGINE"]).rsplit(".", 1)[-1]
    if component == "channel_layer":
        return str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).rsplit(".", 1)[-1]
    return str(settings.CELERY_BROKER_URL).split("://", 1)[0]


async def _run(component: str, check: Any) -> dict[str, Any]:
    started = time.monotonic()
    timeout = setting_int("HEALTH_TIMEOUT")
    error: str | None
    try:
        if asyncio.iscoroutinefunction(check):
            await asyncio.wait_for(check(), timeout)
        else:
            await asyncio.wait_for(sync_to_async(check, thread_sensitive=False)(), timeout)
    except Exception as exc:  # a health probe reports every failure, whatever its type
        logger.warning("health check failed", extra={"component": component, "error": repr(exc)})
        status, error = "down", f"{type(exc).__name__}: {exc}"
    else:
        status, error = "ok", None
    result: dict[str, Any] = {
        "status": status,
        "backend": _backend_name(component),
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }
    if error:
        result["error"] = error[:300]
    return result


async def health_report() -> dict[str, Any]:
    """Check every component concurrently; the overall status is ok only if all are."""
    names = ("database", "channel_layer", "broker")
    checks = (_check_database, _check_channel_layer, _check_broker)
    results = await asyncio.gather(*(_run(n, c) for n, c in zip(names, checks, strict=True)))
    components = dict(zip(names, results, strict=True))
    overall = "ok" if all(r["status"] == "ok" for r in results) else "down"
    return {"status": overall, "components": components}
