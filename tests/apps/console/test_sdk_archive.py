"""apps.console.sdk_archive: what the per-app SDK archives hold, their presets, and what never goes in."""

from __future__ import annotations

import io
import json
import os
import runpy
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from apps.api import lbs
from apps.console import sdk_archive
from apps.console.sdk_archive import SdkArchiveError, SdkUnavailable, UnknownSdk, build_sdk_archive
from apps.tenants.models import App
from tests.apps.console.sdk_tree import (
    BROWSER_BUNDLE,
    OUTSIDE_MARKER,
    PYTHON_FILES,
    TYPESCRIPT_FILES,
    FakeCheckout,
    entries,
    make_fake_checkout,
)
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://im.example.com"
GATEWAYS = ["wss://gw1.example.com/ws", "wss://gw2.example.com/ws"]
HTTP_BASES = ["https://gw1.example.com", "https://gw2.example.com"]
PY = "imcloud-sdk-python"
TS = "imcloud-sdk-typescript"


@pytest.fixture
def checkout(tmp_path: Path, app: App, settings: Any) -> FakeCheckout:
    fake = make_fake_checkout(tmp_path, secret=app.secret)
    settings.IMCLOUD = {**settings.IMCLOUD, "SDK_ROOT": str(fake.root), "GATEWAY_URLS": GATEWAYS}
    return fake


@pytest.fixture
def http_bases(settings: Any) -> list[str]:
    """Short-link bases configured for LBS (IMCLOUD_HTTP_URLS)."""
    settings.IMCLOUD = {**settings.IMCLOUD, "HTTP_URLS": HTTP_BASES}
    return HTTP_BASES


def _build(app: App, sdk: str, public_url: str = PUBLIC_URL) -> bytes:
    return build_sdk_archive(app=app, sdk=sdk, public_url=public_url).content


# --- Contents --------------------------------------------------------------------------------------


def test_python_archive_holds_exactly_the_allowed_files_and_the_preset(
    app: App, checkout: FakeCheckout
) -> None:
    files = entries(_build(app, "python"))

    expected = {f"{PY}/{name}" for name in PYTHON_FILES}
    assert set(files) == expected | {f"{PY}/imcloud_config.py", f"{PY}/QUICKSTART.md"}
    for name, text in PYTHON_FILES.items():
        assert files[f"{PY}/{name}"] == text.encode()


def test_typescript_archive_holds_exactly_the_allowed_files_the_bundle_and_the_preset(
    app: App, checkout: FakeCheckout
) -> None:
    files = entries(_build(app, "typescript"))

    expected = {f"{TS}/{name}" for name in TYPESCRIPT_FILES}
    generated = {f"{TS}/imcloud.config.js", f"{TS}/imcloud.config.d.ts", f"{TS}/QUICKSTART.md"}
    assert set(files) == expected | generated | {f"{TS}/browser/imcloud-sdk.js"}
    for name, text in TYPESCRIPT_FILES.items():
        assert files[f"{TS}/{name}"] == text.encode()
    assert files[f"{TS}/browser/imcloud-sdk.js"] == BROWSER_BUNDLE.encode()


@pytest.mark.parametrize("sdk", ["python", "typescript"])
def test_dependencies_caches_tests_hidden_files_keys_and_symlinks_stay_out(
    app: App, checkout: FakeCheckout, sdk: str
) -> None:
    content = _build(app, sdk)
    names = set(entries(content))

    for part in ("node_modules", "__pycache__", "/tests/", "__tests__", "/build/", ".venv", "linked"):
        assert not [name for name in names if part in name], part
    for suffix in (".pyc", ".pem", ".test.ts", ".tsbuildinfo", ".log", ".map", ".DS_Store", ".env", ".npmrc"):
        assert not [name for name in names if name.endswith(suffix)], suffix
    assert not [name for name in names if "secret" in name or "test_" in name or "conftest" in name]
    assert OUTSIDE_MARKER.encode() not in b"".join(entries(content).values())


