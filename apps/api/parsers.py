"""JSON bodies with a size cap, read without trusting Content-Length."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from apps.core.conf import setting_int


class BodyTooLarge(ParseError):
    default_code = "body_too_large"


def _refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON, though Python's parser accepts them.
    raise ValueError(f"{name} is not valid JSON")


class LimitedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        cap = setting_int("API_MAX_BODY_BYTES")
        raw = stream.read(cap + 1) if stream is not None else b""
        if len(raw) > cap:
            raise BodyTooLarge(f"The body is over {cap} bytes.", code="body_too_large")
        if not raw.strip():
            return {}
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}", code="invalid_json") from exc
