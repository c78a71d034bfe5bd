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

import json
import time
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import psycopg
from django.db import connection, models
from psycopg.pq import ExecStatus

TUPLES_OK = ExecStatus.TUPLES_OK


def prepared(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the default connection; the rows it returns (none for a plain write)."""
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        # The result's status, not ``description``: that builds a Column object per column.
        result = cursor.pgresult
        rows = cursor.fetchall() if result is not None and result.status == TUPLES_OK else []
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of a read written in SQL both PostgreSQL and SQLite accept: prepared on PostgreSQL
    (see ``prepared``), through Django's cursor elsewhere (the embedded quick start)."""
    if connection.vendor == "postgresql":
        return prepared(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def id_in(column: str) -> str:
    """``column IN <one parameter holding a list of ids>``: pass the list through ``id_list``.

    One parameter whatever the number of ids, so the statement's text (and its prepared plan) is
    the same for every batch."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])"
    return f"{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608 - a column name from the caller


def id_list(ids: Sequence[int]) -> str:
    return int_array(ids) if connection.vendor == "postgresql" else json.dumps(list(ids))


def table(model: type[models.Model]) -> str:
    """The model's table name, quoted for the database in use."""
    return _quoted(connection.vendor, model._meta.db_table)


def column(model: type[models.Model], name: str) -> str:
    """The column of the model's field ``name``, quoted for the database in use. Memoised: the
    hot-path statements are built from these for every batch."""
    return _column(connection.vendor, model, name)


@cache
def _quoted(vendor: str, name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _column(vendor: str, model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise LookupError(f"{model.__name__}.{name} is not a column")
    return connection.ops.quote_name(field.column)


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers, for a ``%s::bigint[]`` (or ``int[]``) parameter.

    psycopg dumps a list parameter element by element in Python; on the send path that was a
    tenth of a gateway's CPU. ``str.join`` over ``map(str, ...)`` runs in C, and PostgreSQL reads
    the literal as cheaply as psycopg's text dump (``json_to_recordset``, tried instead, cost
    PostgreSQL noticeably more)."""
    return "{" + ",".join(map(str, values)) + "}"


def text_array(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of strings, for a ``%s::text[]`` parameter: every element quoted,
    backslashes and double quotes escaped. (NUL cannot be stored; callers refuse it first.)"""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
