"""Whether a string can be stored at all: checked where input enters the domain layer."""

from __future__ import annotations


def storable(value: str) -> bool:
    """False for text PostgreSQL cannot hold (NUL) or UTF-8 cannot encode (a lone surrogate, which
    a JSON ``\\ud800`` escape decodes to). Such a string would fail in the database, and in a
    batched send it would fail the whole batch, so it is refused up front as bad input."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
