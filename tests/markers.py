"""Markers for tests that need the real services. In CI (IMCLOUD_REQUIRE_SERVICES=1) the suite
refuses to start without PostgreSQL and Redis, so these can never skip there."""

from __future__ import annotations

import pytest
from django.conf import settings

USING_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
USING_SERVICES = USING_POSTGRES and bool(settings.REDIS_URL)

requires_postgres = pytest.mark.skipif(
    not USING_POSTGRES,
    reason="concurrent writers need PostgreSQL (the in-memory SQLite test database serialises them)",
)
requires_services = pytest.mark.skipif(
    not USING_SERVICES, reason="PostgreSQL and Redis are not up (CI requires them)"
)
