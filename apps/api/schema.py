"""OpenAPI pieces shared by every endpoint: the signing headers and the error envelope."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ChecksumScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.api.auth.ChecksumAuthentication"
    name = ["AppKey", "Nonce", "CurTime", "CheckSum"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        descriptions = {
            "AppKey": "The app's AppKey.",
            "Nonce": "A random string of at most 128 characters, used once.",
            "CurTime": "Current UTC time in seconds; must be within 5 minutes of server time.",
            "CheckSum": "Lowercase hex SHA1(AppSecret + Nonce + CurTime).",
        }
        return [
            {"type": "apiKey", "in": "header", "name": header, "description": text}
            for header, text in descriptions.items()
        ]


class ErrorOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField(help_text="Stable machine-readable code (docs/rest-api.md).")
    detail = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The field at fault, if any.")
    # A field named like Serializer.errors: declared fields are collected, not class attributes.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    retry_after = serializers.IntegerField(required=False)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    common = {400: "Bad input", 401: "Bad or missing signature", 429: "Rate limited"}
    wanted = {*common, *statuses}
    texts = {404: "Not found in this app", 409: "Conflict", **common}
    return {code: OpenApiResponse(ErrorOut, description=texts.get(code, "")) for code in sorted(wanted)}
