"""The console's push pages: provider credentials (saved, summarised, never shown back), VAPID
generation, push settings, the push log, and isolation between developers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Developer
from apps.core.crypto import decrypt_text
from apps.imusers.models import ImUser
from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, Message, MessageType
from apps.messaging.services import message_send
from apps.push.models import AttemptStatus, Device, Provider, PushAttempt, PushCredential, PushSettings
from apps.push.services import credentials_set, settings_for
from apps.tenants.models import App
from tests.factories import AppFactory, DeveloperFactory, ImUserFactory

pytestmark = pytest.mark.django_db

KEY_ID = "ABC123DEFG"
TEAM_ID = "TEAM123456"
BUNDLE_ID = "com.example.chat"
PROJECT_ID = "chat-demo-4711"
CLIENT_EMAIL = "firebase-adminsdk@chat-demo-4711.iam.gserviceaccount.com"
HUAWEI_SECRET = "huawei-client-secret-0123456789"
XIAOMI_SECRET = "xiaomi-app-secret-0123456789"


# --- Key material ---------------------------------------------------------------------------------


def _pkcs8(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _pem_body(pem: str) -> str:
    """The base64 of a PEM: what would give a private key away if it appeared in a page."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


@cache
def p256_pem() -> str:
    return _pkcs8(ec.generate_private_key(ec.SECP256R1()))


@cache
def p384_pem() -> str:
    return _pkcs8(ec.generate_private_key(ec.SECP384R1()))


