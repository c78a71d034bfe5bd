"""Markers for tests that need the real services. In CI (IMCLOUD_REQUIRE_SERVICES=1) the suite
refuses to start without PostgreSQL and Redis, so these can never skip there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

USING_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
USING_SERVICES = USING_POSTGRES and bool(settings.REDIS_URL)

requires_postgres = pytest.mark.skipif(
    not USING_POSTGRES,
    reason="needs PostgreSQL: concurrent writers (the in-memory SQLite test database serialises them) "
    "or PostgreSQL's own SQL and statistics; CI requires it",
)
requires_services = pytest.mark.skipif(
    not USING_SERVICES, reason="PostgreSQL and Redis are not up (CI requires them)"
)

# Browser tests drive Debian's Chromium (.ci/run installs it). Without it they skip on a developer's
# machine, but never in CI, where IMCLOUD_REQUIRE_SERVICES=1 lets the missing browser fail them.
CHROMIUM = "/usr/bin/chromium"
_REQUIRED = os.environ.get("IMCLOUD_REQUIRE_SERVICES", "") in {"1", "true", "yes"}
requires_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not _REQUIRED,
    reason=f"{CHROMIUM} is not installed (apt-get install chromium; CI requires it)",
)
