"""The Celery app's database handling: a worker keeps its connection from task to task (Celery's
Django fix-up would open a new PostgreSQL backend for every task) and still drops a broken one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from imcloud.celery import _database_housekeeping
from imcloud.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)


def _run_task_hooks(fixup: DjangoWorkerFixup) -> None:
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    fixup.on_task_prerun(sender=task)
    fixup.on_task_postrun(sender=task)
    _database_housekeeping()


def test_a_worker_keeps_its_database_connection_across_tasks() -> None:
    fixup = DjangoWorkerFixup(celery_app)
    connection.ensure_connection()
    connection.close_at = None  # CONN_MAX_AGE as in production (the test settings use 0)
    raw = connection.connection
    for _ in range(3):
        _run_task_hooks(fixup)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert connection.connection is raw


def test_a_connection_broken_during_a_task_is_replaced_by_the_next() -> None:
    fixup = DjangoWorkerFixup(celery_app)
    connection.ensure_connection()
    connection.close_at = None
    raw = connection.connection
    raw.close()  # the server went away mid-task; Django notices on the next query
    connection.errors_occurred = True
    _run_task_hooks(fixup)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.connection is not raw