@cache
def rsa_pem() -> str:
    return _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def service_account(**changes: Any) -> dict[str, Any]:
    account = {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": rsa_pem(),
        "client_email": CLIENT_EMAIL,
        "client_id": "123456789012345678901",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    account.update(changes)
    return {key: value for key, value in account.items() if value is not None}


def p8_file(text: str | bytes) -> SimpleUploadedFile:
    content = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(f"AuthKey_{KEY_ID}.p8", content, content_type="application/octet-stream")


def json_file(text: str | bytes) -> SimpleUploadedFile:
    content = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile("chat-demo-firebase-adminsdk.json", content, content_type="application/json")


# --- Requests -------------------------------------------------------------------------------------


def push_url(app: App) -> str:
    return reverse("console:app_push", args=[app.app_key])


def log_url(app: App) -> str:
    return reverse("console:app_push_log", args=[app.app_key])


def apns_data(**changes: Any) -> dict[str, Any]:
    data = {
        "action": "apns",
        "apns-private_key": p8_file(p256_pem()),
        "apns-key_id": KEY_ID,
        "apns-team_id": TEAM_ID,
        "apns-bundle_id": BUNDLE_ID,
        "apns-environment": "sandbox",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def fcm_file_data() -> dict[str, Any]:
    return {"action": "fcm", "fcm-service_account_file": json_file(json.dumps(service_account()))}


def fcm_pasted_data() -> dict[str, Any]:
    return {"action": "fcm", "fcm-service_account": json.dumps(service_account(), indent=2)}


def huawei_data(**changes: Any) -> dict[str, Any]:
    return {
        "action": "huawei",
        "huawei-app_id": "104123456",
        "huawei-client_secret": HUAWEI_SECRET,
        **changes,
    }


def xiaomi_data(**changes: Any) -> dict[str, Any]:
    return {
        "action": "xiaomi",
        "xiaomi-app_secret": XIAOMI_SECRET,
        "xiaomi-package_name": BUNDLE_ID,
        **changes,
    }


def settings_data(**changes: Any) -> dict[str, Any]:
    data = {
        "action": "settings",
        "settings-p2p_title": "{sender} wrote",
        "settings-p2p_body": "{preview}",
        "settings-team_title": "{team}",
        "settings-team_body": "{sender} in {team}: {preview}",
        "settings-show_preview": "",  # unticked: left out by browsers, blank here
        "settings-mute_mobile_while_desktop_online": "on",
        "settings-rate_per_second": "250",
    }
    data.update(changes)
    return data


def form_of(response: Any, provider: str) -> Any:
    return {card["provider"]: card["form"] for card in response.context["cards"]}[provider]


def secret_texts() -> list[str]:
    """Secret material of every provider as the tests upload it: none may ever be on a page."""
    return [_pem_body(p256_pem()), _pem_body(rsa_pem()), HUAWEI_SECRET, XIAOMI_SECRET, "PRIVATE KEY"]


# --- The page -------------------------------------------------------------------------------------


def test_push_page_shows_every_provider_unconfigured_and_the_tab(console: Client, app: App) -> None:
    response = console.get(push_url(app))

    content = response.content.decode()
    assert response.status_code == 200
    assert [card["provider"] for card in response.context["cards"]] == [
        "apns",
        "fcm",
        "webpush",
        "huawei",
        "xiaomi",
    ]
    assert [card["credential"] for card in response.context["cards"]] == [None] * 5
    assert f'href="{push_url(app)}" aria-current="page">Push</a>' in content
    assert 'enctype="multipart/form-data"' in content
    assert f'href="{log_url(app)}"' in content


def test_push_pages_require_login(client: Client, app: App) -> None:
    response = client.get(push_url(app))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login") + "?next=")


@pytest.mark.parametrize(
    ("provider", "make_data", "summary"),
    [
        (
            "apns",
            apns_data,
            {"key_id": KEY_ID, "team_id": TEAM_ID, "bundle_id": BUNDLE_ID, "environment": "sandbox"},
        ),
        ("fcm", fcm_file_data, {"project_id": PROJECT_ID, "client_email": CLIENT_EMAIL}),
        ("fcm", fcm_pasted_data, {"project_id": PROJECT_ID, "client_email": CLIENT_EMAIL}),
        ("huawei", huawei_data, {"app_id": "104123456"}),
        ("xiaomi", xiaomi_data, {"package_name": BUNDLE_ID}),
    ],
    ids=["apns", "fcm-file", "fcm-pasted", "huawei", "xiaomi"],
)
def test_credentials_save_and_the_page_shows_only_the_summary(
    console: Client,
    app: App,
    provider: str,
    make_data: Callable[[], dict[str, Any]],
    summary: dict[str, str],
) -> None:
    response = console.post(push_url(app), make_data())

    assert response.status_code == 302
    assert response["Location"] == f"{push_url(app)}#{provider}"
    credential = PushCredential.objects.get(app=app, provider=provider)
    assert credential.summary == summary
    page = console.get(push_url(app))
    content = page.content.decode()
    assert f"Saved the {credential.get_provider_display()} credentials." in content
    assert all(str(value) in content for value in summary.values())
    assert [text for text in secret_texts() if text in content] == []
    assert [text for text in secret_texts() if text in credential.ciphertext] == []


def test_stored_apns_credentials_decrypt_to_what_was_uploaded(console: Client, app: App) -> None:
    console.post(push_url(app), apns_data(**{"apns-key_id": KEY_ID.lower()}))

    stored = json.loads(decrypt_text(PushCredential.objects.get(app=app, provider="apns").ciphertext))

    assert stored["private_key"] == p256_pem()
    assert (stored["key_id"], stored["environment"]) == (KEY_ID, "sandbox")


def test_saving_again_replaces_the_credentials(console: Client, app: App) -> None:
    console.post(push_url(app), xiaomi_data())

    console.post(push_url(app), xiaomi_data(**{"xiaomi-package_name": "com.example.other"}))

    assert [c.summary for c in PushCredential.objects.filter(app=app)] == [
        {"package_name": "com.example.other"}
    ]


# --- Refused uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "data", "field", "message"),
    [
        ("apns", lambda: apns_data(**{"apns-private_key": p8_file("not a key")}), "private_key", "PEM"),
        (
            "apns",
            lambda: apns_data(**{"apns-private_key": p8_file("-----BEGIN PRIVATE KEY-----\nAAAA\n")}),
            "private_key",
            "not a readable PEM private key",
        ),
        ("apns", lambda: apns_data(**{"apns-private_key": p8_file(p384_pem())}), "private_key", "P-256"),
        ("apns", lambda: apns_data(**{"apns-private_key": p8_file(rsa_pem())}), "private_key", "P-256"),
        (
            "apns",
            lambda: apns_data(**{"apns-private_key": p8_file(b"\x30\x81\x87\x02\x01\x00\xff\xfe")}),
            "private_key",
            "not a UTF-8 text file",
        ),
        (
            "apns",
            lambda: apns_data(**{"apns-private_key": p8_file(p256_pem() + " " * 64 * 1024)}),
            "private_key",
            "too large",
        ),
        ("apns", lambda: apns_data(**{"apns-private_key": None}), "private_key", "required"),
        ("apns", lambda: apns_data(**{"apns-key_id": ""}), "key_id", "required"),
        ("apns", lambda: apns_data(**{"apns-team_id": "team!"}), "team_id", "Team ID must be"),
        ("apns", lambda: apns_data(**{"apns-bundle_id": "chat"}), "bundle_id", "com.example.app"),
        ("apns", lambda: apns_data(**{"apns-environment": "staging"}), "environment", "valid choice"),
        (
            "fcm",
            lambda: {"action": "fcm", "fcm-service_account_file": json_file("project_id = 1")},
            "service_account_file",
            "not JSON",
        ),
        (
            "fcm",
            lambda: {"action": "fcm", "fcm-service_account_file": json_file(b"\xff\xfe{}")},
            "service_account_file",
            "not a UTF-8 text file",
        ),
        (
            "fcm",
            lambda: {"action": "fcm", "fcm-service_account_file": json_file(json.dumps([service_account()]))},
            "service_account_file",
            "must be an object",
        ),
        (
            "fcm",
            lambda: {
                "action": "fcm",
                "fcm-service_account_file": json_file(json.dumps(service_account(client_email=None))),
            },
            "service_account_file",
            "has no client_email",
        ),
        (
            "fcm",
            lambda: {
                "action": "fcm",
                "fcm-service_account": json.dumps(service_account(private_key=p256_pem())),
            },
            "service_account",
            "must be an RSA key",
        ),
        ("fcm", lambda: {"action": "fcm", "fcm-service_account": "{"}, "service_account", "not JSON"),
        ("fcm", lambda: {"action": "fcm"}, "service_account_file", "Upload the service-account JSON"),
        ("huawei", lambda: huawei_data(**{"huawei-app_id": "app-one"}), "app_id", "numeric app id"),
        ("huawei", lambda: huawei_data(**{"huawei-client_secret": "short"}), "client_secret", "8 to 256"),
        ("xiaomi", lambda: xiaomi_data(**{"xiaomi-package_name": "chat"}), "package_name", "com.example.app"),
        (
            "webpush",
            lambda: {"action": "webpush", "webpush-subject": "ops@example.com"},
            "subject",
            "mailto:",
        ),
        ("webpush", lambda: {"action": "webpush", "webpush-subject": "mailto:ops"}, "subject", "mailto:"),
    ],
)
def test_refused_credentials_rerender_the_form_with_the_error(
    console: Client,
    app: App,
    provider: str,
    data: Callable[[], dict[str, Any]],
    field: str,
    message: str,
) -> None:
    response = console.post(push_url(app), data())

    errors = form_of(response, provider).errors
    assert response.status_code == 200
    assert message in " ".join(errors.get(field, [])), errors
    assert "has-error" in response.content.decode()
    assert not PushCredential.objects.filter(app=app).exists()


def test_a_refused_form_never_echoes_the_secrets_it_was_sent(console: Client, app: App) -> None:
    pasted = json.dumps(service_account(token_uri="ftp://example.com/token"))

    fcm = console.post(push_url(app), {"action": "fcm", "fcm-service_account": pasted})
    huawei = console.post(push_url(app), huawei_data(**{"huawei-app_id": "app-one"}))

    assert "token_uri must be an https://" in " ".join(form_of(fcm, "fcm").errors["service_account"])
    assert _pem_body(rsa_pem())[:64] not in fcm.content.decode()
    assert "private_key_id" not in fcm.content.decode()
    assert HUAWEI_SECRET not in huawei.content.decode()


def test_posting_without_the_csrf_token_is_refused(developer: Developer, app: App) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(developer)

    response = browser.post(push_url(app), xiaomi_data())

    assert response.status_code == 403
    assert not PushCredential.objects.filter(app=app).exists()


def test_an_upload_with_the_csrf_token_of_the_page_is_accepted(developer: Developer, app: App) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(developer)
    browser.get(push_url(app))

    response = browser.post(push_url(app), apns_data(csrfmiddlewaretoken=browser.cookies["csrftoken"].value))

    assert response.status_code == 302
    assert PushCredential.objects.filter(app=app, provider="apns").exists()


def test_an_unknown_form_is_a_bad_request(console: Client, app: App) -> None:
    response = console.post(push_url(app), {"action": "sms"})

    assert response.status_code == 400


# --- Web Push -------------------------------------------------------------------------------------


def test_generate_vapid_shows_the_public_key_and_keeps_the_private_key(console: Client, app: App) -> None:
    response = console.post(push_url(app), {"action": "webpush", "webpush-subject": "mailto:ops@example.com"})

    credential = PushCredential.objects.get(app=app, provider="webpush")
    public_key = credential.summary["vapid_public_key"]
    point = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
    stored = json.loads(decrypt_text(credential.ciphertext))
    content = console.get(response["Location"]).content.decode()
    assert response.status_code == 302
    assert (len(point), point[0]) == (65, 0x04)
    assert f'<code class="copy" id="vapid-public-key">{public_key}</code>' in content
    assert "mailto:ops@example.com" in content
    assert _pem_body(stored["vapid_private_key"]) not in content
    assert "PRIVATE KEY" not in content


def test_generating_again_replaces_the_key_pair(console: Client, app: App) -> None:
    console.post(push_url(app), {"action": "webpush", "webpush-subject": "mailto:ops@example.com"})
    first = PushCredential.objects.get(app=app, provider="webpush").summary["vapid_public_key"]

    console.post(push_url(app), {"action": "webpush", "webpush-subject": "https://example.com/contact"})

    [credential] = PushCredential.objects.filter(app=app)
    assert credential.summary["vapid_public_key"] != first
    assert credential.summary["subject"] == "https://example.com/contact"


# --- Delete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["huawei", "xiaomi"])
def test_delete_removes_only_that_providers_credentials(console: Client, app: App, provider: str) -> None:
    credentials_set(app=app, provider="huawei", data={"app_id": "104123456", "client_secret": HUAWEI_SECRET})
    credentials_set(app=app, provider="xiaomi", data={"app_secret": XIAOMI_SECRET, "package_name": BUNDLE_ID})

    response = console.post(push_url(app), {"action": "delete", "provider": provider})

    assert response.status_code == 302
    assert response["Location"] == f"{push_url(app)}#{provider}"
    assert list(PushCredential.objects.filter(app=app).values_list("provider", flat=True)) == list(
        {"huawei", "xiaomi"} - {provider}
    )
    page = console.get(push_url(app))
    assert {card["provider"] for card in page.context["cards"] if card["credential"]} == (
        {"huawei", "xiaomi"} - {provider}
    )
    assert f"Deleted the {Provider(provider).label} credentials." in page.content.decode()


def test_configured_providers_have_a_delete_button(console: Client, app: App) -> None:
    credentials_set(app=app, provider="xiaomi", data={"app_secret": XIAOMI_SECRET, "package_name": BUNDLE_ID})

    content = console.get(push_url(app)).content.decode()

    assert content.count('name="action" value="delete"') == 1
    assert '<input type="hidden" name="provider" value="xiaomi"' in content


def test_deleting_an_unknown_provider_is_a_bad_request(console: Client, app: App) -> None:
    response = console.post(push_url(app), {"action": "delete", "provider": "sms"})

    assert response.status_code == 400


# --- Settings -------------------------------------------------------------------------------------


def test_push_settings_show_their_current_values(console: Client, app: App) -> None:
    response = console.get(push_url(app))

    assert response.context["settings_form"].initial == {
        "p2p_title": "{sender}",
        "p2p_body": "{preview}",
        "team_title": "{team}",
        "team_body": "{sender}: {preview}",
        "show_preview": True,
        "mute_mobile_while_desktop_online": True,
        "rate_per_second": 1000,
    }


def test_push_settings_save(console: Client, app: App) -> None:
    response = console.post(push_url(app), settings_data())

    saved = PushSettings.objects.get(app=app)
    assert response.status_code == 302
    assert response["Location"] == f"{push_url(app)}#settings"
    assert (saved.p2p_title, saved.p2p_body, saved.team_title, saved.team_body) == (
        "{sender} wrote",
        "{preview}",
        "{team}",
        "{sender} in {team}: {preview}",
    )
    assert (saved.show_preview, saved.mute_mobile_while_desktop_online, saved.rate_per_second) == (
        False,
        True,
        250,
    )
    assert "Push settings saved." in console.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("p2p_title", "{name}", "Unknown placeholder {name}"),
        ("team_body", "{sender}: {text}", "Unknown placeholder {text}"),
        ("p2p_body", "{}", "Unknown placeholder {}"),
        ("p2p_body", "{0}", "Unknown placeholder {0}"),
        ("team_title", "{team.__class__}", "Unknown placeholder {team.__class__}"),
        ("p2p_body", "{preview:>100000000}", "without a format"),
        ("p2p_body", "{preview!r}", "without a format"),
        ("p2p_title", "{sender", "not closed"),
        ("p2p_title", "sender}", "not closed"),
        ("p2p_title", "", "required"),
        ("p2p_title", "x" * 129, "at most 128 characters"),
        ("rate_per_second", "0", "greater than or equal to 1"),
        ("rate_per_second", "100001", "less than or equal to 100000"),
    ],
)
def test_push_settings_refuse_bad_templates_and_rates(
    console: Client, app: App, field: str, value: str, message: str
) -> None:
    before = settings_for(app=app)

    response = console.post(push_url(app), settings_data(**{f"settings-{field}": value}))

    errors = response.context["settings_form"].errors
    assert response.status_code == 200
    assert message in " ".join(errors[field]), errors
    after = PushSettings.objects.get(app=app)
    assert (after.p2p_title, after.rate_per_second) == (before.p2p_title, before.rate_per_second)


