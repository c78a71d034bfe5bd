"""GET /api/v1/lbs: where an SDK should connect (WebSocket gateways, and short-link bases).
Unsigned, because an SDK holds only the app key.

Cheap on purpose (one indexed lookup of the app key, nothing else) and cacheable for ``ttl``
seconds: clients keep the answer and come back only when every gateway in it fails.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.schema import ErrorOut
from apps.core.errors import InvalidField, NotFound
from apps.protocol.codec import PROTOCOL_VERSION, SUBPROTOCOLS
from apps.tenants.selectors import app_get_by_key

TTL_SECONDS = 300
APP_KEY_MAX_LENGTH = 64


class LbsOut(serializers.Serializer):  # type: ignore[type-arg]
    gateways = serializers.ListField(
        child=serializers.CharField(), help_text="WebSocket URLs, in order of preference."
    )
    ttl = serializers.IntegerField(help_text="Seconds the answer may be kept.")
    http = serializers.ListField(
        child=serializers.CharField(),
        help_text="Short-link base URLs (POST {base}/api/v1/client/frames), in order of preference.",
    )
    protocol_version = serializers.IntegerField()
    subprotocols = serializers.ListField(
        child=serializers.CharField(), help_text="WebSocket subprotocols the gateways speak."
    )


def gateway_urls() -> list[str]:
    """The configured gateway URLs, read when called so that a settings override takes effect."""
    urls: Any = settings.IMCLOUD["GATEWAY_URLS"]
    if not isinstance(urls, list | tuple) or not all(isinstance(url, str) for url in urls):
        raise TypeError("IMCLOUD['GATEWAY_URLS'] must be a list of strings")
    return list(urls)


HTTP_SCHEMES = {"ws": "http", "wss": "https"}


def _http_base(gateway_url: str) -> str:
    """ws://host:port/ws -> http://host:port (wss -> https): the same server's HTTP side."""
    parts = urlsplit(gateway_url)
    path = parts.path.rstrip("/")
    path = path.removesuffix("/ws")
    return urlunsplit((HTTP_SCHEMES.get(parts.scheme, parts.scheme), parts.netloc, path, "", ""))


def http_urls() -> list[str]:
    """IMCLOUD['HTTP_URLS'], or when empty the gateway URLs' own HTTP bases, read when called."""
    urls: Any = settings.IMCLOUD.get("HTTP_URLS") or []
    if not isinstance(urls, list | tuple) or not all(isinstance(url, str) for url in urls):
        raise TypeError("IMCLOUD['HTTP_URLS'] must be a list of strings")
    if urls:
        return list(urls)
    return list(dict.fromkeys(_http_base(url) for url in gateway_urls()))


class LbsView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        tags=["lbs"],
        operation_id="lbs_get",
        auth=[],
        description=(
            "Unsigned. The gateway addresses for an app key, for SDKs before they log in, and the "
            "short-link bases to fall back on when no WebSocket gets through. One lookup, "
            f"cacheable for `ttl` ({TTL_SECONDS}) seconds."
        ),
        parameters=[OpenApiParameter("appkey", str, required=True, description="The app's AppKey.")],
        responses={
            200: LbsOut,
            400: OpenApiResponse(ErrorOut, description="No appkey"),
            404: OpenApiResponse(ErrorOut, description="No app has this AppKey (`unknown_app`)"),
        },
    )
    def get(self, request: Request) -> Response:
        app_key = request.query_params.get("appkey", "")
        if not app_key or len(app_key) > APP_KEY_MAX_LENGTH:
            raise InvalidField("appkey is required.", field="appkey")
        if app_get_by_key(app_key=app_key) is None:
            raise NotFound("No app has this AppKey.", field="appkey", code="unknown_app")
        response = Response(
            {
                "gateways": gateway_urls(),
                "http": http_urls(),
                "ttl": TTL_SECONDS,
                "protocol_version": PROTOCOL_VERSION,
                "subprotocols": list(SUBPROTOCOLS),
            }
        )
        response["Cache-Control"] = f"public, max-age={TTL_SECONDS}"
        return response
