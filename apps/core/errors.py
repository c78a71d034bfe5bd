"""Domain errors with stable codes, shared by every transport (REST now, WebSocket later).

Services raise these; each transport maps them to its own envelope (HTTP status + JSON body, or a
protocol error frame). The codes are part of the public API: never rename one.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if code is not None:
            self.code = code


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class InvalidField(DomainError):
    code = "invalid_field"
    http_status = 400


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body
