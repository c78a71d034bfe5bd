from __future__ import annotations

import pytest

from apps.core.errors import Conflict, InvalidField
from apps.imusers.models import ImUser
from apps.tenants import limits
from apps.tenants.models import App, MultiDevicePolicy
from apps.tenants.services import (
    app_create,
    app_delete,
    app_rename,
    app_rotate_secret,
    app_update_settings,
)
from tests.factories import AppFactory, DeveloperFactory, ImUserFactory

pytestmark = pytest.mark.django_db


def test_create_gives_distinct_keys_and_secrets_stored_encrypted():
    owner = DeveloperFactory()
    first, second = app_create(owner=owner, name="A"), app_create(owner=owner, name="B")
    assert first.app_key != second.app_key
    assert first.secret != second.secret
    assert len(first.app_key) == 32
    assert first.secret not in first.secret_ciphertext


def test_create_refuses_past_the_per_developer_cap():
    owner = DeveloperFactory()
    AppFactory.create_batch(limits.MAX_APPS_PER_DEVELOPER, owner=owner)
    with pytest.raises(Conflict):
        app_create(owner=owner, name="one too many")


@pytest.mark.parametrize("name", ["", "   ", "x" * 65])
def test_names_must_be_1_to_64_characters(name):
    with pytest.raises(InvalidField):
        app_create(owner=DeveloperFactory(), name=name)


def test_rename_strips_and_saves():
    app = AppFactory()
    app_rename(app=app, name="  Renamed  ")
    app.refresh_from_db()
    assert app.name == "Renamed"


def test_rotate_secret_replaces_it():
    app = AppFactory()
    old = app.secret
    new = app_rotate_secret(app=app)
    app.refresh_from_db()
    assert app.secret == new != old


def test_update_settings_saves_every_field():
    app = AppFactory()
    app_update_settings(
        app=app,
        multi_device_policy=MultiDevicePolicy.SINGLE,
        webhook_url="https://example.com/hook",
        message_retention_days=90,
        api_rate_limit=500,
    )
    app.refresh_from_db()
    assert (app.multi_device_policy, app.webhook_url, app.message_retention_days) == (
        "single",
        "https://example.com/hook",
        90,
    )
    assert app.effective_api_rate_limit == 500


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("multi_device_policy", "two_phones"),
        ("message_retention_days", 0),
        ("message_retention_days", 3651),
        ("api_rate_limit", 0),
        ("api_rate_limit", 10_001),
        ("webhook_url", "ftp://example.com"),
    ],
)
def test_update_settings_refuses_out_of_range_values(field, value):
    app = AppFactory()
    values = {
        "multi_device_policy": "all",
        "webhook_url": "",
        "message_retention_days": 30,
        "api_rate_limit": None,
        field: value,
    }
    with pytest.raises(InvalidField) as caught:
        app_update_settings(app=app, **values)
    assert caught.value.field == field


def test_delete_removes_the_app_and_its_users():
    app = AppFactory()
    ImUserFactory.create_batch(2, app=app)
    app_id = app.pk
    app_delete(app=app)
    assert not App.objects.filter(pk=app_id).exists()
    assert not ImUser.objects.filter(app_id=app_id).exists()
