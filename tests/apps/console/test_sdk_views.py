"""The SDK page of an app and its archive downloads (apps/console/sdk_views.py)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.tenants.models import App
from tests.apps.console.sdk_tree import FakeCheckout, entries, make_fake_checkout
from tests.factories import AppFactory, DeveloperFactory

pytestmark = pytest.mark.django_db

GATEWAYS = ["wss://gw.example.com/ws"]
DOWNLOADS = ["app_sdk_python", "app_sdk_typescript"]
SDK_PAGES = ["app_sdk", *DOWNLOADS]


@pytest.fixture
def checkout(tmp_path: Path, app: App, settings: Any) -> FakeCheckout:
    fake = make_fake_checkout(tmp_path, secret=app.secret)
    settings.IMCLOUD = {
        **{key: value for key, value in settings.IMCLOUD.items() if key != "PUBLIC_URL"},
        "SDK_ROOT": str(fake.root),
        "GATEWAY_URLS": GATEWAYS,
    }
    return fake


@pytest.fixture
def other_app(db: None) -> App:
    app: App = AppFactory(owner=DeveloperFactory(), name="A's app")
    return app


def _config(content: bytes) -> dict[str, Any]:
    source = entries(content)["imcloud-sdk-python/imcloud_config.py"].decode()
    namespace: dict[str, Any] = {}
    exec(compile(source, "imcloud_config.py", "exec"), namespace)  # noqa: S102 - our own generated file
    return namespace


def test_sdk_page_shows_both_downloads_the_preset_and_the_quick_starts(
    console: Client, app: App, checkout: FakeCheckout
) -> None:
    response = console.get(reverse("console:app_sdk", args=[app.app_key]))

    content = response.content.decode()
    assert response.status_code == 200
    prefix = app.app_key[:8]
    assert f'href="/apps/{app.app_key}/sdk/imcloud-sdk-python.zip"' in content
    assert f'href="/apps/{app.app_key}/sdk/imcloud-sdk-typescript.zip"' in content
    assert f"Download imcloud-sdk-python-{prefix}.zip" in content
    assert f"Download imcloud-sdk-typescript-{prefix}.zip" in content
    assert f'<code class="copy" id="preset-app-key">{app.app_key}</code>' in content
    assert '<code id="preset-lbs-url">http://testserver/api/v1/lbs</code>' in content
    assert "<code>wss://gw.example.com/ws</code>" in content
    assert "pip install ./imcloud-sdk-python" in content
    assert "npm install ./imcloud-sdk-typescript" in content
    assert "npm run build" not in content
    assert "from imcloud_sdk import Client, ClientOptions" in content
    assert "client.sendText(" in content
    assert '<span class="badge">0.3.1</span>' in content
    assert '<span class="badge">0.2.0</span>' in content
    assert app.secret not in content


def test_sdk_page_is_linked_from_every_app_tab(console: Client, app: App, checkout: FakeCheckout) -> None:
    link = f'href="/apps/{app.app_key}/sdk/"'

    for name in ("app_detail", "app_dashboard", "app_settings"):
        assert link in console.get(reverse(f"console:{name}", args=[app.app_key])).content.decode(), name
    sdk_page = console.get(reverse("console:app_sdk", args=[app.app_key])).content.decode()
    assert f'<a href="/apps/{app.app_key}/sdk/" aria-current="page">SDKs</a>' in sdk_page


def test_python_download_is_a_zip_named_for_the_app(
    console: Client, app: App, checkout: FakeCheckout
) -> None:
    response = console.get(reverse("console:app_sdk_python", args=[app.app_key]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert (
        response["Content-Disposition"] == f'attachment; filename="imcloud-sdk-python-{app.app_key[:8]}.zip"'
    )
    assert "no-cache" in response["Cache-Control"]
    config = _config(response.content)
    assert config["APP_KEY"] == app.app_key
    assert config["LBS_URL"] == "http://testserver/api/v1/lbs"
    assert config["ENDPOINTS"] == GATEWAYS
    assert app.secret.encode() not in response.content
    assert all(app.secret.encode() not in data for data in entries(response.content).values())


def test_typescript_download_is_a_zip_named_for_the_app(
    console: Client, app: App, checkout: FakeCheckout
) -> None:
    response = console.get(reverse("console:app_sdk_typescript", args=[app.app_key]))

    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="imcloud-sdk-typescript-{app.app_key[:8]}.zip"'
    )
    files = entries(response.content)
    assert (
        f'export const APP_KEY = "{app.app_key}";'
        in files["imcloud-sdk-typescript/imcloud.config.js"].decode()
    )
    assert "imcloud-sdk-typescript/browser/imcloud-sdk.js" in files
    assert all(app.secret.encode() not in data for data in files.values())


def test_two_downloads_are_byte_identical(console: Client, app: App, checkout: FakeCheckout) -> None:
    url = reverse("console:app_sdk_typescript", args=[app.app_key])

    assert console.get(url).content == console.get(url).content


def test_lbs_url_follows_the_request_host(
    console: Client, app: App, checkout: FakeCheckout, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["im.example.org"]

    response = console.get(
        reverse("console:app_sdk_python", args=[app.app_key]), HTTP_HOST="im.example.org", secure=True
    )

    assert _config(response.content)["LBS_URL"] == "https://im.example.org/api/v1/lbs"


def test_public_url_setting_overrides_the_request_host(
    console: Client, app: App, checkout: FakeCheckout, settings: Any
) -> None:
    settings.IMCLOUD = {**settings.IMCLOUD, "PUBLIC_URL": "https://im.example.com"}

    page = console.get(reverse("console:app_sdk", args=[app.app_key])).content.decode()
    download = console.get(reverse("console:app_sdk_python", args=[app.app_key]))

    assert '<code id="preset-lbs-url">https://im.example.com/api/v1/lbs</code>' in page
    assert _config(download.content)["LBS_URL"] == "https://im.example.com/api/v1/lbs"


def test_missing_sdk_is_404_and_the_page_says_so(console: Client, app: App, checkout: FakeCheckout) -> None:
    shutil.rmtree(checkout.typescript)

    page = console.get(reverse("console:app_sdk", args=[app.app_key])).content.decode()
    download = console.get(reverse("console:app_sdk_typescript", args=[app.app_key]))

    assert download.status_code == 404
    assert "This server has no TypeScript SDK to hand out." in page
    assert "imcloud-sdk-typescript.zip" not in page
    assert console.get(reverse("console:app_sdk_python", args=[app.app_key])).status_code == 200


@pytest.mark.parametrize("name", SDK_PAGES)
def test_another_developers_app_is_404(
    console: Client, other_app: App, checkout: FakeCheckout, name: str
) -> None:
    response = console.get(reverse(f"console:{name}", args=[other_app.app_key]))

    assert response.status_code == 404
    assert other_app.app_key.encode() not in response.content
    assert other_app.secret.encode() not in response.content


@pytest.mark.parametrize("name", SDK_PAGES)
def test_anonymous_visitors_are_sent_to_login(
    client: Client, app: App, checkout: FakeCheckout, name: str
) -> None:
    response = client.get(reverse(f"console:{name}", args=[app.app_key]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


@pytest.mark.parametrize("name", DOWNLOADS)
def test_downloads_answer_get_only(console: Client, app: App, checkout: FakeCheckout, name: str) -> None:
    response = console.post(reverse(f"console:{name}", args=[app.app_key]))

    assert response.status_code == 405


def test_zip_entries_are_all_inside_one_folder(console: Client, app: App, checkout: FakeCheckout) -> None:
    for name, folder in (
        ("app_sdk_python", "imcloud-sdk-python/"),
        ("app_sdk_typescript", "imcloud-sdk-typescript/"),
    ):
        content = console.get(reverse(f"console:{name}", args=[app.app_key])).content
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
        assert names
        assert all(entry.startswith(folder) and ".." not in entry.split("/") for entry in names), name


def test_quick_start_file_matches_the_page(console: Client, app: App, checkout: FakeCheckout) -> None:
    quick = entries(console.get(reverse("console:app_sdk_python", args=[app.app_key])).content)[
        "imcloud-sdk-python/QUICKSTART.md"
    ].decode()
    page = console.get(reverse("console:app_sdk", args=[app.app_key]))

    python = next(sdk for sdk in page.context["sdks"] if sdk["info"].spec.name == "python")
    assert python["quick_start"].commands in quick
    assert python["quick_start"].snippet in quick
