"""The gateway's way to the database: every call on the one database thread of the process.

Channels' ``database_sync_to_async`` closes obsolete connections before and after every call,
and with ``conn_health_checks`` that makes the next query run a ``SELECT 1`` first: one more
round trip for every batch of sends, every login, every sync. Here Django's per-request
housekeeping (``close_if_unusable_or_obsolete``: the health check, ``CONN_MAX_AGE``) runs only
before a call that follows a pause of more than ``IDLE_CHECK_SECONDS``, and after a call that
failed on the database; a busy process keeps its connection and pays no check. A connection
PostgreSQL drops while the process is busy fails the call that meets it (a send batch is retried
once, apps/gateway/batching.py) and is replaced by the next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar
from weakref import WeakKeyDictionary

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")

IDLE_CHECK_SECONDS = 1.0
_last_used: WeakKeyDictionary[Any, float] = WeakKeyDictionary()


def _before_call() -> None:
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if now - _last_used.get(conn, 0.0) > IDLE_CHECK_SECONDS:
            conn.close_if_unusable_or_obsolete()


def _after_call() -> None:
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.errors_occurred:
            conn.close_if_unusable_or_obsolete()
        elif conn.close_at is not None and now >= conn.close_at and not conn.in_atomic_block:
            conn.close()  # CONN_MAX_AGE, for a process that never pauses
        _last_used[conn] = now


def _on_db_thread(fn: Callable[P, R]) -> Callable[P, R]:
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        _before_call()
        try:
            return fn(*args, **kwargs)
        finally:
            _after_call()

    return call


def db(fn: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """``await db(fn)(...)``: run ``fn`` on the process's database thread (thread-sensitive, as
    Django's connections are per thread)."""
    return sync_to_async(_on_db_thread(fn), thread_sensitive=True)
