"""A local Xiaomi Mi Push: ``POST /v3/message/regid`` (form-encoded, ``Authorization: key=<AppSecret>``).

Answers as Mi Push does, HTTP 200 with ``{"result": "ok"|"error", "code", "reason",
"description", "trace_id"}``: 21301 for a bad AppSecret, 22022 for a package name the app does
not own, 10016 for a missing parameter, 10017 for an invalid one, 20301 when the registration id
is not valid ("No valid targets!").
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from tests.push_servers.base import PushServer, Request, Response, Scripted, run_cli

REGID_RE = re.compile(r"^[A-Za-z0-9+/=_\-:.]{16,256}$")
REQUIRED = ("registration_id", "restricted_package_name", "title", "description", "pass_through", "payload")


@dataclass(frozen=True)
class Received:
    form: dict[str, str]
    headers: dict[str, str]


class XiaomiServer(PushServer):
    name = "xiaomi"

    def __init__(self) -> None:
        self.apps: dict[str, str] = {}  # AppSecret -> package name
        super().__init__()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.delivered: list[Received] = []

    def register_app(
        self, package_name: str = "com.example.app", app_secret: str | None = None
    ) -> dict[str, str]:
        secret = app_secret or secrets.token_urlsafe(18)
        with self.lock:
            self.apps[secret] = package_name
        return {"app_secret": secret, "package_name": package_name}

    def set_error(
        self,
        regid: str,
        code: int,
        reason: str,
        *,
        http_status: int = 200,
        retry_after: str | None = None,
        times: int | None = None,
    ) -> None:
        self.script(regid, Scripted(http_status, str(code), retry_after, times, reason))

    # --- protocol ---------------------------------------------------------------------------------
    @staticmethod
    def _error(
        code: int, reason: str, description: str, *, status: int = 200, retry_after: str | None = None
    ) -> Response:
        body: dict[str, Any] = {
            "result": "error",
            "code": code,
            "reason": reason,
            "description": description,
            "trace_id": secrets.token_hex(12),
        }
        headers = [("retry-after", retry_after)] if retry_after is not None else []
        return Response.json(status, body, headers)

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v3/message/regid":
            return Response(404, b"Not Found")
        scheme, _, secret = request.headers.get("authorization", "").partition("=")
        if scheme != "key" or secret not in self.apps:
            return self._error(21301, "Authentication failed", "认证失败")
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self._error(10017, "Invalid parameter: content type", "参数值非法")
        form = request.form()
        missing = [name for name in REQUIRED if name not in form]
        if missing:
            return self._error(10016, f"Missing required parameter: {missing[0]}", "缺失必选参数")
        if form["restricted_package_name"] != self.apps[secret]:
            return self._error(22022, "Invalid package name", "应用程序package name不合法")
        for name in ("pass_through", "notify_type", "time_to_live", "notify_id"):
            if name in form and not re.fullmatch(r"-?\d+", form[name]):
                return self._error(10017, f"Invalid parameter: {name}", "参数值非法")
        if form["pass_through"] not in {"0", "1"}:
            return self._error(10017, "Invalid parameter: pass_through", "参数值非法")
        regid = form["registration_id"]
        if not REGID_RE.fullmatch(regid):
            return self._error(20301, "No valid targets!", "发送消息失败")
        scripted = self.take_script(regid)
        if scripted is not None:
            return self._error(
                int(scripted.error),
                scripted.message,
                scripted.message,
                status=scripted.status,
                retry_after=scripted.retry_after,
            )
        self.delivered.append(Received(form, dict(request.headers)))
        response = Response.json(
            200,
            {
                "result": "ok",
                "trace_id": secrets.token_hex(12),
                "code": 0,
                "data": {"id": "scm" + secrets.token_hex(10)},
                "description": "成功",
                "info": "Received push messages for 1 REGID",
            },
        )
        response.delay = self.delay_for(regid)
        return response


def main() -> None:
    server = XiaomiServer()
    run_cli(server, setup=lambda _: server.cli_info.update(credentials=server.register_app()))


if __name__ == "__main__":
    main()
