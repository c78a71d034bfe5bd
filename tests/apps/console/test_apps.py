"""Creating, renaming, configuring and deleting apps; showing and rotating the AppSecret."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Developer
from apps.tenants import limits
from apps.tenants.models import App, MultiDevicePolicy
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db


def test_app_pages_require_login(client: Client, app: App) -> None:
    response = client.get(reverse("console:app_detail", args=[app.app_key]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login") + "?next=")


def test_app_list_shows_own_apps_and_the_create_form(console: Client, developer: Developer) -> None:
    first = AppFactory(owner=developer, name="First app")
    second = AppFactory(owner=developer, name="Second app")

    response = console.get(reverse("console:app_list"))

    assert response.status_code == 200
    assert list(response.context["apps"]) == [first, second]
    content = response.content.decode()
    assert first.app_key in content
    assert "Second app" in content
    assert f'action="{reverse("console:app_create")}"' in content


def test_create_app_redirects_to_its_page(console: Client, developer: Developer) -> None:
    response = console.post(reverse("console:app_create"), {"name": "  My chat  "})

    app = App.objects.get(owner=developer)
    assert app.name == "My chat"
    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_detail", args=[app.app_key])
    assert "My chat" in console.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("x" * (limits.APP_NAME_MAX_LENGTH + 1), "Ensure this value has at most 64 characters"),
    ],
)
def test_create_app_with_a_bad_name_rerenders_with_the_error(
    console: Client, developer: Developer, name: str, message: str
) -> None:
    response = console.post(reverse("console:app_create"), {"name": name})

    assert response.status_code == 200
    assert message in response.context["form"].errors["name"][0]
    assert not App.objects.filter(owner=developer).exists()


def test_create_app_beyond_the_cap_shows_the_service_error(console: Client, developer: Developer) -> None:
    AppFactory.create_batch(limits.MAX_APPS_PER_DEVELOPER, owner=developer)

    response = console.post(reverse("console:app_create"), {"name": "One too many"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"A developer may own at most {limits.MAX_APPS_PER_DEVELOPER} apps."
    ]
    assert App.objects.filter(owner=developer).count() == limits.MAX_APPS_PER_DEVELOPER


def test_detail_shows_key_links_and_a_signed_curl_example(console: Client, app: App) -> None:
    response = console.get(reverse("console:app_detail", args=[app.app_key]))

    content = response.content.decode()
    assert response.status_code == 200
    assert app.app_key in content
    assert f"APP_KEY={app.app_key}" in content
    assert "$APP_SECRET$NONCE$CURTIME" in content
    assert "http://testserver/api/v1/users?limit=10" in content
    for name in ("app_rename", "app_settings", "app_dashboard", "app_delete"):
        assert reverse(f"console:{name}", args=[app.app_key]) in content


def test_detail_get_never_contains_the_secret(console: Client, app: App) -> None:
    response = console.get(reverse("console:app_detail", args=[app.app_key]))

    assert response.status_code == 200
    assert app.secret not in response.content.decode()
    assert f'action="{reverse("console:app_secret", args=[app.app_key])}"' in response.content.decode()


def test_show_secret_by_post_reveals_it_without_caching(console: Client, app: App) -> None:
    response = console.post(reverse("console:app_secret", args=[app.app_key]))

    assert response.status_code == 200
    assert app.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_show_secret_by_get_is_refused(console: Client, app: App) -> None:
    response = console.get(reverse("console:app_secret", args=[app.app_key]))

    assert response.status_code == 405
    assert app.secret not in response.content.decode()


def test_rotate_replaces_the_secret_and_shows_the_new_one_once(console: Client, app: App) -> None:
    old_secret = app.secret

    response = console.post(reverse("console:app_rotate", args=[app.app_key]), {"confirm": "on"})

    app.refresh_from_db()
    content = response.content.decode()
    assert response.status_code == 200
    assert app.secret != old_secret
    assert app.secret in content
    assert old_secret not in content
    assert "stopped working at once" in content
    assert "no-store" in response["Cache-Control"]
    assert app.secret not in console.get(reverse("console:app_detail", args=[app.app_key])).content.decode()


def test_rotate_without_confirmation_keeps_the_secret(console: Client, app: App) -> None:
    old_secret = app.secret

    response = console.post(reverse("console:app_rotate", args=[app.app_key]))

    app.refresh_from_db()
    assert response.status_code == 200
    assert app.secret == old_secret
    assert response.context["rotate_form"].errors["confirm"]
    assert old_secret not in response.content.decode()


def test_rename_form_shows_the_current_name(console: Client, app: App) -> None:
    response = console.get(reverse("console:app_rename", args=[app.app_key]))

    assert response.status_code == 200
    assert 'value="Chat Demo"' in response.content.decode()


def test_rename_saves_and_redirects(console: Client, app: App) -> None:
    response = console.post(reverse("console:app_rename", args=[app.app_key]), {"name": "Renamed"})

    app.refresh_from_db()
    assert app.name == "Renamed"
    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_detail", args=[app.app_key])


def test_rename_to_blank_rerenders_with_the_error(console: Client, app: App) -> None:
    response = console.post(reverse("console:app_rename", args=[app.app_key]), {"name": "   "})

    app.refresh_from_db()
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["This field is required."]
    assert app.name == "Chat Demo"


def test_settings_form_shows_current_values_and_the_default_rate_limit(console: Client, app: App) -> None:
    response = console.get(reverse("console:app_settings", args=[app.app_key]))

    content = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"].initial["message_retention_days"] == app.message_retention_days
    assert "Leave blank for the default of 100 per second." in content
    assert f"1 to {limits.RETENTION_DAYS_MAX} days" in content
    assert 'type="radio"' in content


def test_settings_saves_valid_values(console: Client, app: App) -> None:
    response = console.post(
        reverse("console:app_settings", args=[app.app_key]),
        {
            "multi_device_policy": MultiDevicePolicy.SINGLE,
            "webhook_url": "https://hooks.example.com/im",
            "message_retention_days": "365",
            "api_rate_limit": "250",
        },
    )

    app.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_settings", args=[app.app_key])
    assert app.multi_device_policy == MultiDevicePolicy.SINGLE
    assert app.webhook_url == "https://hooks.example.com/im"
    assert app.message_retention_days == 365
    assert app.api_rate_limit == 250


def test_settings_blank_rate_limit_and_webhook_mean_default_and_off(
    console: Client, developer: Developer
) -> None:
    app = AppFactory(owner=developer, api_rate_limit=50, webhook_url="https://old.example.com")

    console.post(
        reverse("console:app_settings", args=[app.app_key]),
        {
            "multi_device_policy": MultiDevicePolicy.DESKTOP_MOBILE,
            "webhook_url": "",
            "message_retention_days": "30",
            "api_rate_limit": "",
        },
    )

    app.refresh_from_db()
    assert app.api_rate_limit is None
    assert app.webhook_url == ""
    assert app.multi_device_policy == MultiDevicePolicy.DESKTOP_MOBILE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message_retention_days", "0"),
        ("message_retention_days", str(limits.RETENTION_DAYS_MAX + 1)),
        ("api_rate_limit", "0"),
        ("api_rate_limit", str(limits.API_RATE_LIMIT_MAX + 1)),
        ("webhook_url", "not a url"),
        ("webhook_url", "ftp://files.example.com/hook"),
        ("multi_device_policy", "everything"),
    ],
)
def test_settings_rerenders_errors_for_invalid_values(
    console: Client, app: App, field: str, value: str
) -> None:
    data = {
        "multi_device_policy": MultiDevicePolicy.SINGLE,
        "webhook_url": "https://hooks.example.com/im",
        "message_retention_days": "90",
        "api_rate_limit": "10",
        field: value,
    }

    response = console.post(reverse("console:app_settings", args=[app.app_key]), data)

    app.refresh_from_db()
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert len(response.context["form"].errors[field]) == 1
    assert 'class="errorlist' in response.content.decode()
    assert app.multi_device_policy == MultiDevicePolicy.ALL
    assert app.message_retention_days == 30
    assert app.api_rate_limit is None


def test_delete_page_asks_for_the_name(console: Client, app: App) -> None:
    response = console.get(reverse("console:app_delete", args=[app.app_key]))

    assert response.status_code == 200
    assert "Type “Chat Demo” exactly." in response.content.decode()


def test_delete_with_the_wrong_name_keeps_the_app(console: Client, app: App) -> None:
    response = console.post(reverse("console:app_delete", args=[app.app_key]), {"confirm_name": "chat demo"})

    assert response.status_code == 200
    assert response.context["form"].errors["confirm_name"] == ["That is not the name of this app."]
    assert App.objects.filter(pk=app.pk).exists()


def test_delete_with_the_right_name_removes_the_app(console: Client, app: App) -> None:
    response = console.post(reverse("console:app_delete", args=[app.app_key]), {"confirm_name": "Chat Demo"})

    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_list")
    assert not App.objects.filter(pk=app.pk).exists()
    assert "Deleted “Chat Demo”" in console.get(response["Location"]).content.decode()


@pytest.mark.parametrize("name", ["app_detail", "app_delete", "app_rename", "app_settings", "app_dashboard"])
def test_app_name_is_escaped(console: Client, developer: Developer, name: str) -> None:
    app = AppFactory(owner=developer, name="<script>alert(1)</script>")

    content = console.get(reverse(f"console:{name}", args=[app.app_key])).content.decode()

    assert "<script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