@pytest.mark.parametrize("sdk", ["python", "typescript"])
def test_the_app_secret_appears_nowhere_in_the_archive(app: App, checkout: FakeCheckout, sdk: str) -> None:
    content = _build(app, sdk)

    secret = app.secret.encode()
    assert secret not in content
    assert all(secret not in data for data in entries(content).values())


def test_a_source_file_holding_the_app_secret_stops_the_build(app: App, checkout: FakeCheckout) -> None:
    (checkout.python / "src" / "imcloud_sdk" / "settings.py").write_text(f"KEY = {app.secret!r}\n")

    with pytest.raises(SdkArchiveError, match="AppSecret"):
        _build(app, "python")


def test_a_file_named_like_a_generated_one_stops_the_build(app: App, checkout: FakeCheckout) -> None:
    # The SDK's own copy would otherwise sit beside the preset under the same name in the zip.
    (checkout.typescript / "imcloud.config.js").write_text("export const APP_KEY = 'someone-else';\n")
    allowing_it = sdk_archive.Source(
        "sdk_clients/typescript", (*sdk_archive.TYPESCRIPT.sources[0].include, "imcloud.config.js")
    )
    spec = sdk_archive.SdkSpec(
        name="typescript",
        label="TypeScript",
        folder=TS,
        manifest="package.json",
        sources=(allowing_it,),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sdk_archive, "TYPESCRIPT", spec)
        patch.setitem(sdk_archive.SDKS, "typescript", spec)
        with pytest.raises(SdkArchiveError, match="already has a file"):
            _build(app, "typescript")


# --- Presets and quick starts ----------------------------------------------------------------------


