"""Fixed set-based statements on PostgreSQL, prepared once per connection.

For the hot paths (a gateway's batch of sends, a push worker's batch of attempts) whose statements
have a fixed text with arrays as parameters: server-side binding, so the arrays travel as
parameters instead of being quoted into the SQL text by the client, and ``prepare=True``, so
PostgreSQL parses and plans each statement once per connection, not once per batch. (A
transaction-pooling proxy in front of PostgreSQL must support prepared statements, as PgBouncer
does since 1.21; docs/operations.md.) Errors are Django's, and the statements appear in Django's
query log (DEBUG, ``CaptureQueriesContext``) like any other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection


def prepared(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the default connection; the rows it returns (none for a plain write)."""
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall() if cursor.description is not None else []
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows
