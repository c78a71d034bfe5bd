from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
LIVE_REDIS = "redis://127.0.0.1:6379/13"


@pytest.fixture
def live_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for server processes started by a test."""
    name = f"imcloud_live_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def live_redis() -> str:
    """Redis for server processes started by a test; stack_env gives each stack its own namespace
    and Celery queue, so concurrent runs share the database without meeting."""
    redis.Redis.from_url(LIVE_REDIS).ping()
    return LIVE_REDIS


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
