"""Per-app client SDK downloads: a .zip of one SDK's sources plus a config preset for the app.

The archive is built from the SDK folders of the deployed checkout on every request. Building
takes milliseconds, and a cache keyed by the SDK version would hand out stale files whenever the
SDK changes without a version bump (which is how it is developed), so nothing is cached.

What goes in is decided by an allow-list per SDK (the files a developer needs to install and read
the SDK), minus a deny-list applied everywhere (dependencies, caches, tests, hidden files and
anything that looks like a key), and symlinks are never followed: the SDK folders sit in a
checkout that also holds the server's configuration, and a stray file there must not leak into a
download. The app's AppSecret is checked for in every entry as a last line of defence; the preset
carries the AppKey only, which client apps ship anyway.

The bytes depend only on the inputs (the files, the app key and name, the URLs): entries are
sorted, timestamps fixed and file modes normalised, so two downloads of the same SDK compare equal.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.api.lbs import gateway_urls, http_urls
from apps.tenants.models import App

LBS_PATH = "/api/v1/lbs"
# The earliest timestamp a zip entry can hold; any fixed value keeps archives reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
APP_KEY_PREFIX_LENGTH = 8
# Refuse to build (rather than fill the server's memory) if an SDK folder grows far beyond an SDK.
MAX_SOURCE_BYTES = 64 * 1024 * 1024

# Skipped wherever they appear, even inside an allowed folder.
EXCLUDED_DIRS = frozenset({"node_modules", "__pycache__", "tests", "test", "__tests__"})
EXCLUDED_SUFFIXES = (
    *(".pyc", ".pyo", ".tsbuildinfo", ".log", ".sqlite3"),
    *(".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"),
)
EXCLUDED_NAME_PARTS = ("secret", "id_rsa", "id_ed25519", ".test.", ".spec.")


class SdkArchiveError(Exception):
    """The archive cannot be built from what is on disk."""


class UnknownSdk(SdkArchiveError):
    pass


class SdkUnavailable(SdkArchiveError):
    """The SDK's folder is missing from this deployment."""


@dataclass(frozen=True)
class Source:
    """Files copied from ``directory`` (relative to the SDK root) into ``dest`` in the archive folder.

    ``include`` holds exact relative paths and ``folder/**`` patterns (everything below folder)."""

    directory: str
    include: tuple[str, ...]
    dest: str = ""

    def allows(self, relative: PurePosixPath) -> bool:
        text = relative.as_posix()
        for pattern in self.include:
            if pattern.endswith("/**"):
                if text.startswith(pattern[: -len("**")]):
                    return True
            elif text == pattern:
                return True
        return False


@dataclass(frozen=True)
class SdkSpec:
    name: str
    label: str
    folder: str  # the one top-level folder of the archive
    manifest: str  # the file in the SDK's directory that holds its version
    sources: tuple[Source, ...]
    # Build output the package cannot be installed without (not in git: present once built).
    built_folder: str | None = None

    @property
    def directory(self) -> str:
        return self.sources[0].directory


PYTHON = SdkSpec(
    name="python",
    label="Python",
    folder="imcloud-sdk-python",
    manifest="pyproject.toml",
    sources=(
        Source("sdk_clients/python", ("pyproject.toml", "README.md", "src/imcloud_sdk/**", "examples/**")),
    ),
)
TYPESCRIPT = SdkSpec(
    name="typescript",
    label="TypeScript",
    folder="imcloud-sdk-typescript",
    manifest="package.json",
    sources=(
        Source(
            "sdk_clients/typescript",
            # tsconfig.json too, so that `npm run build` works when the archive has no dist/.
            ("package.json", "README.md", "tsconfig.json", "src/**", "dist/**", "examples/**"),
        ),
        Source("static/sdk", ("imcloud-sdk.js",), dest="browser"),
    ),
    built_folder="dist",
)
SDKS: dict[str, SdkSpec] = {spec.name: spec for spec in (PYTHON, TYPESCRIPT)}


@dataclass(frozen=True)
class Preset:
    """What an SDK needs to reach imcloud for one app; nothing in it is secret."""

    app_key: str
    app_name: str
    lbs_url: str
    endpoints: tuple[str, ...]
    http_endpoints: tuple[str, ...]


@dataclass(frozen=True)
class SdkArchive:
    filename: str
    content: bytes
    version: str | None


@dataclass(frozen=True)
class SdkInfo:
    spec: SdkSpec
    available: bool
    version: str | None
    needs_build: bool


