"""The app dashboard and the selectors behind its figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Developer
from apps.console.selectors import UserFigures, dashboard_newest_users, dashboard_user_figures
from apps.imusers.models import ImUser
from apps.tenants.models import App, MultiDevicePolicy
from tests.factories import AppFactory, ImUserFactory

pytestmark = pytest.mark.django_db


def _user_created_ago(app: App, age: timedelta, **fields: object) -> ImUser:
    with time_machine.travel(timezone.now() - age, tick=False):
        user: ImUser = ImUserFactory(app=app, **fields)
    return user


@pytest.fixture
def populated(app: App) -> App:
    """Two users today (one blocked), one 3 days old, one 10 days old (blocked), and noise elsewhere."""
    _user_created_ago(app, timedelta(hours=1), accid="today-a")
    _user_created_ago(app, timedelta(hours=2), accid="today-b", is_blocked=True)
    _user_created_ago(app, timedelta(days=3), accid="three-days")
    _user_created_ago(app, timedelta(days=10), accid="ten-days", is_blocked=True)
    ImUserFactory.create_batch(3, app=AppFactory(), is_blocked=True)
    return app


def test_user_figures_count_only_this_app(populated: App) -> None:
    figures = dashboard_user_figures(app=populated)

    assert figures == UserFigures(total=4, blocked=2, created_last_24h=2, created_last_7d=3)


def test_user_figures_of_an_empty_app_are_zero(app: App) -> None:
    assert dashboard_user_figures(app=app) == UserFigures(0, 0, 0, 0)


def test_newest_users_are_the_ten_latest_of_this_app(app: App) -> None:
    accids = [_user_created_ago(app, timedelta(minutes=60 - i), accid=f"u{i:02d}").accid for i in range(12)]
    ImUserFactory(app=AppFactory(), accid="elsewhere")

    newest = dashboard_newest_users(app=app)

    assert [user.accid for user in newest] == accids[::-1][:10]


def test_dashboard_page_shows_the_figures(console: Client, populated: App) -> None:
    response = console.get(reverse("console:app_dashboard", args=[populated.app_key]))

    content = response.content.decode()
    assert response.status_code == 200
    assert response.context["figures"] == UserFigures(
        total=4, blocked=2, created_last_24h=2, created_last_7d=3
    )
    assert '<dd id="stat-total">4</dd>' in content
    assert '<dd id="stat-blocked">2</dd>' in content
    assert '<dd id="stat-24h">2</dd>' in content
    assert '<dd id="stat-7d">3</dd>' in content
    assert [user.accid for user in response.context["newest_users"]] == [
        "today-a",
        "today-b",
        "three-days",
        "ten-days",
    ]
    assert "<code>ten-days</code>" in content
    assert "blocked" in content


def test_dashboard_shows_the_default_rate_limit_and_policy(console: Client, app: App) -> None:
    content = console.get(reverse("console:app_dashboard", args=[app.app_key])).content.decode()

    assert '<dd id="rate-limit">100 requests per second (service default)</dd>' in content
    assert '<dd id="multi-device">All devices (up to 10)</dd>' in content


def test_dashboard_shows_an_own_rate_limit_and_policy(console: Client, developer: Developer) -> None:
    app = AppFactory(owner=developer, api_rate_limit=25, multi_device_policy=MultiDevicePolicy.SINGLE)

    content = console.get(reverse("console:app_dashboard", args=[app.app_key])).content.decode()

    assert '<dd id="rate-limit">25 requests per second</dd>' in content
    assert '<dd id="multi-device">One device at a time</dd>' in content
