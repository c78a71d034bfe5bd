"""Array literals and fixed statements (apps/core/sql.py) read back by PostgreSQL as they were."""

from __future__ import annotations

import pytest

from apps.core.sql import id_in, id_list, int_array, prepared, text_array
from tests.markers import requires_postgres

pytestmark = pytest.mark.django_db

AWKWARD = [
    "",
    "NULL",
    "null",
    "plain",
    'say "hi"',
    "back\\slash",
    "{braces}",
    "a,b",
    " spaced ",
    "é中文😀",
    '\\"',
    "}{",
]


@requires_postgres
def test_text_array_literals_come_back_as_the_same_strings() -> None:
    [(values,)] = prepared("SELECT %s::text[]", [text_array(AWKWARD)])
    assert values == AWKWARD


@requires_postgres
def test_int_array_literals_come_back_as_the_same_numbers() -> None:
    numbers = [0, -1, 1, 2**62, -(2**62)]
    [(values, empty)] = prepared("SELECT %s::bigint[], %s::bigint[]", [int_array(numbers), int_array([])])
    assert (values, empty) == (numbers, [])


def test_an_id_list_filter_keeps_the_ids_asked_for() -> None:
    from django.db import connection

    from apps.core.sql import fetch

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE ids_probe (n bigint)")
        cursor.executemany("INSERT INTO ids_probe (n) VALUES (%s)", [(n,) for n in range(10)])
    rows = fetch(f"SELECT n FROM ids_probe WHERE {id_in('n')} ORDER BY n", [id_list([2, 3, 7, 42])])  # noqa: S608
    assert [n for (n,) in rows] == [2, 3, 7]
