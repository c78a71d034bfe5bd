"""A developer sees and touches only their own apps: every page of someone else's app is a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Developer
from apps.tenants.models import App, MultiDevicePolicy
from tests.factories import AppFactory, DeveloperFactory

pytestmark = pytest.mark.django_db

APP_PAGES = [
    "app_detail",
    "app_secret",
    "app_rotate",
    "app_rename",
    "app_settings",
    "app_dashboard",
    "app_delete",
    "app_sdk",
    "app_sdk_python",
    "app_sdk_typescript",
]


@pytest.fixture
def other_app(db: None) -> App:
    """Developer A's app, never reachable by the signed-in developer B."""
    app: App = AppFactory(owner=DeveloperFactory(), name="A's app")
    return app


def _would_succeed(app: App) -> dict[str, str]:
    """Data that every app form would accept, so a missing ownership check would show."""
    return {
        "name": "Hijacked",
        "confirm_name": app.name,
        "confirm": "on",
        "multi_device_policy": MultiDevicePolicy.SINGLE,
        "webhook_url": "https://attacker.example.com/hook",
        "message_retention_days": "1",
        "api_rate_limit": "1",
    }


@pytest.mark.parametrize("name", APP_PAGES)
def test_get_of_another_developers_app_is_404(console: Client, other_app: App, name: str) -> None:
    response = console.get(reverse(f"console:{name}", args=[other_app.app_key]))

    assert response.status_code == 404
    assert other_app.secret not in response.content.decode()


@pytest.mark.parametrize("name", APP_PAGES)
def test_post_to_another_developers_app_is_404_and_changes_nothing(
    console: Client, other_app: App, name: str
) -> None:
    ciphertext = other_app.secret_ciphertext

    response = console.post(reverse(f"console:{name}", args=[other_app.app_key]), _would_succeed(other_app))

    assert response.status_code == 404
    assert other_app.secret not in response.content.decode()
    refreshed = App.objects.get(pk=other_app.pk)
    assert refreshed.name == "A's app"
    assert refreshed.secret_ciphertext == ciphertext
    assert refreshed.multi_device_policy == MultiDevicePolicy.ALL
    assert refreshed.api_rate_limit is None


@pytest.mark.parametrize("name", APP_PAGES)
def test_unknown_app_key_is_404(console: Client, name: str) -> None:
    response = console.get(reverse(f"console:{name}", args=["0" * 32]))

    assert response.status_code == 404


@pytest.mark.parametrize("name", APP_PAGES)
def test_anonymous_visitors_are_sent_to_login(client: Client, other_app: App, name: str) -> None:
    response = client.post(reverse(f"console:{name}", args=[other_app.app_key]), _would_succeed(other_app))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))
    assert App.objects.get(pk=other_app.pk).name == "A's app"


def test_app_list_shows_only_own_apps(console: Client, developer: Developer, other_app: App) -> None:
    own = AppFactory(owner=developer)

    response = console.get(reverse("console:app_list"))

    assert list(response.context["apps"]) == [own]
    assert other_app.app_key not in response.content.decode()
