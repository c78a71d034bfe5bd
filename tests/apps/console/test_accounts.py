"""Signing up, logging in and out, resetting a password, and the CSRF guard on console forms."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Developer
from apps.accounts.services import developer_create
from apps.tenants.models import App
from tests.factories import DEFAULT_PASSWORD, DeveloperFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"


def test_home_sends_anonymous_visitors_to_login(client: Client) -> None:
    response = client.get(reverse("console:home"))

    assert response.status_code == 302
    assert response["Location"] == reverse("console:login")


def test_home_sends_developers_to_their_apps(console: Client) -> None:
    response = console.get(reverse("console:home"))

    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_list")


def test_signup_page_renders_the_form(client: Client) -> None:
    response = client.get(reverse("console:signup"))

    assert response.status_code == 200
    assert b'name="password2"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_signup_creates_the_developer_logs_in_and_redirects(client: Client) -> None:
    response = client.post(
        reverse("console:signup"),
        {"email": " New.Dev@Example.COM ", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_list")
    developer = Developer.objects.get(email="new.dev@example.com")
    assert developer.check_password(NEW_PASSWORD)
    assert int(client.session["_auth_user_id"]) == developer.pk
    assert client.get(reverse("console:app_list")).status_code == 200


def test_signup_with_a_taken_email_rerenders_with_the_error(client: Client) -> None:
    DeveloperFactory(email="taken@example.com")

    response = client.post(
        reverse("console:signup"),
        {"email": "Taken@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["A developer with this email already exists."]
    assert b"A developer with this email already exists." in response.content
    assert Developer.objects.filter(email="taken@example.com").count() == 1
    assert "_auth_user_id" not in client.session


def test_signup_with_mismatched_passwords_rerenders_with_the_error(client: Client) -> None:
    response = client.post(
        reverse("console:signup"),
        {"email": "dev@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == ["The two passwords do not match."]
    assert not Developer.objects.filter(email="dev@example.com").exists()


def test_signup_with_a_weak_password_rerenders_with_the_validator_messages(client: Client) -> None:
    response = client.post(
        reverse("console:signup"),
        {"email": "dev@example.com", "password1": "12345678", "password2": "12345678"},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["password1"]
    assert "This password is too common." in errors
    assert "This password is entirely numeric." in errors
    assert b"This password is too common." in response.content
    assert not Developer.objects.filter(email="dev@example.com").exists()


def test_signed_in_developer_visiting_signup_goes_to_apps(console: Client) -> None:
    response = console.get(reverse("console:signup"))

    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_list")


def test_login_with_email_and_password(client: Client, developer: Developer) -> None:
    response = client.post(
        reverse("console:login"), {"username": developer.email.upper(), "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("console:app_list")
    assert int(client.session["_auth_user_id"]) == developer.pk


def test_login_with_a_wrong_password_rerenders_with_an_error(client: Client, developer: Developer) -> None:
    response = client.post(reverse("console:login"), {"username": developer.email, "password": "wrong-one"})

    assert response.status_code == 200
    assert b"The email or password is not correct." in response.content
    assert "_auth_user_id" not in client.session


def test_login_honours_next(client: Client, developer: Developer) -> None:
    target = reverse("console:app_list") + "?from=test"

    response = client.post(
        reverse("console:login"), {"username": developer.email, "password": DEFAULT_PASSWORD, "next": target}
    )

    assert response["Location"] == target


def test_logout_refuses_get(console: Client) -> None:
    response = console.get(reverse("console:logout"))

    assert response.status_code == 405
    assert "_auth_user_id" in console.session


def test_logout_by_post_ends_the_session(console: Client) -> None:
    response = console.post(reverse("console:logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("console:login")
    assert "_auth_user_id" not in console.session
    assert console.get(reverse("console:app_list"))["Location"].startswith(reverse("console:login"))


def test_nav_shows_logout_form_when_signed_in(console: Client, developer: Developer) -> None:
    content = console.get(reverse("console:app_list")).content.decode()

    assert f'action="{reverse("console:logout")}"' in content
    assert developer.email in content
    assert 'href="/api/v1/docs/"' in content


def test_nav_shows_login_and_signup_when_signed_out(client: Client) -> None:
    content = client.get(reverse("console:login")).content.decode()

    assert f'href="{reverse("console:signup")}"' in content
    assert f'action="{reverse("console:logout")}"' not in content


def _reset_link_path(body: str) -> str:
    match = re.search(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)", body)
    assert match is not None, body
    return match.group(1)


def test_password_reset_end_to_end(client: Client, developer: Developer) -> None:
    response = client.post(reverse("console:password_reset"), {"email": developer.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [developer.email]
    assert message.subject == "Reset your imcloud password"

    # The link moves its token into the session and lands on the form.
    page = client.get(_reset_link_path(message.body), follow=True)
    assert page.status_code == 200
    assert page.context["validlink"] is True
    form_path = page.redirect_chain[-1][0]

    done = client.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("console:password_reset_complete")
    assert client.get(done["Location"]).status_code == 200

    old = client.post(reverse("console:login"), {"username": developer.email, "password": DEFAULT_PASSWORD})
    assert old.status_code == 200
    new = client.post(reverse("console:login"), {"username": developer.email, "password": NEW_PASSWORD})
    assert new.status_code == 302
    assert int(client.session["_auth_user_id"]) == developer.pk


def test_password_reset_link_works_only_once(client: Client, developer: Developer) -> None:
    client.post(reverse("console:password_reset"), {"email": developer.email})
    link = _reset_link_path(mail.outbox[0].body)
    form_path = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = client.get(link, follow=True)

    assert again.context["validlink"] is False
    assert b"This link no longer works" in again.content


def test_password_reset_for_an_unknown_email_sends_nothing_but_looks_the_same(client: Client) -> None:
    response = client.post(reverse("console:password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response["Location"] == reverse("console:password_reset_done")
    assert mail.outbox == []


def test_password_reset_lets_a_developer_without_a_password_set_one(client: Client) -> None:
    invited = developer_create(email="invited@example.com", password=None)

    client.post(reverse("console:password_reset"), {"email": "invited@example.com"})

    assert [m.to for m in mail.outbox] == [["invited@example.com"]]
    form_path = client.get(_reset_link_path(mail.outbox[0].body), follow=True).redirect_chain[-1][0]
    client.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)


def test_post_without_csrf_token_is_refused(developer: Developer) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(developer)

    response = browser.post(reverse("console:app_create"), {"name": "No token"})

    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert not App.objects.filter(owner=developer).exists()


def test_post_with_csrf_token_is_accepted(developer: Developer) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(developer)
    page = browser.get(reverse("console:app_list"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None

    response = browser.post(
        reverse("console:app_create"), {"name": "With token", "csrfmiddlewaretoken": token[1]}
    )

    assert response.status_code == 302
    assert App.objects.filter(owner=developer, name="With token").exists()