# --- Settings and presets --------------------------------------------------------------------------


def sdk_root() -> Path:
    """The checkout the archives are built from (``IMCLOUD['SDK_ROOT']``, default the project)."""
    configured: Any = settings.IMCLOUD.get("SDK_ROOT") or settings.BASE_DIR
    return Path(configured)


def public_base_url(*, request_base: str) -> str:
    """The site's public address: ``IMCLOUD['PUBLIC_URL']`` when set, else the request's own."""
    configured: Any = settings.IMCLOUD.get("PUBLIC_URL")
    if not configured:
        return request_base.rstrip("/")
    if not isinstance(configured, str) or not configured.startswith(("http://", "https://")):
        raise ImproperlyConfigured("IMCLOUD['PUBLIC_URL'] must be an http:// or https:// URL")
    return configured.rstrip("/")


def preset_for(*, app: App, public_url: str) -> Preset:
    return Preset(
        app_key=app.app_key,
        app_name=app.name,
        lbs_url=public_url.rstrip("/") + LBS_PATH,
        endpoints=tuple(gateway_urls()),
        http_endpoints=tuple(http_urls()),
    )


# --- Generated files -------------------------------------------------------------------------------

CONFIG_HEADER = (
    "imcloud SDK preset, generated by the imcloud console for one app.\n"
    "The AppKey names the app and is meant to ship inside client apps. The AppSecret is not here\n"
    "on purpose: it signs server API calls and must stay on your servers.\n"
)


def _py_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(repr(value) for value in values) + "]"


def python_config(preset: Preset) -> str:
    header = "".join(f"# {line}\n" for line in CONFIG_HEADER.splitlines())
    return (
        f"{header}\n"
        f"APP_KEY = {preset.app_key!r}\n"
        f"LBS_URL = {preset.lbs_url!r}\n"
        f"ENDPOINTS = {_py_list(preset.endpoints)}\n"
        f"HTTP_ENDPOINTS = {_py_list(preset.http_endpoints)}\n"
    )


def _js(value: str | tuple[str, ...]) -> str:
    # JSON string and array literals are JavaScript literals; ASCII-only keeps U+2028 escaped too.
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def typescript_config(preset: Preset) -> str:
    header = "".join(f"// {line}\n" for line in CONFIG_HEADER.splitlines())
    return (
        f"{header}\n"
        f"export const APP_KEY = {_js(preset.app_key)};\n"
        f"export const LBS_URL = {_js(preset.lbs_url)};\n"
        f"export const ENDPOINTS = {_js(preset.endpoints)};\n"
        f"export const HTTP_ENDPOINTS = {_js(preset.http_endpoints)};\n"
    )


TYPESCRIPT_CONFIG_TYPES = (
    "// Types of imcloud.config.js (the imcloud SDK preset for one app).\n"
    "export declare const APP_KEY: string;\n"
    "export declare const LBS_URL: string;\n"
    "export declare const ENDPOINTS: string[];\n"
    "export declare const HTTP_ENDPOINTS: string[];\n"
)

PYTHON_SNIPPET = """\
import asyncio, os
from imcloud_sdk import Client, ClientOptions
from imcloud_config import APP_KEY, ENDPOINTS, HTTP_ENDPOINTS, LBS_URL

async def main() -> None:
    client = Client(ClientOptions(app_key=APP_KEY, lbs_url=LBS_URL,
                                  endpoints=ENDPOINTS, http_endpoints=HTTP_ENDPOINTS))
    client.on("message", lambda m: print(f"{m.from_accid}: {m.text}"))
    await client.login(os.environ["IM_ACCID"], os.environ["IM_TOKEN"])
    await client.send_text(os.environ.get("IM_PEER", "bob"), "Hello from imcloud")
    await asyncio.sleep(60)  # print what arrives for a minute
    await client.close()

asyncio.run(main())
"""

TYPESCRIPT_SNIPPET = """\
import { Client } from "@imcloud/sdk";
import { APP_KEY, ENDPOINTS, HTTP_ENDPOINTS, LBS_URL } from "./imcloud.config.js";

const client = new Client({ appKey: APP_KEY, lbsUrl: LBS_URL,
                            endpoints: ENDPOINTS, httpEndpoints: HTTP_ENDPOINTS });
client.on("message", (m) => console.log(`${m.fromAccid}: ${m.text}`));
await client.login(process.env.IM_ACCID, process.env.IM_TOKEN);
await client.sendText(process.env.IM_PEER ?? "bob", "Hello from imcloud");
await new Promise((resolve) => setTimeout(resolve, 60_000)); // print what arrives for a minute
await client.close();
"""