def test_python_config_holds_the_app_key_lbs_url_and_endpoints(
    app: App, checkout: FakeCheckout, http_bases: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "imcloud_config.py"
    config.write_bytes(entries(_build(app, "python"))[f"{PY}/imcloud_config.py"])

    values = runpy.run_path(str(config))

    assert values["APP_KEY"] == app.app_key
    assert values["LBS_URL"] == "https://im.example.com/api/v1/lbs"
    assert values["ENDPOINTS"] == GATEWAYS
    assert values["HTTP_ENDPOINTS"] == http_bases


def test_without_configured_short_link_bases_they_are_what_lbs_derives_from_the_gateways(
    app: App, checkout: FakeCheckout, settings: Any, tmp_path: Path
) -> None:
    settings.IMCLOUD = {key: value for key, value in settings.IMCLOUD.items() if key != "HTTP_URLS"}
    config = tmp_path / "imcloud_config.py"
    config.write_bytes(entries(_build(app, "python"))[f"{PY}/imcloud_config.py"])

    assert runpy.run_path(str(config))["HTTP_ENDPOINTS"] == HTTP_BASES == lbs.http_urls()


def _node_import(directory: Path, module: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "Node is part of the development environment"
    result = subprocess.run(
        [node, "--input-type=module", "-e", f"console.log(JSON.stringify(await import('./{module}')))"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def test_typescript_config_is_an_es_module_with_the_same_values(
    app: App, checkout: FakeCheckout, http_bases: list[str], tmp_path: Path
) -> None:
    files = entries(_build(app, "typescript"))
    # As in the quick start: copied into a project whose package.json says "type": "module".
    project = tmp_path / "my-chat"
    project.mkdir()
    (project / "package.json").write_text('{"type": "module"}')
    (project / "imcloud.config.js").write_bytes(files[f"{TS}/imcloud.config.js"])

    values = _node_import(project, "imcloud.config.js")

    assert values == {
        "APP_KEY": app.app_key,
        "LBS_URL": "https://im.example.com/api/v1/lbs",
        "ENDPOINTS": GATEWAYS,
        "HTTP_ENDPOINTS": http_bases,
    }
    types = files[f"{TS}/imcloud.config.d.ts"].decode()
    for name in values:
        assert f"export declare const {name}: " in types


def test_config_values_are_escaped_not_interpreted(
    app: App, checkout: FakeCheckout, settings: Any, tmp_path: Path
) -> None:
    odd = ['ws://h/ws?a="b"', "ws://h/ws\\'\n"]
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_URLS": odd}
    files = entries(_build(app, "typescript", public_url="https://h/x'\"\u2028"))
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "imcloud.config.js").write_bytes(files[f"{TS}/imcloud.config.js"])
    (tmp_path / "imcloud_config.py").write_bytes(
        entries(_build(app, "python", "https://h/x'\"\u2028"))[f"{PY}/imcloud_config.py"]
    )

    assert _node_import(tmp_path, "imcloud.config.js")["ENDPOINTS"] == odd
    python_values = runpy.run_path(str(tmp_path / "imcloud_config.py"))
    assert python_values["ENDPOINTS"] == odd
    assert python_values["LBS_URL"] == "https://h/x'\"\u2028/api/v1/lbs"


def test_public_url_setting_wins_over_the_request(settings: Any) -> None:
    settings.IMCLOUD = {**settings.IMCLOUD, "PUBLIC_URL": "https://im.example.com/"}

    assert sdk_archive.public_base_url(request_base="http://10.0.0.5:8000/") == "https://im.example.com"


def test_a_public_url_without_a_scheme_is_a_configuration_error(settings: Any) -> None:
    settings.IMCLOUD = {**settings.IMCLOUD, "PUBLIC_URL": "im.example.com"}

    with pytest.raises(ImproperlyConfigured):
        sdk_archive.public_base_url(request_base="http://10.0.0.5:8000/")


def test_without_the_setting_the_request_base_is_the_public_url(settings: Any) -> None:
    settings.IMCLOUD = {key: value for key, value in settings.IMCLOUD.items() if key != "PUBLIC_URL"}

    assert sdk_archive.public_base_url(request_base="http://10.0.0.5:8000/") == "http://10.0.0.5:8000"


def test_python_quick_start_has_the_commands_key_and_a_valid_snippet(
    app: App, checkout: FakeCheckout
) -> None:
    quick = entries(_build(app, "python"))[f"{PY}/QUICKSTART.md"].decode()

    assert app.app_key in quick
    assert "0.3.1" in quick
    assert f"unzip {PY}-{app.app_key[:8]}.zip" in quick
    assert f"pip install ./{PY}\n" in quick
    snippet = quick.split("```python\n", 1)[1].split("```", 1)[0]
    assert snippet == sdk_archive.PYTHON_SNIPPET
    compile(snippet, "chat.py", "exec")
    assert "from imcloud_sdk import Client, ClientOptions" in snippet
    assert "await client.login(" in snippet
    assert "await client.send_text(" in snippet
    assert len([line for line in snippet.splitlines() if line.strip()]) <= 12


def test_typescript_quick_start_snippet_parses_as_an_es_module(
    app: App, checkout: FakeCheckout, tmp_path: Path
) -> None:
    quick = entries(_build(app, "typescript"))[f"{TS}/QUICKSTART.md"].decode()

    assert app.app_key in quick
    assert f"npm install ./{TS}\n" in quick
    assert "npm pkg set type=module" in quick
    assert "npm run build" not in quick  # the fake checkout has dist/
    snippet = quick.split("```js\n", 1)[1].split("```", 1)[0]
    assert snippet == sdk_archive.TYPESCRIPT_SNIPPET
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "chat.js").write_text(snippet)
    node = shutil.which("node")
    assert node
    subprocess.run([node, "--check", "chat.js"], cwd=tmp_path, check=True, timeout=60)
    assert 'from "@imcloud/sdk"' in snippet
    assert "client.sendText(" in snippet


def test_without_dist_the_typescript_quick_start_builds_it_first(app: App, checkout: FakeCheckout) -> None:
    shutil.rmtree(checkout.typescript / "dist")

    quick = entries(_build(app, "typescript"))[f"{TS}/QUICKSTART.md"].decode()

    commands = quick.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    build = commands.index(f"(cd {TS} && npm install && npm run build)  # compiles dist/")
    assert build < commands.index(f"npm install ./{TS}")
    assert {info.spec.name: info.needs_build for info in sdk_archive.sdk_infos()} == {
        "python": False,
        "typescript": True,
    }


# --- Determinism -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", ["python", "typescript"])
def test_same_inputs_give_the_same_bytes_whatever_the_file_times(
    app: App, checkout: FakeCheckout, sdk: str
) -> None:
    first = _build(app, sdk)
    for path in checkout.root.rglob("*"):
        if not path.is_symlink():
            os.utime(path, (1_900_000_000, 1_900_000_000))

    assert _build(app, sdk) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {info.filename: info.external_attr >> 16 & 0o777 for info in infos}
    assert set(modes.values()) <= {0o644, 0o755}
    if sdk == "python":
        assert modes[f"{PY}/examples/chat.py"] == 0o755
        assert modes[f"{PY}/README.md"] == 0o644


def test_a_changed_source_file_changes_the_archive(app: App, checkout: FakeCheckout) -> None:
    first = _build(app, "python")
    (checkout.python / "README.md").write_text("# imcloud-sdk, revised\n")

    assert _build(app, "python") != first


def test_archives_of_two_apps_differ_only_by_their_presets(app: App, checkout: FakeCheckout) -> None:
    other = AppFactory(owner=app.owner, name=app.name)

    mine, theirs = entries(_build(app, "python")), entries(_build(other, "python"))

    differing = {name for name in mine if mine[name] != theirs[name]}
    assert differing == {f"{PY}/imcloud_config.py", f"{PY}/QUICKSTART.md"}
    assert other.app_key.encode() in theirs[f"{PY}/imcloud_config.py"]
    assert app.app_key.encode() not in b"".join(theirs.values())


# --- Names, versions, failures ---------------------------------------------------------------------


def test_filename_carries_the_sdk_and_the_app_key_prefix(app: App, checkout: FakeCheckout) -> None:
    archive = build_sdk_archive(app=app, sdk="typescript", public_url=PUBLIC_URL)

    assert archive.filename == f"imcloud-sdk-typescript-{app.app_key[:8]}.zip"
    assert archive.version == "0.2.0"


def test_versions_come_from_the_manifests(checkout: FakeCheckout) -> None:
    infos = {info.spec.name: info for info in sdk_archive.sdk_infos()}

    assert (infos["python"].available, infos["python"].version) == (True, "0.3.1")
    assert (infos["typescript"].available, infos["typescript"].version) == (True, "0.2.0")


def test_unreadable_manifest_gives_no_version(app: App, checkout: FakeCheckout) -> None:
    (checkout.typescript / "package.json").write_text("{not json")

    archive = build_sdk_archive(app=app, sdk="typescript", public_url=PUBLIC_URL)

    assert archive.version is None
    assert f"{TS}/package.json" in entries(archive.content)


def test_unknown_sdk_is_refused(app: App, checkout: FakeCheckout) -> None:
    with pytest.raises(UnknownSdk):
        _build(app, "../python")


def test_missing_sdk_folder_is_unavailable(app: App, checkout: FakeCheckout) -> None:
    shutil.rmtree(checkout.python)

    assert not {info.spec.name: info for info in sdk_archive.sdk_infos()}["python"].available
    with pytest.raises(SdkUnavailable):
        _build(app, "python")


# --- The real SDK folders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sdk", "config"),
    [("python", f"{PY}/imcloud_config.py"), ("typescript", f"{TS}/imcloud.config.js")],
)
def test_archive_of_the_real_sdk_folders_opens_with_preset_and_quick_start(
    app: App, settings: Any, sdk: str, config: str
) -> None:
    settings.IMCLOUD = {key: value for key, value in settings.IMCLOUD.items() if key != "SDK_ROOT"}
    assert sdk_archive.sdk_root() == Path(django_settings.BASE_DIR)

    files = entries(_build(app, sdk))

    folder = config.split("/", 1)[0]
    assert app.app_key.encode() in files[config]
    assert app.app_key.encode() in files[f"{folder}/QUICKSTART.md"]
    assert app.secret.encode() not in b"".join(files.values())
