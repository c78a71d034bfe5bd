"""Typed access to the product settings in ``settings.IMCLOUD``, read at call time."""

from __future__ import annotations

from django.conf import settings


def setting_int(name: str) -> int:
    value = settings.IMCLOUD[name]
    if not isinstance(value, int):
        raise TypeError(f"IMCLOUD[{name!r}] must be an int, not {type(value).__name__}")
    return value


def setting_str(name: str) -> str:
    value = settings.IMCLOUD[name]
    if not isinstance(value, str):
        raise TypeError(f"IMCLOUD[{name!r}] must be a str, not {type(value).__name__}")
    return value
