"""Fixtures for the SDK tests: the live stack's database and Redis fixtures, shared, not copied."""

from __future__ import annotations

from tests.live.conftest import live_database, live_redis, log_dir

__all__ = ["live_database", "live_redis", "log_dir"]
