"""A test client that signs server-API requests the way a customer's app server does."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from django.test import Client

from apps.tenants.models import App


def sign(
    *, app_key: str, secret: str, nonce: str | None = None, cur_time: int | None = None
) -> dict[str, str]:
    nonce = nonce or uuid.uuid4().hex
    stamp = str(int(time.time()) if cur_time is None else cur_time)
    checksum = hashlib.sha1(f"{secret}{nonce}{stamp}".encode()).hexdigest()
    return {"AppKey": app_key, "Nonce": nonce, "CurTime": stamp, "CheckSum": checksum}


class SignedClient:
    def __init__(self, app: App) -> None:
        self.app = app
        self.client = Client()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        **query: Any,
    ) -> Any:
        signed = sign(app_key=self.app.app_key, secret=self.app.secret)
        signed.update(headers or {})
        data: Any = raw if raw is not None else (b"" if body is None else json.dumps(body))
        call = getattr(self.client, method.lower())
        if method.upper() == "GET":
            return call(path, query, headers=signed)
        return call(path, data, content_type="application/json", headers=signed)

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, **query)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)