def python_commands(spec: SdkSpec, filename: str) -> str:
    return (
        f"unzip {filename}\n"
        "python3 -m venv .venv && . .venv/bin/activate\n"
        f"pip install ./{spec.folder}\n"
        f"cp {spec.folder}/imcloud_config.py .\n"
        "# save the snippet below as chat.py, then:\n"
        "IM_ACCID=alice IM_TOKEN=<alice's token> python chat.py\n"
    )


def typescript_commands(spec: SdkSpec, filename: str, *, needs_build: bool) -> str:
    # The project is the folder the archive is unzipped in: npm installs the dependencies of a
    # folder package only when it sits inside the project (one outside is merely symlinked).
    build = f"(cd {spec.folder} && npm install && npm run build)  # compiles dist/\n" if needs_build else ""
    return (
        f"unzip {filename}\n"
        f"{build}"
        "npm init -y && npm pkg set type=module\n"
        f"npm install ./{spec.folder}\n"
        f"cp {spec.folder}/imcloud.config.js {spec.folder}/imcloud.config.d.ts .\n"
        "# save the snippet below as chat.js, then:\n"
        "IM_ACCID=alice IM_TOKEN=<alice's token> node chat.js\n"
    )


@dataclass(frozen=True)
class QuickStart:
    commands: str
    snippet: str
    snippet_language: str


def quick_start(spec: SdkSpec, preset: Preset, *, needs_build: bool = False) -> QuickStart:
    filename = archive_filename(spec, preset.app_key)
    if spec is PYTHON:
        return QuickStart(python_commands(spec, filename), PYTHON_SNIPPET, "python")
    return QuickStart(typescript_commands(spec, filename, needs_build=needs_build), TYPESCRIPT_SNIPPET, "js")


def quickstart_markdown(spec: SdkSpec, preset: Preset, version: str | None, *, needs_build: bool) -> str:
    start = quick_start(spec, preset, needs_build=needs_build)
    config = "imcloud_config.py" if spec is PYTHON else "imcloud.config.js"
    endpoints = ", ".join(preset.endpoints) or "(none)"
    http_endpoints = ", ".join(preset.http_endpoints) or "(none)"
    lines = [
        f"# imcloud {spec.label} SDK {version or ''}".rstrip() + " — quick start",
        "",
        f"Preset for the app “{preset.app_name}”, AppKey `{preset.app_key}`.",
        "",
        f"`{config}` holds everything the SDK needs to reach imcloud:",
        "",
        f"- AppKey: `{preset.app_key}`",
        f"- LBS URL: {preset.lbs_url}",
        f"- WebSocket endpoints (used when LBS does not answer): {endpoints}",
        f"- HTTP short-link endpoints: {http_endpoints}",
        "",
        "It holds no AppSecret: that signs server API calls and stays on your servers. Your server",
        "creates each end user (`POST /api/v1/users`) and hands the returned token to that user's app.",
        "",
        "## Install and run",
        "",
        "```sh",
        start.commands.rstrip("\n"),
        "```",
        "",
        "## A chat client in a dozen lines",
        "",
        f"```{start.snippet_language}",
        start.snippet.rstrip("\n"),
        "```",
        "",
    ]
    if spec is TYPESCRIPT:
        lines += [
            "In a browser, import `browser/imcloud-sdk.js` (one ES module, no dependencies) instead of",
            "`@imcloud/sdk`.",
            "",
        ]
    lines += ["See README.md for every option of the connection manager.", ""]
    return "\n".join(lines)


# --- Collecting and packing ------------------------------------------------------------------------


def get_spec(name: str) -> SdkSpec:
    try:
        return SDKS[name]
    except KeyError:
        raise UnknownSdk(f"No SDK called {name!r}.") from None


def archive_filename(spec: SdkSpec, app_key: str) -> str:
    return f"{spec.folder}-{app_key[:APP_KEY_PREFIX_LENGTH]}.zip"


def _excluded_dir(name: str) -> bool:
    return name.startswith(".") or name in EXCLUDED_DIRS


def _excluded_file(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered.startswith(".")
        or lowered.endswith(EXCLUDED_SUFFIXES)
        or any(part in lowered for part in EXCLUDED_NAME_PARTS)
        or (lowered.endswith(".py") and (lowered.startswith("test_") or lowered.endswith("_test.py")))
        or lowered == "conftest.py"
    )


