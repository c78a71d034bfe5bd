"""ImError: every failure the SDK reports, with a stable `code` (server codes pass through as is)."""

from __future__ import annotations

from typing import Any

# Codes the SDK itself raises; the server's codes (docs/protocol.md) are used unchanged.
TIMEOUT = "timeout"
CLOSED = "closed"
NOT_LOGGED_IN = "not_logged_in"
PROTOCOL_MISMATCH = "protocol_mismatch"
GARBAGE_FRAME = "garbage_frame"
SEND_FAILED = "send_failed"
KICKED = "kicked"
CONNECT_FAILED = "connect_failed"
UNSUPPORTED_OVER_HTTP = "unsupported_over_http"
CONNECTION_LOST = "connection_lost"
# The server's answer to a frame over its rate limit: the request was not carried out, send it later.
RATE_LIMITED = "rate_limited"

# Login refusals: the credentials or the app are wrong, so retrying cannot help.
AUTH_CODES = frozenset({"unknown_app", "bad_credentials", "blocked", "invalid_field"})


class ImError(Exception):
    def __init__(self, code: str, message: str = "", **details: Any) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"ImError({self.code!r}, {self.message!r})"
