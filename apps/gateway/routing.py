"""WebSocket routes: the gateway at /ws."""

from __future__ import annotations

from django.urls import path

from apps.gateway.connection import gateway_app

# Channels' URLRouter takes any ASGI callable, though Django's path() is typed for views.
websocket_urlpatterns = [path("ws", gateway_app)]  # type: ignore[arg-type]
