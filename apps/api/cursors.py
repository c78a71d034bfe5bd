"""Opaque page cursors: clients pass back what we gave them and must not build their own."""

from __future__ import annotations

import base64
import binascii
import json

from apps.core.errors import InvalidField


def cursor_encode(*, after_id: int) -> str:
    raw = json.dumps({"a": after_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)["a"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidField("cursor is not one this API returned.", field="cursor") from exc
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidField("cursor is not one this API returned.", field="cursor")
    return value


def limit_parse(raw: str | None, *, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidField(f"limit is an integer from 1 to {maximum}.", field="limit") from None
    if not 1 <= value <= maximum:
        raise InvalidField(f"limit is an integer from 1 to {maximum}.", field="limit")
    return value
