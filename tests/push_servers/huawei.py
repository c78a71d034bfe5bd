"""A local Huawei Push Kit: the OAuth 2.0 token endpoint and ``POST /v1/{app_id}/messages:send``.

``POST /oauth2/v3/token`` (client_credentials; client_id = app id) issues an access token.
messages:send checks the bearer token and that it was issued for the app in the path (HTTP 401
with 80200001 / 80200003 otherwise), validates the message the way Push Kit documents it (codes
80100001 / 80100003 / 80100013 / 80300010) and answers ``{"code", "msg", "requestId"}``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from tests.push_servers.base import PushServer, Request, Response, Scripted, run_cli

TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-+/=.:]{32,512}$")
TTL_RE = re.compile(r"^\d+(\.\d+)?s$")
TOKEN_ENDPOINT = "(token endpoint)"  # the script key of the OAuth endpoint
ACCESS_TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class Received:
    app_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    access_token: str


class HuaweiServer(PushServer):
    name = "huawei"

    def __init__(self) -> None:
        self.apps: dict[str, str] = {}  # app id -> client secret
        super().__init__()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.delivered: list[Received] = []
            self.token_requests: list[dict[str, str]] = []
            self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (app id, expires)
            self.send_attempts = 0

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/v3/token"

    def register_app(self, app_id: str = "104857601", client_secret: str | None = None) -> dict[str, str]:
        secret = client_secret or secrets.token_hex(32)
        with self.lock:
            self.apps[app_id] = secret
        return {"app_id": app_id, "client_secret": secret}

    def fail_token_requests(
        self,
        status: int,
        error: str = "",
        *,
        message: str = "",
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next token request(s) with ``status`` and an OAuth error body."""
        self.script(TOKEN_ENDPOINT, Scripted(status, error, retry_after, times, message))

    def revoke_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    def set_error(
        self,
        token: str,
        code: str,
        *,
        http_status: int = 200,
        msg: str = "",
        retry_after: str | None = None,
        times: int | None = None,
    ) -> None:
        self.script(token, Scripted(http_status, code, retry_after, times, msg))

    # --- protocol ---------------------------------------------------------------------------------
    @staticmethod
    def _result(http_status: int, code: str, msg: str, retry_after: str | None = None) -> Response:
        headers = [("retry-after", retry_after)] if retry_after is not None else []
        body = {"code": code, "msg": msg, "requestId": secrets.token_hex(12)}
        return Response.json(http_status, body, headers)

    def handle(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/oauth2/v3/token":
            return self._token(request)
        match = re.fullmatch(r"/v1/([^/]+)/messages:send", request.path)
        if match is not None and request.method == "POST":
            return self._send(request, match.group(1))
        return Response.json(404, {"error": "not found"})

    def _token(self, request: Request) -> Response:
        form = request.form()
        self.token_requests.append(form)
        scripted = self.take_script(TOKEN_ENDPOINT)
        if scripted is not None:
            headers = [("retry-after", scripted.retry_after)] if scripted.retry_after is not None else []
            return Response.json(
                scripted.status,
                {"error": scripted.error or 1203, "error_description": scripted.message},
                headers,
            )
        if form.get("grant_type") != "client_credentials":
            return Response.json(
                400, {"error": 1102, "sub_error": 20003, "error_description": "unsupported grant type"}
            )
        app_id = form.get("client_id", "")
        if app_id not in self.apps or not secrets.compare_digest(
            self.apps[app_id], form.get("client_secret", "")
        ):
            return Response.json(
                400, {"error": 1101, "sub_error": 20001, "error_description": "invalid client"}
            )
        access_token = "CV" + secrets.token_urlsafe(40)
        self.access_tokens[access_token] = (app_id, self.now() + ACCESS_TOKEN_LIFETIME)
        return Response.json(
            200, {"access_token": access_token, "expires_in": ACCESS_TOKEN_LIFETIME, "token_type": "Bearer"}
        )

    def _send(self, request: Request, app_id: str) -> Response:
        self.send_attempts += 1
        scheme, _, access_token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not access_token:
            return self._result(401, "80200001", "Oauth authentication error")
        issued = self.access_tokens.get(access_token)
        if issued is None or issued[1] < self.now():
            return self._result(401, "80200003", "Oauth Token expired.")
        if issued[0] != app_id:
            return self._result(401, "80200001", "Oauth authentication error")
        try:
            body = request.json()
            message = body["message"]
        except (ValueError, KeyError, TypeError):
            return self._result(400, "80100003", "Incorrect message structure")
        problem = _message_problem(message)
        if problem:
            return self._result(400, *problem)
        token = message["token"][0]
        if not TOKEN_RE.fullmatch(token):
            return self._result(200, "80300007", "All the tokens are invalid")
        scripted = self.take_script(token)
        if scripted is not None:
            return self._result(scripted.status, scripted.error, scripted.message, scripted.retry_after)
        self.delivered.append(Received(app_id, body, dict(request.headers), access_token))
        response = self._result(200, "80000000", "Success")
        response.delay = self.delay_for(token)
        return response


def _message_problem(message: Any) -> tuple[str, str] | None:
    if not isinstance(message, dict):
        return "80100003", "Incorrect message structure"
    tokens = message.get("token")
    if (
        not isinstance(tokens, list)
        or not 1 <= len(tokens) <= 1000
        or not all(isinstance(t, str) for t in tokens)
    ):
        return "80300010", "The number of tokens in the message body exceeds the default value"
    if "data" in message and not isinstance(message["data"], str):
        return "80100003", "Incorrect message structure: data must be a string"
    android = message.get("android", {})
    if not isinstance(android, dict):
        return "80100003", "Incorrect message structure"
    if android.get("urgency", "NORMAL") not in {"HIGH", "NORMAL"}:
        return "80100001", "Some request parameters are incorrect: urgency"
    if "ttl" in android and not (isinstance(android["ttl"], str) and TTL_RE.fullmatch(android["ttl"])):
        return "80100001", "Some request parameters are incorrect: ttl"
    collapse_key = android.get("collapse_key", -1)
    if not isinstance(collapse_key, int) or not -1 <= collapse_key <= 100:
        return "80100013", "The collapse_key message field is invalid"
    notification = android.get("notification")
    if not isinstance(notification, dict):
        return "80100003", "Incorrect message structure: android.notification"
    if not isinstance(notification.get("title"), str) or not isinstance(notification.get("body"), str):
        return "80100003", "Incorrect message structure: title and body are mandatory"
    click_action = notification.get("click_action")
    if not isinstance(click_action, dict) or click_action.get("type") not in {1, 2, 3, 4}:
        return "80100003", "Incorrect message structure: click_action.type"
    badge = notification.get("badge")
    if badge is not None and (not isinstance(badge, dict) or not badge.get("class")):
        return "80100003", "Incorrect message structure: badge.class is mandatory"
    return None


def main() -> None:
    server = HuaweiServer()
    run_cli(
        server,
        setup=lambda _: server.cli_info.update(credentials=server.register_app(), token_url=server.token_url),
    )


if __name__ == "__main__":
    main()
