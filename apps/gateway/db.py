"""The gateway's way to the database: every call on the one database thread of the process.

Channels' ``database_sync_to_async`` closes obsolete connections before and after every call,
and with ``conn_health_checks`` that makes the next query run a ``SELECT 1`` first: one more
round trip for every batch of sends, every login, every sync. A gateway process keeps its
connection for its whole life instead, and checks it only after an error, when Django has
marked it (``errors_occurred``); one that fails the check is closed and the next call reconnects.
``CONN_MAX_AGE`` still retires it once it is older than that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def _after_call() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.errors_occurred:
            conn.close_if_unusable_or_obsolete()
        elif conn.close_at is not None and time.monotonic() >= conn.close_at and not conn.in_atomic_block:
            conn.close()


def _on_db_thread(fn: Callable[P, R]) -> Callable[P, R]:
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            _after_call()

    return call


def db(fn: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """``await db(fn)(...)``: run ``fn`` on the process's database thread (thread-sensitive, as
    Django's connections are per thread)."""
    return sync_to_async(_on_db_thread(fn), thread_sensitive=True)
