"""Per-app rate limit on the server API: a fixed one-second window counted in the cache."""

from __future__ import annotations

import time
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.core.ratelimit import count_in_second
from apps.tenants.models import App


def _now() -> float:
    return time.time()


class AppRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        app = request.auth
        if not isinstance(app, App):
            return True
        now = _now()
        second = int(now)
        count = count_in_second(f"api-rate:{app.app_key}", second=second)
        self._wait = (second + 1) - now
        return count <= app.effective_api_rate_limit

    def wait(self) -> float | None:
        return getattr(self, "_wait", 1.0)
