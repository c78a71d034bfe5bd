"""The gateway's database calls: one connection kept for the process, checked only after an error."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection, connections

from apps.gateway import db as gateway_db
from apps.gateway.db import db
from apps.imusers.models import ImUser
from tests.markers import requires_postgres


def _count_users() -> int:
    return ImUser.objects.count()


@pytest.mark.django_db(transaction=True)
async def test_busy_calls_run_no_health_check_where_channels_runs_one_per_call(monkeypatch: Any) -> None:
    checks: list[int] = []

    def spy_on_health_checks() -> None:
        wrapper: Any = connections["default"]
        wrapper.ensure_connection()
        # As in production: a connection kept (CONN_MAX_AGE) and checked (CONN_HEALTH_CHECKS).
        wrapper.close_at = None
        wrapper.health_check_enabled = True
        original = wrapper.is_usable

        def counted() -> bool:
            checks.append(1)
            return bool(original())

        wrapper.is_usable = counted

    await db(spy_on_health_checks)()
    for _ in range(3):
        assert await db(_count_users)() == 0
    assert checks == []
    # A call after a pause checks first.
    monkeypatch.setattr(gateway_db, "IDLE_CHECK_SECONDS", -1.0)
    await db(_count_users)()
    assert len(checks) == 1
    monkeypatch.setattr(gateway_db, "IDLE_CHECK_SECONDS", 3600.0)
    # Channels' wrapper, on the same thread and connection, checks again before every call.
    await database_sync_to_async(_count_users)()
    await database_sync_to_async(_count_users)()
    assert len(checks) == 3
    await db(lambda: delattr(connections["default"], "is_usable"))()


@requires_postgres
@pytest.mark.django_db(transaction=True)
async def test_a_connection_the_server_dropped_is_replaced_after_the_failed_call() -> None:
    def backend_pid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])

    def dropped_by_the_server() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    before = await db(backend_pid)()
    with pytest.raises(OperationalError):
        await db(dropped_by_the_server)()
    after = await db(backend_pid)()
    assert after != before
    assert await db(_count_users)() == 0