def test_literal_braces_are_allowed_in_templates(console: Client, app: App) -> None:
    console.post(push_url(app), settings_data(**{"settings-p2p_body": "{{{preview}}}"}))

    assert PushSettings.objects.get(app=app).p2p_body.format_map({"preview": "hi"}) == "{hi}"


# --- Push log -------------------------------------------------------------------------------------


def make_attempt(
    sender: ImUser,
    user: ImUser,
    *,
    device_id: str,
    provider: str,
    status: str,
    status_code: int = 0,
    detail: str = "",
) -> PushAttempt:
    """One notification attempt of a new message from sender to user, to the user's device
    (created when the user has no device of that id yet)."""
    message: Message = message_send(
        app=user.app,
        sender=sender,
        conversation_type=ConversationKind.P2P,
        target=user.accid,
        client_msg_id=f"m-{PushAttempt.objects.count()}",
        content=MessageContent(type=MessageType.TEXT, text="hello"),
    ).message
    device, _ = Device.objects.get_or_create(
        user=user, device_id=device_id, defaults={"app": user.app, "provider": provider, "token": "t" * 64}
    )
    return PushAttempt.objects.create(
        app=user.app,
        message=message,
        device=device,
        provider=provider,
        status=status,
        status_code=status_code,
        detail=detail,
        attempts=1,
    )


