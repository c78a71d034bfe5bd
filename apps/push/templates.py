"""Notification templates: text with {sender}, {team} and {preview}, and {{ }} for braces.

Checked when saved (by the service, whoever calls it) so that the workers, which fill them in for
every notification, never meet a template they cannot format.
"""

from __future__ import annotations

import string

from apps.core.errors import InvalidField

PLACEHOLDERS = ("sender", "team", "preview")
SAMPLE_VALUES = {"sender": "Alice", "team": "Weekend hikers", "preview": "See you at nine?"}
TEMPLATE_FIELDS = ("p2p_title", "p2p_body", "team_title", "team_body")


def check_template(value: str, *, field: str) -> None:
    names = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError:
        raise InvalidField(
            "A brace is not closed. Write {{ and }} for literal braces.", field=field
        ) from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise InvalidField(f"Unknown placeholder {{{name}}}: use {names}.", field=field)
        if spec or conversion:
            # A format spec would run on every notification: {preview:>100000000} builds huge strings.
            raise InvalidField(f"Write the placeholder as {{{name}}}, without a format.", field=field)
    try:
        value.format_map(SAMPLE_VALUES)
    except (KeyError, IndexError, ValueError, AttributeError):
        raise InvalidField(f"This template cannot be filled in: use {names}.", field=field) from None
