"""One error envelope for the server API: ``{"code", "detail", "field"?, "errors"?}``.

Domain errors raised by services and DRF's own exceptions both end here, so a client branches on
``code`` alone. docs/rest-api.md lists every code.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response

from apps.api.auth import SignatureError
from apps.core.errors import DomainError, error_body

logger = logging.getLogger(__name__)


def _flatten(detail: Any) -> dict[str, list[str]]:
    """DRF's nested ValidationError detail as ``{"field.path": [messages]}``."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and not isinstance(value[0], str):
            for index, sub in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), sub)
        else:
            items = value if isinstance(value, list) else [value]
            out.setdefault(prefix or "body", []).extend(str(item) for item in items)

    walk("", detail)
    return out


def _validation_response(exc: exceptions.ValidationError) -> Response:
    errors = _flatten(exc.detail)
    field = next(iter(errors), "body")
    codes = exc.get_codes()
    first_code = codes.get(field) if isinstance(codes, dict) else None
    code = "unknown_field" if first_code == ["unknown_field"] else "invalid_field"
    if field in {"body", "non_field_errors"}:
        code, field = "invalid_body", "body"
    detail = f"{field}: {errors[next(iter(errors))][0]}" if errors else "Invalid request."
    return Response(error_body(code, detail, field=field, errors=errors), status=status.HTTP_400_BAD_REQUEST)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.detail, field=exc.field), status=exc.http_status)
    if isinstance(exc, SignatureError):
        response = Response(error_body(exc.error_code, str(exc.detail)), status=401)
        response["WWW-Authenticate"] = 'CheckSum realm="imcloud"'
        return response
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc)
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(getattr(exc, "wait", None) or 1))
        response = Response(
            error_body("rate_limited", "Too many requests for this app.", retry_after=wait),
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        mapping = {
            "parse_error": "invalid_json",
            "not_authenticated": "missing_header",
            "authentication_failed": "missing_header",
        }
        code = mapping.get(code, code)
        return Response(error_body(code, str(exc.detail)), status=exc.status_code)
    return None