@pytest.fixture
def alice(app: App) -> ImUser:
    user: ImUser = ImUserFactory(app=app, accid="alice")
    return user


def test_push_log_shows_counts_per_provider_and_the_latest_attempts(
    console: Client, app: App, alice: ImUser
) -> None:
    bob = ImUserFactory(app=app, accid="bob")
    carol = ImUserFactory(app=app, accid="carol")
    make_attempt(
        alice, bob, device_id="bob-phone", provider="apns", status=AttemptStatus.DELIVERED, status_code=200
    )
    make_attempt(
        alice, bob, device_id="bob-phone", provider="apns", status=AttemptStatus.DELIVERED, status_code=200
    )
    make_attempt(
        alice,
        bob,
        device_id="bob-phone",
        provider="apns",
        status=AttemptStatus.DEAD_TOKEN,
        status_code=410,
        detail="Unregistered",
    )
    make_attempt(
        alice,
        carol,
        device_id="carol-pixel",
        provider="fcm",
        status=AttemptStatus.FAILED,
        status_code=403,
        detail="SENDER_ID_MISMATCH",
    )
    make_attempt(
        alice, carol, device_id="carol-pixel", provider="fcm", status=AttemptStatus.RETRY, status_code=503
    )
    make_attempt(alice, carol, device_id="carol-web", provider="webpush", status=AttemptStatus.PENDING)

    response = console.get(log_url(app))

    content = response.content.decode()
    assert response.status_code == 200
    assert [
        (r["provider"], r["delivered"], r["failed"], r["pending"]) for r in response.context["totals"]
    ] == [
        ("apns", 2, 1, 0),
        ("fcm", 0, 1, 1),
        ("webpush", 0, 0, 1),
        ("huawei", 0, 0, 0),
        ("xiaomi", 0, 0, 0),
    ]
    assert [a.status for a in response.context["attempts"]] == [
        "pending",
        "retry",
        "failed",
        "dead_token",
        "delivered",
        "delivered",
    ]
    assert '<td class="delivered">2</td>' in content
    assert all(text in content for text in ["bob", "bob-phone", "carol-pixel", "Unregistered", "403"])
    assert "SENDER_ID_MISMATCH" in content


