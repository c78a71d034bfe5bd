"""Small checks shared by the providers' validate_credentials / validate_device."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apps.core.errors import InvalidField

# Android application ids and iOS bundle ids: dot-separated segments.
PACKAGE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
BUNDLE_ID_RE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def required_str(data: Mapping[str, Any], field: str, *, label: str = "", max_length: int = 4096) -> str:
    value = data.get(field)
    name = label or field
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidField(f"{name} is required.", field=field)
    if not isinstance(value, str):
        raise InvalidField(f"{name} must be a string.", field=field)
    value = value.strip()
    if len(value) > max_length:
        raise InvalidField(f"{name} must be at most {max_length} characters.", field=field)
    return value


def optional_str(data: Mapping[str, Any], field: str, *, max_length: int = 4096) -> str:
    if data.get(field) in (None, ""):
        return ""
    return required_str(data, field, max_length=max_length)


def matching(value: str, pattern: re.Pattern[str], *, field: str, message: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidField(message, field=field)
    return value


def check_token(token: str, pattern: re.Pattern[str], *, min_length: int, max_length: int, what: str) -> None:
    if not isinstance(token, str) or not token:
        raise InvalidField(f"The {what} is required.", field="token")
    if not min_length <= len(token) <= max_length:
        raise InvalidField(
            f"The {what} must be {min_length} to {max_length} characters (got {len(token)}).", field="token"
        )
    if not pattern.fullmatch(token):
        raise InvalidField(f"The {what} contains characters it cannot have.", field="token")


def check_bundle_id(bundle_id: str, *, what: str = "bundle id") -> None:
    if bundle_id and (len(bundle_id) > 255 or not BUNDLE_ID_RE.fullmatch(bundle_id)):
        raise InvalidField(f"The {what} {bundle_id[:80]!r} is not valid.", field="bundle_id")


def check_provider(device_provider: str, expected: str) -> None:
    if device_provider != expected:
        raise InvalidField(
            f"This device is for {device_provider!r}, not {expected!r}.",
            field="provider",
        )
