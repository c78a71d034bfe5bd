from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from apps.tenants.models import App
from tests.factories import DeveloperFactory
from tests.signing import SignedClient

pytestmark = pytest.mark.django_db


def _run(*args: str) -> dict[str, object]:
    out = io.StringIO()
    call_command("create_app", *args, stdout=out)
    return json.loads(out.getvalue())


def test_creates_the_developer_and_an_app_whose_keys_sign_requests():
    result = _run("--owner-email", "New@Example.com", "--name", "Chat", "--password", "a-Long-pass-phrase")
    app = App.objects.get(app_key=result["app_key"])
    assert result["owner_created"] is True
    assert result["owner_email"] == "new@example.com"
    assert app.secret == result["app_secret"]
    assert authenticate(username="new@example.com", password="a-Long-pass-phrase") == app.owner
    assert SignedClient(app).get("/api/v1/users").status_code == 200


def test_an_existing_developer_gets_another_app():
    developer = DeveloperFactory(email="old@example.com")
    result = _run("--owner-email", "old@example.com", "--name", "Second")
    assert result["owner_created"] is False
    assert App.objects.get(app_key=result["app_key"]).owner == developer


def test_a_bad_name_fails_cleanly_and_creates_nothing():
    with pytest.raises(CommandError, match="invalid_field"):
        _run("--owner-email", "x@example.com", "--name", " ")
    assert not App.objects.exists()


def test_a_weak_password_fails_cleanly():
    with pytest.raises(CommandError):
        _run("--owner-email", "y@example.com", "--name", "A", "--password", "123")