def _walk(top: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """Every regular, non-excluded file below ``top``, as (path relative to top, absolute path)."""
    for current, dirs, files in os.walk(top, followlinks=False):
        base = Path(current)
        # os.walk lists symlinked directories in dirs without entering them (followlinks=False).
        dirs[:] = sorted(d for d in dirs if not _excluded_dir(d) and not (base / d).is_symlink())
        for name in sorted(files):
            path = base / name
            if _excluded_file(name):
                continue
            mode = path.lstat().st_mode
            if not stat.S_ISREG(mode):  # symlinks, sockets, fifos
                continue
            yield PurePosixPath(path.relative_to(top).as_posix()), path


@dataclass(frozen=True)
class _Entry:
    name: str
    data: bytes
    executable: bool = False


def _source_entries(spec: SdkSpec, root: Path) -> list[_Entry]:
    entries: list[_Entry] = []
    total = 0
    for source in spec.sources:
        top = root / source.directory
        if not top.is_dir():
            continue
        for relative, path in _walk(top):
            if not source.allows(relative):
                continue
            data = path.read_bytes()
            total += len(data)
            if total > MAX_SOURCE_BYTES:
                raise SdkArchiveError(f"The {spec.label} SDK sources exceed {MAX_SOURCE_BYTES} bytes.")
            name = PurePosixPath(spec.folder, source.dest, relative).as_posix()
            entries.append(_Entry(name, data, executable=bool(path.stat().st_mode & stat.S_IXUSR)))
    return entries


def sdk_version(spec: SdkSpec, root: Path | None = None) -> str | None:
    """The version in the SDK's manifest, or None when it is missing or unreadable."""
    path = (root or sdk_root()) / spec.directory / spec.manifest
    try:
        if spec.manifest.endswith(".toml"):
            version: Any = tomllib.loads(path.read_text("utf-8")).get("project", {}).get("version")
        else:
            version = json.loads(path.read_text("utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def sdk_available(spec: SdkSpec, root: Path | None = None) -> bool:
    return ((root or sdk_root()) / spec.directory).is_dir()


def sdk_needs_build(spec: SdkSpec, root: Path | None = None) -> bool:
    """Whether the SDK's build output is missing, so that users must build it before installing."""
    return (
        spec.built_folder is not None
        and not ((root or sdk_root()) / spec.directory / spec.built_folder).is_dir()
    )


def sdk_infos(root: Path | None = None) -> list[SdkInfo]:
    root = root or sdk_root()
    return [
        SdkInfo(spec, sdk_available(spec, root), sdk_version(spec, root), sdk_needs_build(spec, root))
        for spec in SDKS.values()
    ]


def _zip(entries: list[_Entry]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for entry in sorted(entries, key=lambda e: e.name):
            info = zipfile.ZipInfo(entry.name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the server runs, so the modes below are read
            info.external_attr = (stat.S_IFREG | (0o755 if entry.executable else 0o644)) << 16
            archive.writestr(info, entry.data, compresslevel=9)
    return buffer.getvalue()


def build_sdk_archive(*, app: App, sdk: str, public_url: str, root: Path | None = None) -> SdkArchive:
    """The ``sdk`` SDK ("python" or "typescript") as a zip preset for ``app``."""
    spec = get_spec(sdk)
    root = root or sdk_root()
    if not sdk_available(spec, root):
        raise SdkUnavailable(f"The {spec.label} SDK is not installed on this server.")
    preset = preset_for(app=app, public_url=public_url)
    version = sdk_version(spec, root)
    entries = _source_entries(spec, root)
    if spec is PYTHON:
        entries.append(_Entry(f"{spec.folder}/imcloud_config.py", python_config(preset).encode()))
    else:
        entries.append(_Entry(f"{spec.folder}/imcloud.config.js", typescript_config(preset).encode()))
        entries.append(_Entry(f"{spec.folder}/imcloud.config.d.ts", TYPESCRIPT_CONFIG_TYPES.encode()))
    entries.append(
        _Entry(
            f"{spec.folder}/QUICKSTART.md",
            quickstart_markdown(spec, preset, version, needs_build=sdk_needs_build(spec, root)).encode(),
        )
    )
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise SdkArchiveError(f"The {spec.label} SDK already has a file the console generates.")
    secret = app.secret.encode()
    if any(secret in entry.data for entry in entries):
        raise SdkArchiveError(f"A file of the {spec.label} SDK contains this app's AppSecret.")
    return SdkArchive(filename=archive_filename(spec, app.app_key), content=_zip(entries), version=version)
