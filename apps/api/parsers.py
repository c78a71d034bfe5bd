"""JSON bodies with a size cap, read without trusting Content-Length."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class BodyTooLarge(ParseError):
    default_code = "body_too_large"


class LimitedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None
    ) -> Any:
        cap: int = settings.IMCLOUD["API_MAX_BODY_BYTES"]
        raw = stream.read(cap + 1) if stream is not None else b""
        if len(raw) > cap:
            raise BodyTooLarge(f"The body is over {cap} bytes.", code="body_too_large")
        if not raw.strip():
            return {}
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}", code="invalid_json") from exc
