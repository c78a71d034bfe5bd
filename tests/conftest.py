from __future__ import annotations

from django.conf import settings


def pytest_report_header() -> list[str]:
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"imcloud services: database={db} channel_layer={layer} broker={settings.CELERY_BROKER_URL}"]