def test_push_log_keeps_attempts_whose_device_is_gone(console: Client, app: App, alice: ImUser) -> None:
    attempt = make_attempt(
        alice, ImUserFactory(app=app, accid="dave"), device_id="old", provider="apns", status="dead_token"
    )
    Device.objects.filter(pk=attempt.device_id).delete()

    content = console.get(log_url(app)).content.decode()

    assert "device removed" in content
    assert f'id="attempt-{attempt.pk}"' in content


def test_push_log_shows_the_latest_50(console: Client, app: App, alice: ImUser) -> None:
    bob = ImUserFactory(app=app, accid="bob")
    attempts = [
        make_attempt(alice, bob, device_id=f"d{n}", provider="xiaomi", status="delivered") for n in range(51)
    ]

    response = console.get(log_url(app))

    assert len(response.context["attempts"]) == 50
    assert f'id="attempt-{attempts[0].pk}"' not in response.content.decode()
    assert f'id="attempt-{attempts[-1].pk}"' in response.content.decode()


def test_push_log_is_empty_at_first(console: Client, app: App) -> None:
    response = console.get(log_url(app))

    assert "No notifications yet." in response.content.decode()


# --- Another developer's app ----------------------------------------------------------------------


@pytest.fixture
def other_app(db: None) -> App:
    """Developer A's app, configured, never reachable by the signed-in developer B."""
    app: App = AppFactory(owner=DeveloperFactory(), name="A's app")
    credentials_set(app=app, provider="xiaomi", data={"app_secret": XIAOMI_SECRET, "package_name": BUNDLE_ID})
    return app


