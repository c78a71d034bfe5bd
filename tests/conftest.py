from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache


def pytest_report_header() -> list[str]:
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"imcloud services: database={db} channel_layer={layer} broker={settings.CELERY_BROKER_URL}"]


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """Nonces and rate counters live in the cache; no test may see another's."""
    cache.clear()
