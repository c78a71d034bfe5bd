"""The Celery application: configured from Django settings (CELERY_*), tasks found per app."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcloud.settings")

app = Celery("imcloud")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def _database_housekeeping(**kwargs: Any) -> None:
    """What Django does at the end of a request: close connections older than CONN_MAX_AGE or
    broken by an error, and health-check the others before their next use (settings
    CELERY_DB_REUSE_MAX keeps Celery from closing them after every task)."""
    from django.db import close_old_connections

    close_old_connections()