ATTACKS = [
    apns_data,
    fcm_pasted_data,
    huawei_data,
    xiaomi_data,
    lambda: {"action": "webpush", "webpush-subject": "mailto:attacker@example.com"},
    lambda: {"action": "delete", "provider": "xiaomi"},
    settings_data,
]


@pytest.mark.parametrize("name", ["app_push", "app_push_log"])
def test_get_of_another_developers_push_pages_is_404(console: Client, other_app: App, name: str) -> None:
    response = console.get(reverse(f"console:{name}", args=[other_app.app_key]))

    assert response.status_code == 404
    assert BUNDLE_ID not in response.content.decode()


@pytest.mark.parametrize("name", ["app_push", "app_push_log"])
@pytest.mark.parametrize(
    "make_data", ATTACKS, ids=["apns", "fcm", "huawei", "xiaomi", "webpush", "delete", "settings"]
)
def test_post_to_another_developers_push_pages_is_404_and_changes_nothing(
    console: Client, other_app: App, name: str, make_data: Callable[[], dict[str, Any]]
) -> None:
    response = console.post(reverse(f"console:{name}", args=[other_app.app_key]), make_data())

    assert response.status_code == 404
    assert [(c.provider, c.summary) for c in PushCredential.objects.filter(app=other_app)] == [
        ("xiaomi", {"package_name": BUNDLE_ID})
    ]
    assert not PushSettings.objects.filter(app=other_app).exists()
