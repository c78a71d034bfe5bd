from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from apps.push.delivery import push_apps_forget


def pytest_report_header() -> list[str]:
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"imcloud services: database={db} channel_layer={layer} broker={settings.CELERY_BROKER_URL}"]


@pytest.fixture(autouse=True)
def _fresh_push_apps_cache() -> Iterator[None]:
    # Per-process cache of which apps have push credentials: ids repeat across tests on SQLite.
    push_apps_forget()
    yield
    push_apps_forget()
