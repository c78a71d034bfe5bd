from __future__ import annotations

import pytest
import time_machine

from tests.factories import AppFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db


def test_requests_over_the_app_limit_get_429_with_retry_after():
    client = SignedClient(AppFactory(api_rate_limit=2))
    with time_machine.travel(1_900_000_000.25, tick=False):
        statuses = [client.get("/api/v1/users").status_code for _ in range(3)]
        refused = client.get("/api/v1/users")
    assert statuses == [200, 200, 429]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert refused.json()["code"] == "rate_limited"


def test_the_limit_resets_in_the_next_second():
    client = SignedClient(AppFactory(api_rate_limit=1))
    with time_machine.travel(1_900_000_000.5, tick=False):
        first = [client.get("/api/v1/users").status_code for _ in range(2)]
    with time_machine.travel(1_900_000_001.5, tick=False):
        later = client.get("/api/v1/users").status_code
    assert first == [200, 429]
    assert later == 200


def test_one_app_at_its_limit_does_not_limit_another():
    busy, quiet = SignedClient(AppFactory(api_rate_limit=1)), SignedClient(AppFactory(api_rate_limit=1))
    with time_machine.travel(1_900_000_000.5, tick=False):
        busy_statuses = [busy.get("/api/v1/users").status_code for _ in range(2)]
        quiet_status = quiet.get("/api/v1/users").status_code
    assert busy_statuses == [200, 429]
    assert quiet_status == 200


def test_the_default_limit_applies_when_the_app_sets_none(settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "API_RATE_LIMIT_DEFAULT": 2}
    client = SignedClient(AppFactory(api_rate_limit=None))
    with time_machine.travel(1_900_000_000.5, tick=False):
        statuses = [client.get("/api/v1/users").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
